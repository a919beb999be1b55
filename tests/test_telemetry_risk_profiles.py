"""Telemetry per risk profile: three bots under the conservative, balanced and aggressive
presets in one real runtime (simulated time, the shipped demo data through the replay source),
with the metrics endpoint and the gRPC server on loopback. Every series carries its bot and
profile; a watcher filtering on one profile sees only that profile's samples and events; the
risk status reports each bot's own limits."""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

import bot_core
from bot_core.config.presets import preset_path
from bot_core.control.protos import bot_core_pb2 as pb
from bot_core.control.rbac import AccessPolicy
from bot_core.control.runtime_target import RuntimeControl
from bot_core.control.server import ControlServer
from bot_core.runtime.clock import SimulatedClock
from bot_core.runtime.events import ListSink
from bot_core.runtime.session import build_runtime, plan_run
from bot_core.telemetry.addresses import Address
from bot_core.telemetry.http import start_metrics_server
from bot_core.telemetry.metrics import RuntimeMetrics, SnapshotPublisher
from bot_core.telemetry.stream import StreamHub

PROFILES = ("conservative", "balanced", "aggressive")
UNIVERSE = """
instruments = ["BTC/USDT", "ETH/USDT"]
[venues.venue_a]
adapter = "paper"
[strategies.mean_reversion]
plugin = "mean_reversion"
instruments = ["BTC/USDT", "ETH/USDT"]
venues = ["venue_a"]
[strategies.vol_target]
plugin = "vol_target"
instruments = ["BTC/USDT", "ETH/USDT"]
venues = ["venue_a"]
"""


def _drawdown_limit(profile: str) -> float:
    import tomllib

    with open(preset_path(profile), "rb") as handle:
        return float(tomllib.load(handle)["risk"]["drawdown_liquidation_pct"])


@pytest.fixture
def three_profiles(tmp_path: Path) -> Any:
    configs = []
    for profile in PROFILES:
        path = tmp_path / f"{profile}.toml"
        path.write_text(f'extends = "{profile}"\nname = "bot-{profile}"\n{UNIVERSE}')
        configs.append(path)
    host = bot_core.load_plugins()
    scheduler = build_runtime(host, plan_run(host, configs=configs), clock=SimulatedClock(),
                              sink=ListSink(), max_cycles=600, record_runs=False)
    hub = StreamHub()
    metrics = RuntimeMetrics(hub=hub)
    host.register_observer(metrics, name="metrics")
    metrics.track_scheduler(scheduler)
    server = ControlServer(Address("127.0.0.1", 0), None, allow_plaintext_loopback=True,
                           policy=AccessPolicy.of({}, "viewer"),
                           target=RuntimeControl(scheduler, metrics=metrics), hub=hub,
                           metrics=metrics)
    server.start()
    publisher = SnapshotPublisher(metrics.registry, hub, interval_s=0.1).start()
    http = start_metrics_server("127.0.0.1:0", metrics.registry)
    try:
        yield scheduler, server, http, hub
    finally:
        publisher.close()
        server.stop(grace_s=0.5)
        http.close()
        host.unregister_observer(metrics)


def _watch(addr: str, request: pb.StreamMetricsRequest, out: list[Any],
           ready: threading.Event) -> None:
    with grpc.insecure_channel(addr) as channel:
        call = channel.unary_stream("/bot_core.v1.Telemetry/StreamMetrics",
                                    request_serializer=pb.StreamMetricsRequest.SerializeToString,
                                    response_deserializer=pb.MetricsBatch.FromString)
        stream = call(request, timeout=120)
        ready.set()
        try:
            for batch in stream:
                out.extend(batch.updates)
        except grpc.RpcError as exc:  # the server ends the stream when it stops
            assert exc.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE,
                                  grpc.StatusCode.DEADLINE_EXCEEDED)


def test_every_series_and_update_is_labelled_with_its_bot_and_risk_profile(
        three_profiles: Any) -> None:
    scheduler, server, http, hub = three_profiles
    aggressive: list[Any] = []
    everything: list[Any] = []
    threads = []
    for request, out in ((pb.StreamMetricsRequest(profiles=["aggressive"]), aggressive),
                         (pb.StreamMetricsRequest(), everything)):
        ready = threading.Event()
        thread = threading.Thread(target=_watch, args=(str(server.address), request, out, ready))
        thread.start()
        ready.wait(10)
        threads.append(thread)
    deadline = 100
    while hub.watchers < 2 and deadline:
        threading.Event().wait(0.05)
        deadline -= 1
    asyncio.run(scheduler.run())
    threading.Event().wait(0.5)  # a last snapshot after the run
    with urllib.request.urlopen(http.url, timeout=10) as response:
        scraped = response.read().decode()
    server.stop(grace_s=0.5)
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()

    samples = [s for family in text_string_to_metric_families(scraped) for s in family.samples]
    for profile in PROFILES:
        limit = [s.value for s in samples if s.name == "bot_core_drawdown_limit_ratio"
                 and s.labels["profile"] == profile]
        assert limit == [pytest.approx(_drawdown_limit(profile) / 100)]
        decided = [s for s in samples if s.name == "bot_core_decisions_total"
                   and s.labels["profile"] == profile]
        assert {s.labels["bot"] for s in decided} == {f"bot-{profile}"}
        assert {s.labels["strategy"] for s in decided} == {"mean_reversion", "vol_target"}
    bot_series = [s for s in samples if s.name.startswith("bot_core_") and "bot" in s.labels]
    assert bot_series and all(s.labels.get("profile") in PROFILES for s in bot_series)

    assert aggressive, "the aggressive watcher saw nothing"
    assert {u.profile for u in aggressive} == {"aggressive"}
    assert {u.bot for u in aggressive} == {"bot-aggressive"}
    events = [u for u in aggressive if u.HasField("event")]
    assert {u.event.kind for u in events} >= {"decision"}
    assert {u.profile for u in everything if u.bot} == set(PROFILES)


def test_risk_status_reports_each_bots_own_profile_and_limits(three_profiles: Any) -> None:
    scheduler, server, _, _ = three_profiles
    asyncio.run(scheduler.run())
    with grpc.insecure_channel(str(server.address)) as channel:
        status = channel.unary_unary(
            "/bot_core.v1.Control/GetRiskStatus",
            request_serializer=pb.RiskStatusRequest.SerializeToString,
            response_deserializer=pb.RiskStatusResponse.FromString)(pb.RiskStatusRequest(),
                                                                    timeout=10)
        one = channel.unary_unary(
            "/bot_core.v1.Control/GetRiskStatus",
            request_serializer=pb.RiskStatusRequest.SerializeToString,
            response_deserializer=pb.RiskStatusResponse.FromString)(
                pb.RiskStatusRequest(bot="bot-conservative"), timeout=10)
    assert [(r.bot, r.profile) for r in status.bots] == [(f"bot-{p}", p) for p in PROFILES]
    for row, sleeve in zip(status.bots, scheduler.sleeves, strict=True):
        assert row.equity == pytest.approx(sleeve.pipeline.portfolio.equity)
        assert row.currency == "USDT"
        assert row.exposure_ratio["total"] >= 0
    assert [r.bot for r in one.bots] == ["bot-conservative"]
