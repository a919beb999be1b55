"""One simulation, two speeds: the compiled replay against the event path, on random runs.

Every example draws bar data (gaps, flat stretches, spikes, bars without volume, thin books),
a risk profile whose limits sometimes trip (position and exposure caps that reduce or reject,
an order-rate throttle, daily-loss halts, drawdown liquidations), paper-venue costs and fill
rules (partial fills on thin bars, spot accounts that refuse short sales, latency, fills at
the close) and the shipped bar strategies with random parameters. It runs the backtest twice,
by default (the compiled replay wherever it can promise the event path's result) and event by
event, and holds them equal: the same orders and verdicts, the same fills and round trips, the
same trading-state changes, equity within 1e-9 relative.

``HYPOTHESIS_PROFILE=long`` runs many more examples than the suite's default.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import bot_core
from bot_core.backtest.driver import run_backtest
from bot_core.backtest.plan import DataSpec, plan_backtest

EXAMPLES = {"long": 400, "ci": 60}.get(os.environ.get("HYPOTHESIS_PROFILE", ""), 30)
"""Examples per run: a few dozen in the suite, many more under ``HYPOTHESIS_PROFILE=long``."""
DIFFERENTIAL = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                        suppress_health_check=[HealthCheck.too_slow,
                                               HealthCheck.data_too_large])
MINUTE_NS = 60 * 1_000_000_000
START_NS = 1_704_067_200 * 1_000_000_000  # 2024-01-01T00:00:00Z
CHECKS = ("max_position", "bucket_exposure", "max_leverage", "daily_loss", "drawdown",
          "order_rate", "duplicate_order", "fat_finger", "stale_data")
SYMBOLS = {"BTC/USDT": 100.0, "ETH/USDT": 40.0}

_HOST: list[bot_core.PluginHost] = []


def _host() -> bot_core.PluginHost:
    """The installed plugins, loaded once (hypothesis calls the test many times)."""
    if not _HOST:
        _HOST.append(bot_core.load_plugins())
    return _HOST[0]


# -- the data ----------------------------------------------------------------------------------


@st.composite
def bar_frames(draw: st.DrawFn, start: float, pct: int) -> pd.DataFrame:
    """Minute bars: a random walk with gaps, flat stretches, spikes and bars without volume."""
    n = draw(st.integers(120, 360))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    vol = draw(st.sampled_from([0.0005, 0.002, 0.006, 0.015]))
    drift = draw(st.sampled_from([0.0, 0.0, -0.001, 0.0008, -0.003]))
    close = start * np.exp(np.cumsum(rng.normal(drift, vol, n)))
    for _ in range(draw(st.integers(0, 2))):  # flat stretches: no variance in the window
        at, length = draw(st.integers(0, n - 1)), draw(st.integers(3, 40))
        close[at:at + length] = close[at]
    for _ in range(draw(st.integers(0, 2))):  # spikes up or down, for one bar or for good
        at = draw(st.integers(1, n - 1))
        jump = draw(st.sampled_from([0.7, 0.85, 1.2, 1.5]))
        if draw(st.booleans()):
            close[at] *= jump
        else:
            close[at:] *= jump
    open_ = np.concatenate(([start], close[:-1]))
    if draw(st.booleans()):  # bars that open away from the last close
        open_ = open_ * np.exp(rng.normal(0.0, vol, n))
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, vol / 2, n)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, vol / 2, n)))
    depth = tight(draw, 1e7, st.sampled_from([1e5, 2e3, 40.0]), pct)  # thin books fill in part
    volume = depth * rng.uniform(0.5, 1.5, n)
    for _ in range(draw(st.integers(0, 2 if pct else 0))):  # bars without volume
        at, length = draw(st.integers(0, n - 1)), draw(st.integers(1, 5))
        volume[at:at + length] = 0.0
    minutes = np.arange(n, dtype=np.int64)
    for _ in range(draw(st.integers(0, 2))):  # gaps: a closed market, a dead feed
        at, length = draw(st.integers(1, n - 1)), draw(st.sampled_from([1, 5, 90, 1500]))
        minutes[at:] += length
    index = pd.DatetimeIndex(START_NS + minutes * MINUTE_NS, tz="UTC", name="timestamp")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": volume}, index=index)


# -- the configuration -------------------------------------------------------------------------


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def _table(values: dict[str, Any]) -> str:
    return "\n".join(f"{k} = {_toml(v)}" for k, v in values.items() if v is not None)


def tight(draw: st.DrawFn, loose: Any, strict: st.SearchStrategy[Any], pct: int = 25) -> Any:
    """``loose`` most of the time, a value drawn from ``strict`` about ``pct`` % of the time."""
    return draw(strict) if draw(st.integers(0, 99)) < pct else loose


def calm(draw: st.DrawFn) -> int:
    """The chance, in %, that one knob is tight: zero for about half of the runs (so that many
    stay on the compiled replay from start to end), else ``25``."""
    return 0 if draw(st.booleans()) else 25


@st.composite
def risk_tables(draw: st.DrawFn, pct: int) -> dict[str, Any]:
    """Limits consistent with each other (position and bucket caps within the total, the total
    within leverage), loose most of the time and tight enough to trip some of the time."""
    checks = [c for c in CHECKS if draw(st.integers(0, 9)) < 8]
    leverage = tight(draw, 10.0, st.sampled_from([0.3, 1.0, 2.0]), pct)
    total = min(tight(draw, 300.0, st.sampled_from([10.0, 40.0, 100.0]), pct), 100.0 * leverage)
    return {
        "max_position_pct": min(tight(draw, 100.0, st.sampled_from([3.0, 8.0, 15.0, 30.0]), pct),
                                total),
        "max_total_position_pct": total,
        "max_bucket_exposure_pct": min(tight(draw, 300.0, st.sampled_from([10.0, 50.0]), pct), total),
        "daily_loss_limit_pct": tight(draw, 90.0, st.sampled_from([0.2, 0.5, 1.0, 3.0]), pct),
        "drawdown_liquidation_pct": tight(draw, 95.0, st.sampled_from([0.3, 1.0, 2.0, 5.0]), pct),
        "max_leverage": leverage,
        "max_orders_per_minute": tight(draw, 10_000, st.sampled_from([1, 2, 5]), pct),
        "checks": checks,
    }


@st.composite
def venue_tables(draw: st.DrawFn, pct: int) -> dict[str, Any]:
    latency = tight(draw, 0.0, st.sampled_from([500.0, 90_000.0]), pct // 2)
    return {
        "taker_fee_bps": draw(st.sampled_from([0.0, 5.0, 30.0])),
        "maker_fee_bps": 2.0,
        "slippage_bps": draw(st.sampled_from([0.0, 1.0, 20.0])),
        "volume_impact_bps": draw(st.sampled_from([0.0, 0.0, 10.0, 300.0])),
        "participation_rate": draw(st.sampled_from([0.25, 1.0, 0.01])),
        "volume_cap": draw(st.sampled_from([True, True, False])),
        "latency_ms": latency,
        "fill_on_close": not latency and draw(st.sampled_from([False, False, True])),
        "account": tight(draw, "margin", st.just("spot"), pct),
        "max_leverage": tight(draw, 5.0, st.sampled_from([0.5, 1.0, 2.0]), pct),
    }


@st.composite
def mean_reversion_params(draw: st.DrawFn) -> dict[str, Any]:
    entry_z = draw(st.sampled_from([0.8, 1.2, 1.6, 2.0, 2.5]))
    fixed = draw(st.integers(0, 4)) == 0
    return {
        "window_bars": draw(st.integers(5, 60)),
        "use_log_price": draw(st.booleans()),
        "entry_z": entry_z,
        "exit_z": draw(st.sampled_from([0.0, 0.0, 0.5, -0.5])),
        "allow_short": draw(st.booleans()),
        "stop_loss_pct": draw(st.sampled_from([None, 0.5, 2.0, 5.0])),
        "max_holding_bars": draw(st.sampled_from([None, 3, 20, 100])),
        "sizing": "fixed_quantity" if fixed else "equity_pct",
        "equity_pct": draw(st.sampled_from([1.0, 5.0, 12.0, 40.0, 95.0])),
        "quantity": draw(st.sampled_from([0.3, 5.0, 60.0])) if fixed else None,
    }


@st.composite
def vol_target_params(draw: st.DrawFn) -> dict[str, Any]:
    window = draw(st.integers(10, 80))
    return {
        "target_vol_pct": draw(st.sampled_from([5.0, 40.0, 150.0, 400.0])),
        "estimator": draw(st.sampled_from(["ewma", "rolling", "max"])),
        "ewma_halflife_bars": float(draw(st.integers(3, 60))),
        "rolling_window_bars": window,
        "min_periods_bars": draw(st.integers(2, min(window, 40))),
        "log_returns": draw(st.booleans()),
        "vol_floor_pct": draw(st.sampled_from([1.0, 5.0, 50.0])),
        "max_leverage": draw(st.sampled_from([0.05, 0.3, 1.0, 3.0])),
        "rebalance_band_pct": draw(st.sampled_from([0.0, 0.5, 2.0, 10.0])),
    }


@dataclass(frozen=True)
class Run:
    """One drawn backtest: its config file text and its datasets."""

    config: str
    strategies: list[str]
    data: dict[str, DataSpec]

    def plan(self, host: bot_core.PluginHost, directory: Path) -> Any:
        path = directory / "bot.toml"
        path.write_text(self.config, encoding="utf-8")
        return plan_backtest(host, strategies=self.strategies, datasets=self.data,
                             preset=None, config_path=path)


@st.composite
def runs(draw: st.DrawFn) -> Run:
    pct = calm(draw)
    symbols = draw(st.sampled_from([["BTC/USDT"], ["BTC/USDT", "ETH/USDT"], ["ETH/USDT"]]))
    data = {s.split("/")[0].lower(): DataSpec(draw(bar_frames(SYMBOLS[s], pct)), "ohlcv", s,
                                              "venue_a") for s in symbols}
    chosen = draw(st.sampled_from([("mr",), ("vt",), ("mr", "vt"), ("mr", "mr2")]))
    blocks = []
    traded: set[str] = set()
    for name in chosen:
        plugin = "vol_target" if name == "vt" else "mean_reversion"
        params = draw(vol_target_params() if plugin == "vol_target"
                      else mean_reversion_params())
        mine = symbols if len(symbols) == 1 or draw(st.booleans()) else symbols[:1]
        if name == chosen[-1] and traded | set(mine) != set(symbols):
            mine = symbols  # every dataset is traded by some strategy
        traded |= set(mine)
        blocks.append(f"[strategies.{name}]\nplugin = \"{plugin}\"\n"
                      f"instruments = {_toml(mine)}\nvenues = [\"venue_a\"]\n\n"
                      f"[strategies.{name}.params]\n{_table(params)}\n")
    timezone = draw(st.sampled_from([("UTC", "00:00"), ("Europe/Berlin", "22:00"),
                                     ("America/New_York", "17:00")]))
    config = (
        f'profile = "balanced"\ninstruments = {_toml(symbols)}\n\n'
        f'[runtime]\ninitial_equity = {draw(st.sampled_from([100_000.0, 3_000.0]))}\n'
        f'timezone = "{timezone[0]}"\ntrading_day_start = "{timezone[1]}"\n\n'
        f'[venues.venue_a]\nadapter = "paper"\n\n'
        f'[venues.venue_a.settings]\n{_table(draw(venue_tables(pct)))}\n\n'
        f'[buckets.majors]\ninstruments = {_toml(symbols)}\n\n'
        + "\n".join(blocks)
        + f"\n[risk]\n{_table(draw(risk_tables(pct)))}\n"
    )
    return Run(config, list(chosen), data)


# -- the comparison ----------------------------------------------------------------------------


def assert_same_run(fast: Any, slow: Any) -> None:
    """The same orders, verdicts, fills, round trips, state changes and equity."""
    assert fast.verdicts == slow.verdicts
    assert fast.reject_reasons == slow.reject_reasons
    assert fast.state_changes == slow.state_changes
    assert fast.final_state == slow.final_state
    keys = [(f.ts_ns, f.strategy, f.venue, f.instrument, f.side_sign) for f in fast.fills]
    assert keys == [(f.ts_ns, f.strategy, f.venue, f.instrument, f.side_sign)
                    for f in slow.fills]
    if fast.fills:
        np.testing.assert_allclose([(f.quantity, f.price, f.fee) for f in fast.fills],
                                   [(f.quantity, f.price, f.fee) for f in slow.fills],
                                   rtol=1e-9, atol=1e-12)
    assert [(t.strategy, t.instrument, t.side, t.entry_ns, t.exit_ns, t.fills)
            for t in fast.trades] == [(t.strategy, t.instrument, t.side, t.entry_ns, t.exit_ns,
                                       t.fills) for t in slow.trades]
    if fast.trades:
        np.testing.assert_allclose(
            [(t.quantity, t.entry_price, t.exit_price, t.pnl, t.fees) for t in fast.trades],
            [(t.quantity, t.entry_price, t.exit_price, t.pnl, t.fees) for t in slow.trades],
            rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(fast.ts_ns, slow.ts_ns)
    np.testing.assert_allclose(fast.equity, slow.equity, rtol=1e-9, atol=0.0)
    assert fast.metrics.exposure == slow.metrics.exposure


def _kind(result: Any) -> str:
    """What the run met, for hypothesis' statistics (pytest --hypothesis-show-statistics)."""
    if result.state_changes:
        return "risk state changed"
    if set(result.verdicts) - {"approve"}:
        return "verdicts other than approve"
    return "all approved"


