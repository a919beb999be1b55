"""How a client (``metrics watch``, ``control``) connects: address, TLS files, the server's
fingerprint and custom headers, from flags and environment variables.

Each TLS flag has a variable (``--tls-ca`` / ``BOT_CORE_GRPC_TLS_CA``, ``--tls-cert`` /
``BOT_CORE_GRPC_TLS_CERT``, ``--tls-key`` / ``BOT_CORE_GRPC_TLS_KEY``); a flag wins over its
variable. ``NONE``, ``NULL``, ``DEFAULT`` (any case) and the empty string mean "not set", in a
flag or a variable: a shell that exports ``BOT_CORE_GRPC_TLS_CA=NONE`` talks plaintext to a
loopback server without unsetting anything. With no TLS file at all the connection is
plaintext, which is allowed to loopback addresses only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot_core.control.headers import Header, parse_headers
from bot_core.control.sentinels import UNSET_WORDS, is_unset
from bot_core.control.tls import TlsFiles, normalise_fingerprint
from bot_core.errors import UsageError
from bot_core.telemetry.addresses import Address, parse_address

__all__ = ["TLS_ENV", "UNSET_WORDS", "ConnectOptions", "connect_options", "is_unset"]

TLS_ENV = {"ca": "BOT_CORE_GRPC_TLS_CA", "cert": "BOT_CORE_GRPC_TLS_CERT",
           "key": "BOT_CORE_GRPC_TLS_KEY"}


@dataclass(frozen=True)
class ConnectOptions:
    address: Address
    tls: TlsFiles | None
    """None: plaintext (loopback only)."""
    server_fingerprint: str | None = None
    headers: list[Header] = field(default_factory=list)

    @property
    def target(self) -> str:
        return str(self.address)


def _tls_value(flag: str | None, kind: str, environ: Mapping[str, str]) -> tuple[Path | None, str]:
    """(path or None, where it came from)."""
    if flag is not None:
        return (None if is_unset(flag) else Path(flag)), f"--tls-{kind}"
    env_name = TLS_ENV[kind]
    value = environ.get(env_name)
    return (None if is_unset(value) else Path(str(value))), env_name


def connect_options(addr: str, *, tls_ca: str | None = None, tls_cert: str | None = None,
                    tls_key: str | None = None, server_fingerprint: str | None = None,
                    headers: Sequence[str] = (),
                    environ: Mapping[str, str] | None = None) -> ConnectOptions:
    """Check every connection option before anything connects.

    :raises UsageError: naming the flag or variable of the first problem (exit 2).
    """
    import os

    env = os.environ if environ is None else environ
    address = parse_address(addr, "ADDR")
    ca, ca_from = _tls_value(tls_ca, "ca", env)
    cert, cert_from = _tls_value(tls_cert, "cert", env)
    key, key_from = _tls_value(tls_key, "key", env)
    for path, source in ((ca, ca_from), (cert, cert_from), (key, key_from)):
        if path is not None and not path.is_file():
            raise UsageError(f"{source} {path}: no such file")
    if (cert is None) != (key is None):
        given, missing = (cert_from, "--tls-key") if cert is not None else (key_from, "--tls-cert")
        raise UsageError(f"{given}: a client certificate needs its key and the key its "
                         f"certificate: give {missing} (or its BOT_CORE_GRPC_TLS_* variable)")
    if cert is not None and ca is None:
        raise UsageError(f"{cert_from}: mutual TLS needs the CA to pin for the server's "
                         f"certificate: give --tls-ca (or BOT_CORE_GRPC_TLS_CA)")
    fingerprint = None
    if server_fingerprint is not None and not is_unset(server_fingerprint):
        fingerprint = normalise_fingerprint(server_fingerprint)
    tls = TlsFiles(ca, cert, key) if ca is not None else None
    if tls is None:
        if fingerprint is not None:
            raise UsageError("--server-fingerprint: pins a TLS certificate, but no TLS file was "
                             "given (--tls-ca, --tls-cert, --tls-key)")
        if not address.loopback:
            raise UsageError(f"ADDR {addr}: plaintext is allowed to loopback addresses only; "
                             f"give --tls-ca, --tls-cert and --tls-key (or the "
                             f"BOT_CORE_GRPC_TLS_* variables)")
    return ConnectOptions(address, tls, fingerprint, parse_headers(headers, env))
