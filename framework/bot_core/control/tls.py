"""Mutual TLS for the gRPC server and its clients.

Server: it presents its certificate and requires a client certificate signed by the CA pinned in
``[telemetry.tls]``; plaintext is allowed only on a loopback address and only with
``allow_plaintext_loopback = true`` (:func:`check_bind`), any other plaintext bind is refused at
start-up with one line.

Client: it pins the CA (``--tls-ca``) and, optionally, the SHA-256 fingerprint of the server's
certificate (``--server-fingerprint``). gRPC reports a refused handshake only as UNAVAILABLE
("Socket closed"), so before each connection the client makes one TLS handshake of its own
(:func:`preflight`) with the same files: it checks the fingerprint, and when the server hangs up
right after the handshake it names the likely cause from the client certificate (none given,
expired, not yet valid, issued by another CA).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot_core.errors import ConfigError, UsageError
from bot_core.telemetry.addresses import Address

if TYPE_CHECKING:
    import grpc

__all__ = [
    "HandshakeRefused",
    "TlsFiles",
    "TlsMaterial",
    "check_bind",
    "fingerprint",
    "load_certificate",
    "normalise_fingerprint",
    "preflight",
    "server_credentials",
]

_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
"""The HTTP/2 client preface and an empty SETTINGS frame: a gRPC server that accepted our
certificate answers with its own SETTINGS."""


class HandshakeRefused(Exception):
    """The TLS handshake with the server failed; the message says why, for a person."""


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the PEM files (a server's, or a client's)."""

    ca: Path | None
    cert: Path | None
    key: Path | None


@dataclass(frozen=True)
class TlsMaterial:
    """The server's TLS files, read and checked."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    files: TlsFiles


def _read(path: Path, field: str, source: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{field}: {path}: no such file", source=source) from None
    except OSError as exc:
        raise ConfigError(f"{field}: {path}: cannot read it: {exc.strerror or exc}",
                          source=source) from None


def load_certificate(pem: bytes, where: str) -> Any:
    """The first certificate of a PEM file; :class:`ValueError` naming ``where``."""
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise ValueError(f"{where}: not a PEM certificate") from None


def _load_key(pem: bytes, where: str) -> Any:
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: not an unencrypted PEM private key ({exc})") from None


def read_server_material(files: TlsFiles, source: str, *, now: dt.datetime | None = None
                         ) -> TlsMaterial:
    """Read and check the server's files: each present and PEM, the key matching the
    certificate, the certificates valid now. Every problem is a ConfigError naming the field."""
    from cryptography.hazmat.primitives import serialization

    missing = [name for name, path in (("ca_file", files.ca), ("cert_file", files.cert),
                                       ("key_file", files.key)) if path is None]
    if missing:
        raise ConfigError(f"telemetry.tls: {', '.join(missing)} not set: mutual TLS needs the "
                          f"CA that signs the clients, the server's certificate and its key",
                          source=source)
    assert files.ca is not None and files.cert is not None and files.key is not None
    ca_pem = _read(files.ca, "telemetry.tls.ca_file", source)
    cert_pem = _read(files.cert, "telemetry.tls.cert_file", source)
    key_pem = _read(files.key, "telemetry.tls.key_file", source)
    moment = now or dt.datetime.now(dt.UTC)
    try:
        ca = load_certificate(ca_pem, f"telemetry.tls.ca_file: {files.ca}")
        cert = load_certificate(cert_pem, f"telemetry.tls.cert_file: {files.cert}")
        key = _load_key(key_pem, f"telemetry.tls.key_file: {files.key}")
    except ValueError as exc:
        raise ConfigError(str(exc), source=source) from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if key.public_key().public_bytes(encoding, public) != \
            cert.public_key().public_bytes(encoding, public):
        raise ConfigError(f"telemetry.tls.key_file: {files.key} is not the key of "
                          f"{files.cert}", source=source)
    for field, path, certificate in (("ca_file", files.ca, ca), ("cert_file", files.cert, cert)):
        if certificate.not_valid_after_utc <= moment:
            raise ConfigError(f"telemetry.tls.{field}: {path} expired on "
                              f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
                              source=source)
        if certificate.not_valid_before_utc > moment:
            raise ConfigError(f"telemetry.tls.{field}: {path} is not valid before "
                              f"{certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
                              source=source)
    return TlsMaterial(ca_pem, cert_pem, key_pem, files)


def check_bind(address: Address, tls: TlsMaterial | None, allow_plaintext_loopback: bool,
               what: str = "--grpc-addr") -> None:
    """Refuse a plaintext server anywhere but loopback, and on loopback unless allowed."""
    if tls is not None:
        return
    if not address.loopback:
        raise UsageError(f"{what} {address}: plaintext gRPC is refused on a non-loopback "
                         f"address; configure mutual TLS in [telemetry.tls] (bot-core certs dev "
                         f"makes development certificates)")
    if not allow_plaintext_loopback:
        raise UsageError(f"{what} {address}: no [telemetry.tls] configured; plaintext on "
                         f"loopback needs telemetry.allow_plaintext_loopback = true")


def server_credentials(material: TlsMaterial) -> grpc.ServerCredentials:
    import grpc

    return grpc.ssl_server_credentials([(material.key_pem, material.cert_pem)],
                                       root_certificates=material.ca_pem,
                                       require_client_auth=True)


# -- the client side ----------------------------------------------------------------------------


def fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate, lower-case hex without separators."""
    return hashlib.sha256(der).hexdigest()