@pytest.mark.slow
@DIFFERENTIAL
@given(run=runs())
def test_the_compiled_replay_equals_the_event_path(run: Run) -> None:
    host = _host()
    with tempfile.TemporaryDirectory(prefix="bot-core-diff-") as tmp:
        plan = run.plan(host, Path(tmp))
        slow = run_backtest(plan, host, fast=False)
        fast = run_backtest(plan, host)
    event(f"path: {fast.path}")
    event(_kind(slow))
    if fast.path == "compiled" and slow.state_changes:
        event("compiled through a drawdown liquidation")
    if fast.fast_path_note:
        event("gave way: " + fast.fast_path_note.split(" at ")[0].split(":")[-1].strip())
    assert slow.path == "events"
    assert_same_run(fast, slow)


# -- the generator itself ----------------------------------------------------------------------


def test_the_generator_reaches_every_kind_of_run() -> None:
    """The draws are not all of one kind: over a fixed set of seeds, some runs stay on the
    compiled replay with trades, and some meet reductions, rejections, partial fills and risk
    state changes (a differential test whose runs never trip a limit would prove little)."""
    seen: Counter[str] = Counter()
    host = _host()

    @settings(max_examples=24, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(run=runs())
    def probe(run: Run) -> None:
        with tempfile.TemporaryDirectory(prefix="bot-core-diff-") as tmp:
            result = run_backtest(run.plan(host, Path(tmp)), host)
        seen[result.path] += 1
        seen[_kind(result)] += 1
        if result.fills:
            seen["filled"] += 1

    probe()
    assert seen["compiled"] > 0 and seen["filled"] > 0, seen
    assert seen["events"] > 0, seen
    assert seen["verdicts other than approve"] + seen["risk state changed"] > 0, seen
