"""The plain HTTP ``/metrics`` endpoint Prometheus scrapes (``bot-core run --metrics-addr``).

Loopback by default; it serves one runtime's own registry. It is read-only and carries no
secret, which is why it is the one remote interface without TLS (put it behind the scraper's
network policy, or bind it to loopback and scrape through a local agent: docs/telemetry.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot_core.errors import UsageError
from bot_core.telemetry.addresses import Address, parse_address

if TYPE_CHECKING:
    import threading

    from prometheus_client import CollectorRegistry

__all__ = ["MetricsServer", "start_metrics_server"]


@dataclass
class MetricsServer:
    """A running ``/metrics`` server; :meth:`close` stops it and frees the port."""

    address: Address
    """Where it listens (the real port when 0 was asked for)."""
    _server: Any
    _thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.address}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_metrics_server(addr: str | Address, registry: CollectorRegistry, *,
                         what: str = "--metrics-addr") -> MetricsServer:
    """Serve ``registry`` at ``http://ADDR/metrics`` from a daemon thread.

    :param addr: ``HOST:PORT`` (``PORT`` or ``:PORT`` alone: loopback; port 0: any free port).
    :raises UsageError: a malformed address, or one that cannot be bound (in use, not local).
    """
    from prometheus_client import start_http_server

    address = addr if isinstance(addr, Address) else parse_address(addr, what)
    try:
        server, thread = start_http_server(address.port, address.host, registry=registry)
    except OSError as exc:
        raise UsageError(f"{what} {address}: cannot listen there: {exc.strerror or exc}") from None
    port = server.server_address[1]
    return MetricsServer(Address(address.host, int(port)), server, thread)
