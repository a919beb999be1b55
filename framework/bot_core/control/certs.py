"""Certificates for the gRPC server's mutual TLS: a development CA, the server's certificate and
one client certificate per role (``bot-core certs dev``), made with ``cryptography``.

Keys are ECDSA P-256. Key files are created owner-only (0600) and never overwritten: every
target is checked before the first byte is written. A client's identity is its SAN URI
``spiffe://bot-core/<role>`` (and its CN, the role's name); the server's certificate names
``localhost``, ``127.0.0.1`` and ``::1`` plus any ``hosts`` given. Production certificates come
from the operator's own CA (docs/security.md, "Certificate rotation"); these are for a desk.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot_core.errors import UsageError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "ROLES",
    "DevCertificates",
    "Issued",
    "client_identity",
    "generate_dev_certificates",
    "issue_certificate",
    "make_ca",
    "write_issued",
]

ROLES = ("viewer", "operator", "admin")
IDENTITY_PREFIX = "spiffe://bot-core/"
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")


def client_identity(role: str) -> str:
    """The SAN URI of the development client certificate of ``role``."""
    return f"{IDENTITY_PREFIX}{role}"


@dataclass(frozen=True)
class Issued:
    """A key and its certificate."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def cert_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def _validity(days: float, not_before: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    start = not_before or (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    return start, start + dt.timedelta(days=days)


def make_ca(common_name: str = "bot-core dev CA", *, days: float = 365,
            not_before: dt.datetime | None = None) -> Issued:
    """A self-signed CA that may sign leaf certificates only (path length 0)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start, end = _validity(days, not_before)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return Issued(key, cert)


def issue_certificate(ca: Issued, common_name: str, *, server: bool, uris: Sequence[str] = (),
                      hosts: Sequence[str] = (), days: float = 30,
                      not_before: dt.datetime | None = None) -> Issued:
    """A leaf certificate signed by ``ca``: a server's (``hosts`` as DNS or IP SANs) or a
    client's (``uris`` as SAN URIs, the identity RBAC maps to a role)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(u) for u in uris]
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    start, end = _validity(days, not_before)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
               .issuer_name(ca.cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca.key.public_key()), critical=False))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))


def _write(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the start (a key is never readable by others, not
    even for a moment); never overwrite."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have taken bits away; never added any
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def write_issued(directory: Path, stem: str, issued: Issued) -> tuple[Path, Path]:
    """``DIR/<stem>.crt`` (0644) and ``DIR/<stem>.key`` (0600); returns (cert, key)."""
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    _write(key_path, issued.key_pem(), 0o600)
    _write(cert_path, issued.cert_pem(), 0o644)
    return cert_path, key_path


@dataclass(frozen=True)
class DevCertificates:
    """What ``bot-core certs dev`` wrote."""

    directory: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    clients: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    """role -> (certificate, key)."""
    config: Path | None = None
    """``telemetry.toml``, the config fragment."""
    not_after: dt.datetime | None = None


def _targets(directory: Path, roles: Sequence[str]) -> list[Path]:
    stems = ["ca", "server", *roles]
    return [directory / f"{s}.{ext}" for s in stems for ext in ("crt", "key") if
            not (s == "ca" and ext == "key")] + [directory / "telemetry.toml"]


def generate_dev_certificates(directory: Path, roles: Sequence[str] = ROLES, *,
                              days: float = 30, hosts: Sequence[str] = DEFAULT_HOSTS,
                              grpc_addr: str = "127.0.0.1:50051") -> DevCertificates:
    """A development CA, a server certificate and one client certificate per role in
    ``directory``, plus ``telemetry.toml`` enabling the gRPC server with mTLS and an RBAC
    policy for exactly these certificates.

    The CA's key is not kept (nothing more can be signed with it: rerun to rotate). Every file
    is checked before the first is written.

    :raises UsageError: an unknown role, a bad validity, or a file that already exists.
    """
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        what = f"unknown role {', '.join(unknown)}; " if unknown else ""
        raise UsageError(f"--roles {','.join(roles)}: {what}roles are {', '.join(ROLES)} "
                         f"(comma-separated)")
    if len(set(roles)) != len(roles):
        raise UsageError(f"--roles {','.join(roles)}: a role is listed twice")
    if not (0 < days <= 3650):
        raise UsageError(f"--days {days:g}: expected a number of days from 1 to 3650")
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory}: exists and is not a directory")
    existing = [str(p) for p in _targets(directory, roles) if p.exists() or p.is_symlink()]
    if existing:
        raise UsageError(f"{existing[0]}: already exists; choose an empty directory (nothing "
                         f"was written)")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca = make_ca(days=days)
    ca_path = directory / "ca.crt"
    _write(ca_path, ca.cert_pem(), 0o644)
    server = issue_certificate(ca, "bot-core server", server=True, hosts=hosts, days=days)
    server_cert, server_key = write_issued(directory, "server", server)
    clients = {}
    for role in roles:
        issued = issue_certificate(ca, role, server=False, uris=[client_identity(role)],
                                   days=days)
        clients[role] = write_issued(directory, role, issued)
    fragment = telemetry_fragment(directory.resolve(), roles, grpc_addr=grpc_addr)
    config = directory / "telemetry.toml"
    _write(config, fragment.encode(), 0o644)
    return DevCertificates(directory, ca_path, server_cert, server_key, clients, config,
                           server.cert.not_valid_after_utc)


def telemetry_fragment(directory: Path, roles: Sequence[str], *,
                       grpc_addr: str = "127.0.0.1:50051") -> str:
    """The ``[telemetry]`` section for the certificates in ``directory``."""
    rbac = "".join(f'"{client_identity(role)}" = "{role}"\n' for role in roles)
    return (
        "# Written by `bot-core certs dev`: the gRPC server with mutual TLS and an RBAC policy\n"
        "# for exactly the certificates next to this file. Append it to a config that extends\n"
        "# a preset (docs/security.md).\n"
        "[telemetry]\n"
        f'grpc_addr = "{grpc_addr}"\n'
        'metrics_addr = "127.0.0.1:9464"\n'
        "allow_plaintext_loopback = false\n\n"
        "[telemetry.tls]\n"
        f'ca_file = "{directory / "ca.crt"}"\n'
        f'cert_file = "{directory / "server.crt"}"\n'
        f'key_file = "{directory / "server.key"}"\n\n'
        "[telemetry.rbac]\n"
        f"{rbac}"
    )
