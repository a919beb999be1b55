"""Prometheus metrics of a real runtime: two bots under two risk profiles replaying the demo data
through the real scheduler, scraped over HTTP from the runtime's own registry."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import bot_core
from bot_core.errors import UsageError
from bot_core.runtime.clock import SimulatedClock
from bot_core.runtime.events import ListSink
from bot_core.runtime.session import build_runtime, plan_run
from bot_core.telemetry.http import start_metrics_server
from bot_core.telemetry.metrics import METRIC_NAMES, RuntimeMetrics

from .conftest import bot_config


def _scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def _value(scraped: dict[str, list[tuple[dict[str, str], float]]], name: str,
           **labels: str) -> float:
    found = [v for lab, v in scraped.get(name, []) if all(lab.get(k) == x
                                                            for k, x in labels.items())]
    assert found, f"no {name} with {labels}"
    return sum(found)


@pytest.fixture
def run_two_bots(tmp_path: Path):
    host = bot_core.load_plugins()
    configs = [bot_config(tmp_path, "bold", "aggressive"),
               bot_config(tmp_path, "careful", "conservative")]
    plan = plan_run(host, configs=configs)
    metrics = RuntimeMetrics()
    host.register_observer(metrics, name="metrics")
    clock = SimulatedClock()
    sink = ListSink()
    scheduler = build_runtime(host, plan, clock=clock, sink=sink, max_cycles=240,
                              record_runs=False)
    metrics.track_scheduler(scheduler)
    asyncio.run(scheduler.run())
    return scheduler, metrics, sink


def test_a_scrape_has_every_metric_per_bot_profile_and_strategy(run_two_bots) -> None:
    scheduler, metrics, sink = run_two_bots
    with start_metrics_server("127.0.0.1:0", metrics.registry) as server:
        assert server.address.host == "127.0.0.1" and server.address.port > 0
        scraped = _scrape(server.url)
    bases = {name.removesuffix("_count").removesuffix("_sum").removesuffix("_bucket")
             for name in scraped}
    missing = [n for n in METRIC_NAMES if n not in bases and n not in scraped
               and n not in ("bot_core_resource_usage", "bot_core_resource_limit",
                             "bot_core_resource_breached", "bot_core_resource_breaches_total",
                             "bot_core_journal_write_lag_seconds", "bot_core_journal_records",
                             "bot_core_control_calls_total")]
    assert missing == ["bot_core_trading_state_changes_total"]  # no transition in this run
    assert "process_resident_memory_bytes" in scraped  # the runtime's own registry has them
    for bot, profile in (("bold", "aggressive"), ("careful", "conservative")):
        sleeve = next(s for s in scheduler.sleeves if s.name == bot)
        assert _value(scraped, "bot_core_cycles_total", bot=bot, profile=profile) == 240
        assert _value(scraped, "bot_core_equity", bot=bot, profile=profile) == pytest.approx(
            sleeve.pipeline.portfolio.equity)
        assert _value(scraped, "bot_core_trading_state", bot=bot, profile=profile,
                      state="active") == 1
        decisions = _value(scraped, "bot_core_decisions_total", bot=bot, profile=profile)
        assert decisions > 0
        verdicts = _value(scraped, "bot_core_risk_verdicts_total", bot=bot, profile=profile)
        assert verdicts == decisions  # every intent gets one verdict
        for strategy in sleeve.health:
            count = _value(scraped, "bot_core_decision_latency_seconds_count", bot=bot,
                           profile=profile, strategy=strategy)
            assert count > 0
        assert _value(scraped, "bot_core_exposure_ratio", bot=bot, profile=profile,
                      bucket="total") >= 0
    fills = _value(scraped, "bot_core_fills_total")
    assert fills == len(sink.of("fill")) > 0


def test_a_stream_snapshot_holds_what_a_scrape_shows_but_buckets(run_two_bots) -> None:
    """The snapshot reads counters and gauges straight from their series (not through
    prometheus-client's collect): it must give what a scrape gives, histogram buckets and
    ``_created`` left out, and nothing else."""
    from bot_core.telemetry.metrics import SnapshotPublisher
    from bot_core.telemetry.stream import StreamHub

    _, metrics, _ = run_two_bots
    publisher = SnapshotPublisher(metrics.registry, StreamHub())
    with start_metrics_server("127.0.0.1:0", metrics.registry) as server:
        first = publisher.snapshot()
        scraped = _scrape(server.url)
        again = publisher.snapshot()  # from the cached label sets

    def key(name: str, labels: dict[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
        return name, tuple(sorted(labels.items()))

    steady = {key(n, lab): v for n, samples in scraped.items() for lab, v in samples
              if not n.endswith(("_bucket", "_created")) and not n.startswith(("process_",
                                                                             "python_gc_"))}
    for snapshot in (first, again):
        streamed = {key(u.name, u.labels): u.value for u in snapshot
                    if not u.name.startswith(("process_", "python_gc_"))}
        assert streamed == steady
    assert any(u.name == "bot_core_decision_latency_seconds_count" for u in first)
    assert any(u.name == "bot_core_decisions_total" for u in first)
    assert any(u.name == "process_resident_memory_bytes" for u in first)  # collected ones too


def test_a_second_runtime_in_the_same_process_has_its_own_series() -> None:
    one, two = RuntimeMetrics(process_metrics=False), RuntimeMetrics(process_metrics=False)
    one.control_call("ListBots", "viewer", "OK")
    with start_metrics_server("127.0.0.1:0", two.registry) as server:
        scraped = _scrape(server.url)
    assert "bot_core_control_calls_total" not in scraped


def test_the_server_stops_and_frees_its_port() -> None:
    metrics = RuntimeMetrics(process_metrics=False)
    server = start_metrics_server("127.0.0.1:0", metrics.registry)
    port = server.address.port
    server.close()
    with start_metrics_server(f"127.0.0.1:{port}", metrics.registry) as again:
        assert again.address.port == port


@pytest.mark.parametrize("text, message", [
    ("127.0.0.1:notaport", "expected HOST:PORT with a port from 0 to 65535"),
    ("::1:9000", "an IPv6 address needs brackets"),
    ("127.0.0.1:70000", "a port from 0 to 65535"),
])
def test_a_bad_address_is_one_clear_usage_error(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as exc:
        start_metrics_server(text, RuntimeMetrics(process_metrics=False).registry)
    assert text in str(exc.value)


def test_a_port_in_use_is_a_usage_error_naming_the_address() -> None:
    metrics = RuntimeMetrics(process_metrics=False)
    with start_metrics_server("127.0.0.1:0", metrics.registry) as server, \
            pytest.raises(UsageError, match="cannot listen there"):
        start_metrics_server(str(server.address), metrics.registry)
