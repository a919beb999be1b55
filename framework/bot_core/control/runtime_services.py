"""The servers ``bot-core run`` starts next to its bots: ``/metrics`` and the gRPC server.

Order, so that a mistake costs nothing: :func:`RuntimeServices.open` reads and checks the
``[telemetry]`` settings, the TLS files and the plaintext rule, and binds both servers before
the runtime is built (a port in use or a refused bind is one clear line, and no journal or run
record has been written yet). :meth:`RuntimeServices.attach` then points them at the built
scheduler: the metrics observe its bots, the Control service acts on them. :meth:`close` stops
everything (streams end, ports are freed).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from bot_core.control.runtime_target import RuntimeControl

if TYPE_CHECKING:
    from bot_core.config.resolve import ResolvedConfig
    from bot_core.control.relay import RelayServer
    from bot_core.control.server import ControlServer
    from bot_core.control.settings import TelemetrySettings
    from bot_core.runtime.scheduler import Scheduler
    from bot_core.telemetry.http import MetricsServer
    from bot_core.telemetry.metrics import RuntimeMetrics, SnapshotPublisher

__all__ = ["RuntimeServices"]


class RuntimeServices:
    """The telemetry and control servers of one run."""

    def __init__(self, settings: TelemetrySettings, metrics: RuntimeMetrics,
                 target: RuntimeControl) -> None:
        self.settings = settings
        self.metrics = metrics
        self.target = target
        self.metrics_server: MetricsServer | None = None
        self.control_server: ControlServer | RelayServer | None = None
        self.snapshots: SnapshotPublisher | None = None
        self._host: Any = None

    @classmethod
    def open(cls, configs: Sequence[ResolvedConfig], origins: Sequence[str], *,
             metrics_addr: str | None = None,
             grpc_addr: str | None = None) -> RuntimeServices | None:
        """Check the settings and bind the servers the configs and flags ask for (None when
        they ask for none).

        :raises UsageError: a bad or refused address, plaintext where it is not allowed.
        :raises ConfigError: a missing or invalid TLS file.
        """
        from bot_core.control.settings import telemetry_settings

        settings = telemetry_settings(configs, origins, metrics_addr=metrics_addr,
                                      grpc_addr=grpc_addr)
        if settings.metrics is None and settings.grpc is None:
            return None
        from bot_core.telemetry.metrics import RuntimeMetrics
        from bot_core.telemetry.stream import StreamHub

        section = settings.config
        hub = StreamHub(capacity=section.stream_buffer)
        metrics = RuntimeMetrics(hub=hub)
        services = cls(settings, metrics, RuntimeControl(metrics=metrics))
        try:
            if settings.grpc is not None:
                services._open_grpc(hub)
            if settings.metrics is not None:
                from bot_core.telemetry.http import start_metrics_server

                what = "--metrics-addr" if metrics_addr is not None else \
                    f"{settings.source}: telemetry.metrics_addr"
                services.metrics_server = start_metrics_server(settings.metrics,
                                                               metrics.registry, what=what)
        except BaseException:
            services.close()
            raise
        return services

    def _open_grpc(self, hub: Any) -> None:
        from bot_core.control.relay import RelayServer
        from bot_core.control.server import ControlServer
        from bot_core.control.tls import check_bind, read_server_material
        from bot_core.telemetry.metrics import SnapshotPublisher

        settings, section = self.settings, self.settings.config
        assert settings.grpc is not None
        what = "--grpc-addr"
        material = read_server_material(settings.tls, settings.source) \
            if settings.tls is not None else None
        check_bind(settings.grpc, material, section.allow_plaintext_loopback, what)
        # the relay inherits its socket by descriptor (POSIX); elsewhere the server is inline
        relay = section.grpc_process == "relay" and os.name == "posix"
        options: dict[str, Any] = dict(
            allow_plaintext_loopback=section.allow_plaintext_loopback, policy=settings.policy,
            target=self.target, hub=hub, metrics=self.metrics,
            stream_buffer=section.stream_buffer, max_watchers=section.max_watchers, what=what)
        server = RelayServer(settings.grpc, material, cpus=section.relay_cpus, **options) \
            if relay else ControlServer(settings.grpc, material, **options)
        server.start()
        self.control_server = server
        self.snapshots = SnapshotPublisher(self.metrics.registry, hub,
                                           interval_s=section.snapshot_interval_s).start()

    def attach(self, scheduler: Scheduler) -> None:
        """Observe and control ``scheduler``'s bots from now on."""
        metrics = self.metrics
        self._host = scheduler.sleeves[0].pipeline.host if scheduler.sleeves else None
        if self._host is not None:
            self._host.register_observer(metrics, name="bot-core-metrics")
        metrics.track_scheduler(scheduler)
        journals = scheduler.journals
        if journals is not None:
            for bot, observer in journals.observers.items():
                metrics.watch_journal(bot, observer)
        self.target.attach(scheduler)
        metrics.refresh(force=True)

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self.target.bind_loop(loop)

    def describe(self) -> dict[str, Any]:
        """Where the servers listen (``bot-core run`` prints it)."""
        out: dict[str, Any] = {}
        if self.metrics_server is not None:
            out["metrics_url"] = self.metrics_server.url
        if self.control_server is not None:
            out["grpc_addr"] = str(self.control_server.address)
            out["grpc_tls"] = "mtls" if self.control_server.tls is not None else "plaintext"
            relay = getattr(self.control_server, "pid", None)
            if relay is not None:
                out["grpc_relay_pid"] = relay
        return out

    def announce(self, stream: TextIO | None = None) -> None:
        info = self.describe()
        parts = []
        if "metrics_url" in info:
            parts.append(f"metrics: {info['metrics_url']}")
        if "grpc_addr" in info:
            served = info["grpc_tls"] + (f", relay pid {info['grpc_relay_pid']}"
                                         if "grpc_relay_pid" in info else "")
            parts.append(f"gRPC: {info['grpc_addr']} ({served})")
        (stream or sys.stderr).write(" · ".join(parts) + "\n")

    def close(self) -> None:
        """Stop the gRPC server (streams end), the snapshots and ``/metrics``; unregister."""
        if self.control_server is not None:
            self.control_server.stop()
            self.control_server = None
        if self.snapshots is not None:
            self.snapshots.close()
            self.snapshots = None
        if self.metrics_server is not None:
            self.metrics_server.close()
            self.metrics_server = None
        if self._host is not None:
            self._host.unregister_observer(self.metrics)
            self._host = None
