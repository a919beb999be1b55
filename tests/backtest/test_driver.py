"""The backtest driver: timing of fills, shared equity and limits, risk on every order, and the
compiled replay giving the same result as the event-by-event replay."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pytest

import bot_core
from bot_core.backtest.driver import run_backtest
from bot_core.backtest.plan import DataSpec, plan_backtest

from .conftest import MINUTE_NS, make_bars


class Probe:
    """Observer plugin: every verdict and fill, as a journal would see them."""

    def __init__(self) -> None:
        self.all_verdicts: list[tuple[str, Any, Any]] = []
        self.all_fills: list[tuple[str, Any]] = []
        self.run_id = ""

    @bot_core.hookimpl
    def bot_core_on_risk_verdict(self, run: Any, intent: Any, verdict: Any) -> None:
        self.all_verdicts.append((run.run_id, intent, verdict))

    @bot_core.hookimpl
    def bot_core_on_fill(self, run: Any, fill: Any) -> None:
        self.all_fills.append((run.run_id, fill))

    def of(self, result: Any) -> Probe:
        """Keep only what the run behind ``result`` produced (an abandoned fast run has its
        own run id, and observers see it too)."""
        self.run_id = result.run_id
        return self

    @property
    def verdicts(self) -> list[tuple[Any, Any]]:
        return [(i, v) for r, i, v in self.all_verdicts if r == self.run_id]

    @property
    def fills(self) -> list[Any]:
        return [f for r, f in self.all_fills if r == self.run_id]


def _same_trades(a: list[Any], b: list[Any]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert (x.strategy, x.instrument, x.side, x.entry_ns, x.exit_ns, x.fills) == \
            (y.strategy, y.instrument, y.side, y.entry_ns, y.exit_ns, y.fills)
        assert (x.quantity, x.entry_price, x.exit_price, x.pnl, x.fees) == pytest.approx(
            (y.quantity, y.entry_price, y.exit_price, y.pnl, y.fees), rel=1e-9, abs=1e-9)


def _same_fills(a: list[Any], b: list[Any]) -> None:
    assert [(f.ts_ns, f.strategy, f.venue, f.instrument, f.side_sign) for f in a] == \
        [(f.ts_ns, f.strategy, f.venue, f.instrument, f.side_sign) for f in b]
    values = [(f.quantity, f.price, f.fee) for f in a]
    np.testing.assert_allclose(values, [(f.quantity, f.price, f.fee) for f in b], rtol=1e-9,
                               atol=1e-9)


def _data(n: int = 1500, **kw: Any) -> dict[str, DataSpec]:
    return {
        "btc": DataSpec(make_bars(n, seed=11, **kw), "ohlcv", "BTC/USDT", "venue_a"),
        "eth": DataSpec(make_bars(n, seed=5, start=50.0, **kw), "ohlcv", "ETH/USDT", "venue_a"),
    }


def _plan(host: Any, path: Any, data: dict[str, DataSpec], strategies=("cross",), **kw: Any):
    return plan_backtest(host, strategies=list(strategies), datasets=data, preset=None,
                         config_path=path, **kw)


def test_market_order_decided_on_bar_close_fills_at_next_bar_open(host, write_config) -> None:
    data = {"btc": _data()["btc"]}
    frame = data["btc"].frame
    probe = Probe()
    host.register_observer(probe)
    probe.of(run_backtest(_plan(host, write_config(), data), host, fast=False))
    assert probe.fills
    for fill in probe.fills:
        intent = next(i for i, _ in probe.verdicts if i.client_order_id == fill.client_order_id)
        assert fill.ts_ns == intent.ts_ns + MINUTE_NS  # never on the deciding bar
        opens = frame["open"].to_numpy()[frame.index.asi8 == fill.ts_ns]
        assert fill.price == pytest.approx(opens[0])


def test_fill_on_close_fills_at_the_deciding_bars_close(host, write_config) -> None:
    data = {"btc": _data()["btc"]}
    frame = data["btc"].frame
    probe = Probe()
    host.register_observer(probe)
    probe.of(run_backtest(_plan(host, write_config(), data, fill_on_close=True), host,
                          fast=False))
    assert probe.fills
    for fill in probe.fills:
        intent = next(i for i, _ in probe.verdicts if i.client_order_id == fill.client_order_id)
        assert fill.ts_ns == intent.ts_ns
        closes = frame["close"].to_numpy()[frame.index.asi8 == fill.ts_ns]
        assert fill.price == pytest.approx(closes[0])


@pytest.mark.parametrize("fill_on_close", [False, True])
def test_the_compiled_replay_gives_the_event_paths_trades_and_equity(host, write_config,
                                                                     fill_on_close: bool) -> None:
    plan = _plan(host, write_config(slippage=1.0, fee=5.0), _data(), ("cross",),
                 fill_on_close=fill_on_close)
    slow = run_backtest(plan, host, fast=False)
    fast = run_backtest(plan, host)
    assert fast.fast_path and not slow.fast_path
    assert fast.fast_path_note == ""
    assert len(slow.trades) > 20
    _same_trades(fast.trades, slow.trades)
    np.testing.assert_allclose(fast.equity, slow.equity, rtol=1e-12)
    assert fast.verdicts == slow.verdicts
    assert fast.metrics.exposure == slow.metrics.exposure


def test_strategies_and_instruments_share_equity_and_position_limits(host, write_config) -> None:
    # each strategy alone stays within 20 % per instrument; together they would reach 30 %
    path = write_config(notional=15.0, max_position=20.0)
    probe = Probe()
    host.register_observer(probe)
    result = run_backtest(_plan(host, path, _data(), ("cross", "cross_b")), host)
    probe.of(result)
    reasons = [v.reason for _, v in probe.verdicts if v.action.value != "approve"]
    assert "max_position_pct" in reasons
    net: dict[str, float] = defaultdict(float)
    after: dict[tuple[str, int], tuple[float, float]] = {}
    for fill in probe.fills:
        net[fill.instrument] += float(fill.side) * fill.quantity
        after[(fill.instrument, fill.ts_ns)] = (net[fill.instrument], fill.price)
    for (_, ts_ns), (qty, price) in after.items():
        # the cap is 20 % of equity when the order was judged (this data opens at the previous
        # close, so the fill price is the price the check saw); 1 % covers equity moving between
        # the check and the bar's end and small re-sent remainders judged while another
        # strategy's order was still open (the engine counts filled positions, not open orders)
        decided = int(np.searchsorted(result.ts_ns, ts_ns)) - 1
        assert abs(qty) * price <= 0.20 * result.equity[decided] * 1.01
    assert {f.strategy_id for f in probe.fills} == {"cross", "cross_b"}
    assert {f.instrument for f in probe.fills} == {"BTC/USDT", "ETH/USDT"}


def test_every_order_goes_through_risk_and_a_tight_profile_cuts_them(host, write_config) -> None:
    loose, tight = Probe(), Probe()
    host.register_observer(loose)
    loose.of(run_backtest(_plan(host, write_config(notional=10.0, max_position=20.0), _data()),
                          host))
    host.unregister_observer(loose)
    host.register_observer(tight)
    result = run_backtest(_plan(host, write_config(notional=10.0, max_position=4.0), _data()),
                          host)
    tight.of(result)
    # every fill belongs to an order the risk engine judged first
    judged = {i.client_order_id for i, _ in tight.verdicts}
    assert tight.fills and all(f.client_order_id in judged for f in tight.fills)
    assert all(v.action.value == "approve" for _, v in loose.verdicts)
    cut = [v for _, v in tight.verdicts if v.action.value == "reduce"]
    assert cut and {v.reason for v in cut} == {"max_position_pct"}
    biggest = max(f.quantity * f.price for f in tight.fills)
    assert biggest <= 0.04 * 100_000 * 1.03  # capped at the close, filled at the next open
    assert result.reject_reasons.get("max_position_pct", 0) >= len(cut)


def test_drawdown_liquidation_gives_the_event_paths_result(host, write_config) -> None:
    data = _data(3000, drift=-0.0004, vol=0.003)
    plan = _plan(host, write_config(notional=19.0, max_position=20.0, drawdown=0.5,
                                    daily=50.0), data, ("cross", "cross_b"))
    slow = run_backtest(plan, host, fast=False)
    fast = run_backtest(plan, host)
    assert [c["cause"] for c in slow.state_changes][:1] == ["drawdown_liquidation"]
    # risk stepped in: the compiled replay gave way and the backtest replayed event by event
    assert not fast.fast_path and "at 2024-" in fast.fast_path_note
    assert fast.state_changes == slow.state_changes
    assert fast.final_state == "reducing"
    _same_trades(fast.trades, slow.trades)
    np.testing.assert_allclose(fast.equity, slow.equity, rtol=1e-12)


def test_daily_loss_halt_and_next_day_reset_match_between_paths(host, write_config) -> None:
    data = _data(3 * 1440, drift=-0.0002, vol=0.003)
    plan = _plan(host, write_config(notional=19.0, max_position=20.0, daily=0.3,
                                    drawdown=90.0), data, ("cross", "cross_b"))
    slow = run_backtest(plan, host, fast=False)
    fast = run_backtest(plan, host)
    causes = [c["cause"] for c in slow.state_changes]
    assert "daily_loss_limit" in causes and "new_trading_day" in causes
    assert not fast.fast_path and fast.fast_path_note
    assert fast.state_changes == slow.state_changes
    _same_trades(fast.trades, slow.trades)
    assert slow.reject_reasons  # orders during the halt were rejected, not dropped


def test_a_reduced_order_sends_the_run_to_the_event_path(host, write_config) -> None:
    plan = _plan(host, write_config(notional=15.0, max_position=10.0), _data(), ("cross",))
    fast = run_backtest(plan, host)
    slow = run_backtest(plan, host, fast=False)
    assert not fast.fast_path and fast.fast_path_note.startswith("replayed event by event:")
    assert "reduce:max_position_pct" in fast.fast_path_note
    _same_trades(fast.trades, slow.trades)
    assert fast.verdicts == slow.verdicts


@pytest.mark.parametrize("fast", [None, False])
def test_exposure_counts_the_steps_that_end_with_an_open_position(host, write_config,
                                                                  fast: bool | None) -> None:
    result = run_backtest(_plan(host, write_config(), _data()), host, fast=fast)
    assert result.fast_path is (fast is None)
    trades = result.trades
    assert len(trades) > 20
    # a step is in the market when a trade entered at or before it has not exited by its end
    # (fills happen at a step's open, the position is looked at after the step)
    ends = [t.exit_ns if t.exit_ns is not None else np.iinfo(np.int64).max for t in trades]
    held = np.zeros(len(result.ts_ns), dtype=bool)
    for trade, end in zip(trades, ends, strict=True):
        held |= (result.ts_ns >= trade.entry_ns) & (result.ts_ns < end)
    assert result.metrics.exposure == pytest.approx(float(np.mean(held)), abs=1e-12)


def test_a_strategy_without_the_batch_contract_runs_the_event_path(host, write_config) -> None:
    from .conftest import SmaCross

    plan = _plan(host, write_config(notional=5.0, slippage=1.0, fee=5.0,
                                    plugin_b="sma_cross_events"), _data(), ("cross", "cross_b"))
    SmaCross.lifecycle.clear()
    result = run_backtest(plan, host)
    assert result.path == "events" and not result.fast_path
    assert result.fast_path_note == ("event by event: cross_b does not offer the batch "
                                     "contract (decision_rule)")
    assert sorted(SmaCross.lifecycle) == [("on_start", "cross"), ("on_stop", "cross")]
    assert len(result.trades) > 40 and {t.strategy for t in result.trades} == {"cross",
                                                                                "cross_b"}
    # the same rule as the batch strategy: the same trades as a run of two batch strategies
    both = run_backtest(_plan(host, write_config(notional=5.0, slippage=1.0, fee=5.0), _data(),
                              ("cross", "cross_b")), host)
    assert both.path == "compiled"
    _same_trades(result.trades, both.trades)
    np.testing.assert_allclose(result.equity, both.equity, rtol=1e-12)


@pytest.mark.parametrize("plugin_b", ["sma_cross", "sma_cross_events"])
def test_an_order_the_bar_volume_cuts_fills_in_part(host, write_config, plugin_b: str) -> None:
    # a quarter of a 40-unit bar cannot fill 5 % of 100k at a price of ~100: the first order
    # fills in part, which batch targets cannot know (a strategy may back off, re-plan...)
    data = {"btc": DataSpec(make_bars(600, seed=11, volume=40.0), "ohlcv", "BTC/USDT",
                            "venue_a")}
    plan = _plan(host, write_config(notional=5.0, plugin_b=plugin_b), data,
                 ("cross", "cross_b"))
    tried = run_backtest(plan, host)
    slow = run_backtest(plan, host, fast=False)
    assert not tried.fast_path
    if plugin_b == "sma_cross":
        assert tried.fast_path_note.startswith("replayed event by event: a fill limited by the "
                                               "bar's volume at 2024-")
    assert sum(slow.verdicts.values()) > 2 * len(slow.trades)  # remainders were re-sent
    _same_trades(tried.trades, slow.trades)
    np.testing.assert_array_equal(tried.equity, slow.equity)
