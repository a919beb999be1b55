"""`bot-core loadtest scheduler`: a short run through the real CLI reports sane figures."""

from __future__ import annotations

import json


def test_loadtest_scheduler_reports_throughput_latency_and_memory(run_cli) -> None:
    result = run_cli("loadtest", "scheduler", "--strategies", "6", "--instruments", "3",
                     "--duration", "1", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["strategies"], report["instruments"]) == (6, 3)
    assert report["cycles"] > 0 and report["events"] == 3 * report["cycles"]
    assert report["decisions"] == 2 * report["events"]  # two strategies per instrument
    assert report["events_per_s"] > 0 and report["orders"] >= 0
    assert 0 < report["latency_p50_ms"] <= report["latency_p99_ms"] <= report["latency_max_ms"]
    assert report["skipped_bars"] == 0  # at max speed nothing is coalesced
    assert report["peak_rss_mb"] > 10


def test_loadtest_rejects_bad_sizes(run_cli) -> None:
    result = run_cli("loadtest", "scheduler", "--strategies", "0")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --strategies 0: between 1 and 100000"