def normalise_fingerprint(text: str, what: str = "--server-fingerprint") -> str:
    """``sha256:AB:CD...``, ``AB:CD:...`` or ``abcd...`` -> 64 lower-case hex digits."""
    raw = text.strip().lower()
    raw = raw.removeprefix("sha256:").removeprefix("sha256/").replace(":", "")
    if len(raw) != 64 or any(c not in "0123456789abcdef" for c in raw):
        raise UsageError(f"{what} {text}: expected the certificate's SHA-256 as 64 hex digits "
                         f"(colons allowed)")
    return raw


def _client_certificate_cause(files: TlsFiles, ca_pem: bytes | None) -> str:
    """Why a server may have refused our certificate, from what we can see locally."""
    if files.cert is None:
        return ("the server requires a client certificate and none was given (--tls-cert and "
                "--tls-key, or BOT_CORE_GRPC_TLS_CERT and BOT_CORE_GRPC_TLS_KEY)")
    try:
        cert = load_certificate(files.cert.read_bytes(), str(files.cert))
    except (OSError, ValueError):
        return f"the server refused the client certificate {files.cert}"
    now = dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc <= now:
        return (f"the client certificate {files.cert} expired on "
                f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    if cert.not_valid_before_utc > now:
        return (f"the client certificate {files.cert} is not valid before "
                f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    if ca_pem is not None:
        try:
            ca = load_certificate(ca_pem, "ca")
        except ValueError:
            ca = None
        if ca is not None and not _issued_by(cert, ca):
            return (f"the client certificate {files.cert} is not signed by the server's CA "
                    f"(issued by {cert.issuer.rfc4514_string()}; the pinned CA is "
                    f"{ca.subject.rfc4514_string()})")
    return (f"the server refused the client certificate {files.cert} (not signed by the CA it "
            f"pins, or revoked)")


def _issued_by(cert: Any, ca: Any) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except Exception:  # wrong issuer name, bad signature, unsupported key type
        return False
    return True


def preflight(address: Address, files: TlsFiles | None, *, server_fingerprint: str | None,
              timeout_s: float = 5.0, server_name: str | None = None) -> str | None:
    """One handshake of our own before gRPC connects.

    :param files: the client's TLS files (None: plaintext).
    :returns: the server certificate's fingerprint (None over plaintext).
    :raises HandshakeRefused: the handshake failed, or the fingerprint does not match; the
        message names the cause.
    :raises OSError: the server could not be reached at all (the caller retries).
    """
    host = address.host
    with socket.create_connection((host, address.port), timeout=timeout_s) as raw:
        if files is None:
            raw.sendall(_H2_PREFACE)
            answer = _recv(raw)
            if answer[3:4] != b"\x04":  # not HTTP/2 SETTINGS: a TLS alert, or a hang-up
                raise HandshakeRefused("the server expects TLS; give --tls-ca, --tls-cert and "
                                       "--tls-key (or the BOT_CORE_GRPC_TLS_* variables)")
            return None
        context = ssl.create_default_context(cafile=str(files.ca) if files.ca else None)
        context.set_alpn_protocols(["h2"])
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if files.cert is not None:
            try:
                context.load_cert_chain(str(files.cert), str(files.key) if files.key else None)
            except (ssl.SSLError, OSError) as exc:
                raise HandshakeRefused(f"cannot use the client certificate {files.cert} with "
                                       f"the key {files.key}: {exc}") from None
        try:
            with context.wrap_socket(raw, server_hostname=server_name or host) as tls:
                der = tls.getpeercert(binary_form=True) or b""
                got = fingerprint(der)
                if server_fingerprint is not None and got != server_fingerprint:
                    raise HandshakeRefused(
                        f"the server's certificate has SHA-256 {_colons(got)}, not the pinned "
                        f"{_colons(server_fingerprint)}")
                tls.sendall(_H2_PREFACE)
                answer = _recv(tls)
        except ssl.SSLCertVerificationError as exc:
            raise HandshakeRefused(f"the server's certificate does not verify against the "
                                   f"pinned CA {files.ca}: {exc.verify_message}") from None
        except ssl.SSLError as exc:
            if "WRONG_VERSION_NUMBER" in str(exc) or "RECORD_LAYER" in str(exc):
                raise HandshakeRefused("the server does not speak TLS (a plaintext server: "
                                       "leave out --tls-ca, --tls-cert and --tls-key)") from None
            raise HandshakeRefused(_client_certificate_cause(files, _ca_pem(files)) +
                                   f" ({exc.reason or exc})") from None
        except (ConnectionResetError, BrokenPipeError):
            answer = b""
        if not answer:
            raise HandshakeRefused(_client_certificate_cause(files, _ca_pem(files)))
        return got


def _ca_pem(files: TlsFiles) -> bytes | None:
    try:
        return files.ca.read_bytes() if files.ca is not None else None
    except OSError:
        return None


def _recv(sock: socket.socket | ssl.SSLSocket) -> bytes:
    try:
        return sock.recv(64)
    except (ConnectionResetError, BrokenPipeError):
        return b""
    except ssl.SSLError:
        return b""


def _colons(hex_digest: str) -> str:
    return ":".join(hex_digest[i:i + 2].upper() for i in range(0, len(hex_digest), 2))


def pem_fingerprint(pem: bytes) -> str:
    """Fingerprint of the first certificate in ``pem``."""
    from cryptography.hazmat.primitives import serialization

    return fingerprint(load_certificate(pem, "certificate").public_bytes(
        serialization.Encoding.DER))

