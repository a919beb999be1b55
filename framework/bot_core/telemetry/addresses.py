"""``HOST:PORT`` addresses of the servers a running bot opens, and what counts as loopback.

Both the Prometheus endpoint and the gRPC server bind to loopback unless told otherwise; the
gRPC server refuses plaintext anywhere else (:mod:`bot_core.control.tls`). A host name other
than ``localhost`` is never taken for loopback: it could resolve anywhere.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from bot_core.errors import UsageError

__all__ = ["Address", "is_loopback", "parse_address"]

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Address:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` and ``::1`` (brackets allowed); nothing else."""
    bare = host.strip().strip("[]")
    if bare.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def parse_address(text: str, what: str, *, default_host: str = LOOPBACK) -> Address:
    """``HOST:PORT``, ``[V6]:PORT``, ``:PORT`` or ``PORT`` (host: loopback) -> :class:`Address`.

    Port 0 asks the system for a free port (the server reports the one it got).

    :param what: the option or field the text came from, for the error.
    :raises UsageError: naming ``what`` and the text.
    """
    raw = text.strip()
    host, sep, port_text = raw.rpartition(":")
    if not sep:
        host, port_text = "", raw
    if host.startswith("["):
        if not host.endswith("]"):
            raise UsageError(f"{what} {text}: expected HOST:PORT ([ADDRESS]:PORT for IPv6)")
        host = host[1:-1]
    elif ":" in host:
        raise UsageError(f"{what} {text}: an IPv6 address needs brackets, e.g. [::1]:50051")
    host = host or default_host
    if not port_text.isdigit() or int(port_text) > 65535:
        raise UsageError(f"{what} {text}: expected HOST:PORT with a port from 0 to 65535")
    if any(c.isspace() for c in host) or "/" in host:
        raise UsageError(f"{what} {text}: {host!r} is not a host name or address")
    return Address(host, int(port_text))
