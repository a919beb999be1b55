"""Resource limits: real psutil readings of this process, breaches with hysteresis, shed plans."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest

from bot_core.config.models import ResourceLimits
from bot_core.config.resolve import resolve_config
from bot_core.errors import ConfigError
from bot_core.runtime.resources import (
    Breach,
    Resource,
    ResourceMonitor,
    ResourceSample,
    ShedPlan,
    StrategyLoad,
    disk_usage_bytes,
    shed_plan,
)

MIB = 1024 * 1024


def _sample(rss_mb: float = 100.0, cpu: float = 1.0, orders: int = 0) -> ResourceSample:
    return ResourceSample(wall_ns=0, rss_mb=rss_mb, cpu_pct=cpu, open_orders=orders)


# -- real readings ------------------------------------------------------------------------------


def test_sample_reads_this_process_memory_and_sees_it_grow() -> None:
    monitor = ResourceMonitor(ResourceLimits(), open_orders=lambda: 0)
    before = monitor.sample()
    expected = psutil.Process().memory_info().rss / MIB
    assert before.rss_mb == pytest.approx(expected, rel=0.2)
    ballast = bytearray(os.urandom(1024)) * (96 * 1024)  # 96 MiB, touched
    after = monitor.sample()
    assert after.rss_mb - before.rss_mb > 64
    assert len(ballast) == 96 * MIB


def test_sample_cpu_is_a_share_of_the_machine_since_the_last_sample() -> None:
    monitor = ResourceMonitor(ResourceLimits(), open_orders=lambda: 0)
    wall0, cpu0 = time.monotonic(), time.process_time()
    while time.process_time() < cpu0 + 0.3:  # burn 0.3 s of CPU
        pass
    busy = monitor.sample().cpu_pct
    used = (time.process_time() - cpu0) / (time.monotonic() - wall0) * 100.0
    assert 0.0 < busy <= 100.0
    # a share of every core together: one busy thread on N cores is about 100/N
    assert busy == pytest.approx(used / (psutil.cpu_count() or 1), abs=10.0)


def test_open_orders_and_state_disk_are_read_from_their_sources(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    (journal / "2024").mkdir(parents=True)
    (journal / "2024" / "a.log").write_bytes(b"x" * (3 * MIB))
    (tmp_path / "state.db").write_bytes(b"y" * MIB)
    orders = [7]
    monitor = ResourceMonitor(ResourceLimits(max_state_disk_mb=10), open_orders=lambda: orders[0],
                              disk_paths=[journal, tmp_path / "state.db", tmp_path / "missing"])
    sample = monitor.sample()
    assert sample.open_orders == 7
    assert sample.state_disk_mb == pytest.approx(4.0)
    orders[0] = 9
    assert monitor.sample().open_orders == 9
    assert disk_usage_bytes([tmp_path / "missing"]) == 0
    # no disk limit: the walk is skipped and the reading says so
    assert ResourceMonitor(ResourceLimits(), open_orders=lambda: 0,
                           disk_paths=[journal]).sample().state_disk_mb is None


def test_a_real_reading_over_a_limit_is_a_breach() -> None:
    monitor = ResourceMonitor(ResourceLimits(max_rss_mb=1, max_open_orders=5), open_orders=lambda: 6)
    breaches = monitor.breaches(monitor.sample())
    assert {b.resource for b in breaches} == {Resource.RSS, Resource.OPEN_ORDERS}
    assert all(b.over for b in breaches)
    rss = next(b for b in breaches if b.resource is Resource.RSS)
    assert rss.value > 1 and str(rss).startswith("rss ") and "> limit 1 MiB" in str(rss)
    roomy = ResourceMonitor(ResourceLimits(max_rss_mb=1_000_000), open_orders=lambda: 0)
    assert roomy.breaches(roomy.sample()) == []


# -- hysteresis ---------------------------------------------------------------------------------


def test_a_breach_ends_only_after_enough_samples_below_the_resume_line() -> None:
    limits = ResourceLimits(max_rss_mb=1000, resume_below_pct=90, recovery_samples=2)
    monitor = ResourceMonitor(limits, open_orders=lambda: 0)
    states = [[b.over for b in monitor.breaches(_sample(rss))]
              for rss in (500, 1001, 950, 850, 1200, 850, 850, 850)]
    assert states == [
        [],        # under the limit, never breached
        [True],    # over
        [False],   # back under the limit but above 900: still recovering
        [False],   # first sample below the line
        [True],    # over again: the count restarts
        [False], [],  # two samples below the line: recovered
        [],
    ]


# -- shedding order -----------------------------------------------------------------------------


def _loads(paused: set[str]) -> list[StrategyLoad]:
    priorities = {"scalper": 10, "mr_btc": 50, "mr_eth": 50, "hedger": 90}
    return [StrategyLoad(name, p, name in paused) for name, p in priorities.items()]


OVER = [Breach(Resource.CPU, 80.0, 50.0, over=True)]
RECOVERING = [Breach(Resource.CPU, 48.0, 50.0, over=False)]


def test_lowest_priority_tier_is_paused_first_then_the_next() -> None:
    first = shed_plan(OVER, _loads(set()))
    assert first.pause == ("scalper",) and first.resume == ()
    assert "cpu 80 % > limit 50 %" in first.reason
    second = shed_plan(OVER, _loads({"scalper"}))
    assert second.pause == ("mr_btc", "mr_eth")  # equal priorities together
    assert shed_plan(OVER, _loads({"scalper", "mr_btc", "mr_eth"})).pause == ("hedger",)
    exhausted = shed_plan(OVER, _loads({"scalper", "mr_btc", "mr_eth", "hedger"}))
    assert not exhausted.changes and "nothing left to pause" in exhausted.reason


def test_recovering_holds_and_recovery_resumes_highest_priority_first() -> None:
    paused = {"scalper", "mr_btc", "mr_eth"}
    hold = shed_plan(RECOVERING, _loads(paused))
    assert not hold.changes and hold.reason.startswith("recovering")
    first = shed_plan([], _loads(paused))
    assert first.resume == ("mr_btc", "mr_eth") and first.pause == ()
    assert shed_plan([], _loads({"scalper"})).resume == ("scalper",)
    assert shed_plan([], _loads(set())) == ShedPlan()


def test_monitor_and_plan_together_shed_and_recover_in_the_stated_order() -> None:
    monitor = ResourceMonitor(ResourceLimits(max_cpu_pct=50, recovery_samples=2),
                              open_orders=lambda: 0)
    paused: set[str] = set()
    log: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for cpu in (30, 70, 65, 47, 40, 40, 40, 40):
        plan = shed_plan(monitor.breaches(_sample(cpu=cpu)), _loads(paused))
        paused = (paused | set(plan.pause)) - set(plan.resume)
        log.append((plan.pause, plan.resume))
    assert log == [
        ((), ()),
        (("scalper",), ()),
        (("mr_btc", "mr_eth"), ()),
        ((), ()),                      # 47 < 50 but above 45: hold
        ((), ()),                      # first sample below the line
        ((), ("mr_btc", "mr_eth")),    # recovered: highest paused tier first
        ((), ("scalper",)),
        ((), ()),
    ]
    assert paused == set()


# -- configuration ------------------------------------------------------------------------------


def test_limits_and_priority_come_from_the_config_with_their_ranges() -> None:
    config = resolve_config(preset="balanced", universe="demo", environ={
        "BOT_CORE_RUNTIME__RESOURCE_LIMITS__MAX_RSS_MB": "512",
        "BOT_CORE_STRATEGIES__MEAN_REVERSION__PRIORITY": "20",
    }).config
    assert config.runtime.resource_limits.max_rss_mb == 512
    assert config.runtime.resource_limits.max_open_orders == 100  # the preset's
    assert config.runtime.resource_limits.max_cpu_pct is None  # no limit
    assert config.strategies["mean_reversion"].priority == 20
    assert config.strategies["vol_target"].priority == 50

    with pytest.raises(ConfigError) as err:
        resolve_config(preset="balanced", universe="demo", environ={
            "BOT_CORE_RUNTIME__RESOURCE_LIMITS__MAX_CPU_PCT": "150",
            "BOT_CORE_STRATEGIES__VOL_TARGET__PRIORITY": "101",
        })
    fields = {p.field for p in err.value.problems}
    assert fields == {"runtime.resource_limits.max_cpu_pct", "strategies.vol_target.priority"}
