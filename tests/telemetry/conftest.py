"""Fixtures of the telemetry and control tests: a bot config with its own small universe, a
PKI made in the test, and a real gRPC server on loopback around a real runtime (always torn
down)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

UNIVERSE = """
instruments = ["BTC/USDT", "ETH/USDT"]
[venues.venue_a]
adapter = "paper"
[buckets.majors]
instruments = ["BTC/USDT", "ETH/USDT"]
[strategies.mean_reversion]
plugin = "mean_reversion"
instruments = ["BTC/USDT", "ETH/USDT"]
venues = ["venue_a"]
[strategies.vol_target]
plugin = "vol_target"
instruments = ["BTC/USDT", "ETH/USDT"]
venues = ["venue_a"]
"""


def bot_config(directory: Path, name: str, preset: str, extra: str = "") -> Path:
    """``<directory>/<name>.toml``: a bot under risk preset ``preset`` trading BTC and ETH on
    one paper venue with two strategies (its own universe, whatever the preset carries)."""
    path = directory / f"{name}.toml"
    path.write_text(f'extends = "{preset}"\nname = "{name}"\n{UNIVERSE}\n{extra}\n')
    return path


# -- a PKI made in the test, and a real server on loopback around a real runtime ----------------


ROLES = ("viewer", "operator", "admin")


@dataclass(frozen=True)
class Pki:
    """Certificates of one test PKI, by name: ``ca``, ``server``, the roles, ``nobody`` (same
    CA, no role in the policy), ``expired`` (an admin identity, expired), ``stranger`` (an
    admin identity from another CA)."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    def cert(self, name: str) -> Path:
        return self.directory / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.directory / f"{name}.key"

    def client_args(self, name: str) -> list[str]:
        return ["--tls-ca", str(self.ca), "--tls-cert", str(self.cert(name)),
                "--tls-key", str(self.key(name))]

    def policy(self) -> dict[str, str]:
        return {f"spiffe://bot-core/{role}": role for role in ROLES}


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    from bot_core.control.certs import issue_certificate, make_ca, write_issued

    directory = tmp_path_factory.mktemp("pki")
    ca = make_ca(days=30)
    (directory / "ca.crt").write_bytes(ca.cert_pem())
    write_issued(directory, "server", issue_certificate(
        ca, "bot-core server", server=True, hosts=["localhost", "127.0.0.1", "::1"]))
    for role in (*ROLES, "nobody"):
        write_issued(directory, role, issue_certificate(
            ca, role, server=False, uris=[f"spiffe://bot-core/{role}"]))
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    write_issued(directory, "expired", issue_certificate(
        ca, "admin", server=False, uris=["spiffe://bot-core/admin"], days=10,
        not_before=long_ago))
    other = make_ca("another CA", days=30)
    write_issued(directory, "stranger", issue_certificate(
        other, "admin", server=False, uris=["spiffe://bot-core/admin"]))
    return Pki(directory)


@dataclass
class Served:
    """A runtime (built, started, not running: it is driven by the test) and its server."""

    scheduler: Any
    server: Any
    metrics: Any
    publisher: Any

    @property
    def addr(self) -> str:
        return str(self.server.address)

    @property
    def risk(self) -> Any:
        return self.scheduler.sleeves[0].pipeline.risk

    def journal_records(self, record_type: str) -> list[dict[str, Any]]:
        from bot_core.journal.home import journal_directory
        from bot_core.journal.reader import read_records

        bot = self.scheduler.sleeves[0].name
        return [line.record for line in read_records([journal_directory(bot)])
                if line.record is not None and line.record.get("type") == record_type]


def build_runtime_for(directory: Path, configs: list[Path], *, cycles: int = 30,
                      record_runs: bool = True) -> Any:
    import bot_core
    from bot_core.runtime.clock import SimulatedClock
    from bot_core.runtime.events import ListSink
    from bot_core.runtime.session import build_runtime, plan_run

    host = bot_core.load_plugins()
    plan = plan_run(host, configs=configs)
    return build_runtime(host, plan, clock=SimulatedClock(), sink=ListSink(),
                         max_cycles=cycles, record_runs=record_runs)


def serve(scheduler: Any, *, tls: Any, policy: dict[str, str], plaintext: bool = False,
          plaintext_role: str | None = "viewer", stream_buffer: int = 4096,
          process: str = "inline") -> Served:
    """``process``: ``inline`` (the server's threads in this process) or ``relay`` (a relay
    process of its own, as ``bot-core run`` serves by default)."""
    from bot_core.control.rbac import AccessPolicy
    from bot_core.control.relay import RelayServer
    from bot_core.control.runtime_target import RuntimeControl
    from bot_core.control.server import ControlServer
    from bot_core.telemetry.addresses import Address
    from bot_core.telemetry.metrics import RuntimeMetrics, SnapshotPublisher
    from bot_core.telemetry.stream import StreamHub

    hub = StreamHub(capacity=stream_buffer)
    metrics = RuntimeMetrics(hub=hub, process_metrics=False)
    host = scheduler.sleeves[0].pipeline.host
    host.register_observer(metrics, name="test-metrics")
    metrics.track_scheduler(scheduler)
    metrics.refresh(force=True)  # the runtime is not running: the gauges read its state now
    kind = RelayServer if process == "relay" else ControlServer
    server = kind(Address("127.0.0.1", 0), tls, allow_plaintext_loopback=plaintext,
                           policy=AccessPolicy.of(policy, plaintext_role),
                           target=RuntimeControl(scheduler, metrics=metrics), hub=hub,
                           metrics=metrics, stream_buffer=stream_buffer)
    server.start()
    publisher = SnapshotPublisher(metrics.registry, hub, interval_s=0.2).start()
    return Served(scheduler, server, metrics, publisher)


def shut(served: Served) -> None:
    served.publisher.close()
    served.server.stop(grace_s=0.5)
    served.scheduler.sleeves[0].pipeline.host.unregister_observer(served.metrics)
    for done in served.scheduler.cleanup:
        done()


@pytest.fixture(params=["inline", "relay"])
def mtls_server(request: pytest.FixtureRequest, tmp_path: Path, pki: Pki) -> Iterator[Served]:
    """The mutual-TLS server, in this process and in a relay process (every test of the
    mTLS/RBAC matrix runs against both)."""
    from bot_core.control.tls import TlsFiles, read_server_material

    scheduler = build_runtime_for(tmp_path, [bot_config(tmp_path, "alpha", "balanced")])
    material = read_server_material(TlsFiles(pki.ca, pki.cert("server"), pki.key("server")),
                                    "test")
    served = serve(scheduler, tls=material, policy=pki.policy(), process=request.param)
    try:
        yield served
    finally:
        shut(served)


@pytest.fixture
def plaintext_server(tmp_path: Path) -> Iterator[Served]:
    scheduler = build_runtime_for(tmp_path, [bot_config(tmp_path, "alpha", "balanced")])
    served = serve(scheduler, tls=None, policy={}, plaintext=True)
    try:
        yield served
    finally:
        shut(served)


def drive(scheduler: Any) -> None:
    """Run the built runtime to its end (its cycles), in this thread."""
    asyncio.run(scheduler.run())
