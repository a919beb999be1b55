"""The gRPC server of a running bot: Telemetry, Control and the standard health service.

:class:`ControlServer` checks its bind before anything listens (mutual TLS, or plaintext on
loopback when allowed: :func:`bot_core.control.tls.check_bind`), serves from a thread pool sized
for ``max_watchers`` streams plus the control calls, and records every call through
:class:`ControlAudit`: the metrics (``bot_core_control_calls_total``), an ``event:control`` on
the stream, and, for Control calls, the journal of each bot concerned (caller identity, role,
request, sanitised metadata, result).

The health service (``grpc.health.v1.Health``) needs no role: it tells a load balancer whether
the server is up, nothing about the bots; it is still behind the same mutual TLS.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent import futures
from typing import TYPE_CHECKING, Any, Protocol

from bot_core.control.rbac import AccessPolicy, CallRecord
from bot_core.control.tls import TlsMaterial, check_bind, server_credentials
from bot_core.errors import UsageError
from bot_core.telemetry.addresses import Address
from bot_core.telemetry.stream import StreamHub, Update

if TYPE_CHECKING:
    from bot_core.control.target import ControlTarget

__all__ = ["CONTROL_METHODS", "CallCounter", "ControlAudit", "ControlServer"]

SERVICES = ("bot_core.v1.Telemetry", "bot_core.v1.Control")
CONTROL_METHODS = frozenset({"ListBots", "ListStrategies", "GetRiskStatus", "PauseStrategy",
                             "ResumeStrategy", "SetTradingState", "ClearReducing", "Promote"})


class CallCounter(Protocol):
    """Where calls are counted (``bot_core_control_calls_total``): the runtime's metrics."""

    def control_call(self, method: str, role: str, code: str) -> None: ...


class ControlAudit:
    """Records every call (see the module docstring); ``calls`` keeps the last ones in memory
    (``keep`` of them) for ``bot-core run``'s status and for tests."""

    def __init__(self, target: ControlTarget | None, *, metrics: CallCounter | None = None,
                 hub: StreamHub | None = None, keep: int = 1000) -> None:
        self.target = target
        self.metrics = metrics
        self.hub = hub
        self.keep = keep
        self.calls: list[CallRecord] = []

    def record(self, call: CallRecord) -> None:
        self.calls.append(call)
        del self.calls[:-self.keep]
        caller = call.caller
        if self.metrics is not None:
            self.metrics.control_call(call.method, caller.role_label, call.code)
        detail: dict[str, Any] = {"method": call.method, "role": caller.role_label,
                                  "result": call.code, "detail": call.detail,
                                  "request": dict(call.request), "metadata": dict(call.metadata)}
        if self.hub is not None and self.hub.events_wanted:
            bot = str(call.request.get("bot", ""))
            self.hub.publish(Update.event("control", bot, "", 0, identity=caller.identity,
                                          **detail))
        if self.target is not None and call.method in CONTROL_METHODS:
            bot = str(call.request.get("bot", ""))
            self.target.journal([bot] if bot else [], call.method, caller.identity, detail)


class ControlServer:
    """The gRPC server (see the module docstring).

    :param address: where to listen (port 0: a free one; :attr:`address` has the real one).
    :param tls: the server's checked TLS files; None: plaintext (loopback, when allowed).
    :param target: the bots the Control service acts on.
    :param hub: where StreamMetrics reads from.
    :raises UsageError: a plaintext bind that is not allowed.
    """

    def __init__(self, address: Address, tls: TlsMaterial | None, *,
                 allow_plaintext_loopback: bool, policy: AccessPolicy, target: ControlTarget,
                 hub: StreamHub, metrics: CallCounter | None = None, stream_buffer: int = 4096,
                 max_watchers: int = 64, what: str = "--grpc-addr") -> None:
        check_bind(address, tls, allow_plaintext_loopback, what)
        self.requested = address
        self.address = address
        self.tls = tls
        self.hub = hub
        self.what = what
        self.audit = ControlAudit(target, metrics=metrics, hub=hub)
        self._policy = policy
        self._target = target
        self._buffer = stream_buffer
        self._max_watchers = max_watchers
        self._server: Any = None
        self._health: Any = None

    def start(self) -> Address:
        """Listen and serve; returns the bound address."""
        import os

        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # no gRPC log lines in the live view
        import grpc
        from grpc_health.v1 import health, health_pb2, health_pb2_grpc

        from bot_core.control.service import ControlService, TelemetryService, generic_handlers

        telemetry = TelemetryService(self.hub, self._policy, self.audit, buffer=self._buffer,
                                     max_watchers=self._max_watchers)
        control = ControlService(self._target, self._policy, self.audit)
        workers = self._max_watchers + 8
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers,
                                                        thread_name_prefix="bot-core-grpc"),
                             handlers=generic_handlers(telemetry, control),
                             maximum_concurrent_rpcs=workers,
                             options=[("grpc.so_reuseport", 0)])
        self._health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        target = str(self.requested)
        try:
            if self.tls is not None:
                port = server.add_secure_port(target, server_credentials(self.tls))
            else:
                port = server.add_insecure_port(target)
        except RuntimeError:  # grpcio >= 1.6x raises where older ones returned 0
            port = 0
        if not port:
            raise UsageError(f"{self.what} {self.requested}: cannot listen there (in use, or "
                             f"not an address of this machine)")
        server.start()
        self._server = server
        self.address = Address(self.requested.host, int(port))
        for name in ("", *SERVICES):
            self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return self.address

    def stop(self, grace_s: float = 1.0) -> None:
        """Say NOT_SERVING, end every stream, stop; waits at most ``grace_s`` for calls."""
        if self._server is None:
            return
        if self._health is not None:
            self._health.enter_graceful_shutdown()
        self.hub.close()
        self._server.stop(grace_s).wait(grace_s + 5)
        self._server = None

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    def info(self) -> Mapping[str, Any]:
        return {"address": str(self.address), "tls": self.tls is not None}
