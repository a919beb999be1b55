"""The compiled replay: the same trades, equity and verdicts as the event path, every order
judged by the real risk engine, and a hand-over to the event path wherever its model ends."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot_core.backtest.driver import run_backtest
from bot_core.backtest.plan import DataSpec, plan_backtest

from .conftest import make_bars
from .test_driver import Probe, _same_fills, _same_trades


def _data(n: int = 1500, **kw: Any) -> dict[str, DataSpec]:
    return {
        "btc": DataSpec(make_bars(n, seed=11, **kw), "ohlcv", "BTC/USDT", "venue_a"),
        "eth": DataSpec(make_bars(n, seed=5, start=50.0, **kw), "ohlcv", "ETH/USDT", "venue_a"),
    }


def _venue(path: Path, **extra: object) -> Path:
    """The config at ``path`` with more paper-venue settings."""
    text = path.read_text(encoding="utf-8")
    more = ", ".join(f"{k} = {v!r}".replace("'", '"') for k, v in extra.items())
    text = re.sub(r"(settings = \{ slippage_bps[^}]*)\}", rf"\1, {more} }}", text, count=1)
    path.write_text(text, encoding="utf-8")
    return path


def _plan(host: Any, path: Path, data: dict[str, DataSpec], strategies=("cross", "cross_b"),
          **kw: Any) -> Any:
    return plan_backtest(host, strategies=list(strategies), datasets=data, preset=None,
                         config_path=path, **kw)


def _same_run(compiled: Any, slow: Any) -> None:
    assert compiled.path == "compiled" and compiled.fast_path_note == ""
    assert slow.path == "events"
    _same_trades(compiled.trades, slow.trades)
    _same_fills(compiled.fills, slow.fills)
    np.testing.assert_allclose(compiled.equity, slow.equity, rtol=1e-12)
    assert compiled.verdicts == slow.verdicts
    assert compiled.metrics.exposure == slow.metrics.exposure
    assert compiled.final_state == slow.final_state == "active"


@pytest.mark.parametrize(("fill_on_close", "account"), [(False, "margin"), (True, "margin"),
                                                        (False, "spot")])
def test_compiled_replay_gives_the_event_paths_trades_equity_and_verdicts(
        host, write_config, fill_on_close: bool, account: str) -> None:
    # two strategies on two instruments share equity and limits; fees and slippage on
    path = _venue(write_config(notional=5.0, notional_b=3.0, slippage=2.0, fee=5.0),
                  account=account, volume_impact_bps=10.0)
    # a spot account cannot short: cross_b (long and short) needs a margin account
    names = ("cross", "cross_b") if account == "margin" else ("cross",)
    plan = _plan(host, path, _data(), names, fill_on_close=fill_on_close)
    slow = run_backtest(plan, host, fast=False)
    compiled = run_backtest(plan, host, compiled=True)
    assert len(slow.trades) > 20 and {t.strategy for t in slow.trades} == set(names)
    _same_run(compiled, slow)
    # every order went through the risk engine, and all of them were approved as sent
    assert compiled.verdicts == {"approve": sum(slow.verdicts.values())}


def test_compiled_replay_rolls_trading_days_as_the_engine_does(host, write_config) -> None:
    # three days in Europe/Berlin with the day starting at 22:00 local: the daily-loss limit
    # is far, so every boundary only resets the day's start equity
    path = write_config(notional=5.0, daily=50.0, drawdown=90.0)
    text = path.read_text(encoding="utf-8").replace(
        "initial_equity = 100000.0",
        'initial_equity = 100000.0\ntimezone = "Europe/Berlin"\ntrading_day_start = "22:00"')
    path.write_text(text, encoding="utf-8")
    plan = _plan(host, path, _data(3 * 1440 + 100))
    _same_run(run_backtest(plan, host, compiled=True), run_backtest(plan, host, fast=False))


def test_a_risk_rejection_sends_the_run_to_the_event_path(host, write_config) -> None:
    # one order per minute: the second strategy's order on the same bar is rejected by the
    # order_rate check, judged by the engine inside the compiled walk
    path = write_config(notional=5.0)
    path.write_text(path.read_text(encoding="utf-8").replace(
        "max_orders_per_minute = 600", "max_orders_per_minute = 1"), encoding="utf-8")
    plan = _plan(host, path, _data())
    tried = run_backtest(plan, host, compiled=True)
    slow = run_backtest(plan, host, fast=False)
    assert tried.path == "events"
    assert tried.fast_path_note.startswith("replayed event by event: risk verdict "
                                           "reject:order_rate at 2024-")
    assert slow.reject_reasons.get("order_rate", 0) > 0
    _same_trades(tried.trades, slow.trades)
    assert tried.verdicts == slow.verdicts
    # the curve metrics started for the compiled attempt (whose equity traded the rejected
    # orders) are not the result's: the event path's own are
    assert tried.metrics == slow.metrics
    assert tried.benchmark is not None and slow.benchmark is not None
    assert tried.benchmark.total_return == slow.benchmark.total_return


def test_a_drawdown_liquidation_stays_on_the_compiled_replay(host, write_config) -> None:
    # a 0.3 % drawdown limit trips a few hours in: the engine goes REDUCING, liquidates both
    # books, and refuses every later order that does not reduce; the kernel models all of it
    # and the real engine, walking the log, agrees
    path = write_config(notional=5.0, daily=50.0, drawdown=0.3, slippage=2.0, fee=5.0)
    plan = _plan(host, path, _data(), strategies=("cross",))
    compiled = run_backtest(plan, host, compiled=True)
    slow = run_backtest(plan, host, fast=False)
    assert compiled.path == "compiled" and compiled.fast_path_note == ""
    assert compiled.state_changes == slow.state_changes == [
        {"previous": "active", "current": "reducing", "cause": "drawdown_liquidation",
         "time": "2024-01-01T04:50:00Z"}]
    assert compiled.final_state == slow.final_state == "reducing"
    assert compiled.verdicts == slow.verdicts and slow.verdicts["reject"] > 500
    assert compiled.reject_reasons == slow.reject_reasons == {
        "trading_reducing_not_reducing": slow.verdicts["reject"]}
    _same_trades(compiled.trades, slow.trades)
    _same_fills(compiled.fills, slow.fills)
    np.testing.assert_allclose(compiled.equity, slow.equity, rtol=1e-12)
    # the liquidation closed both books, and nothing traded after it
    last_fill = max(f.ts_ns for f in slow.fills)
    assert all(t.exit_ns is not None and t.exit_ns <= last_fill for t in compiled.trades)
    assert compiled.metrics.exposure == slow.metrics.exposure


def test_a_drawdown_with_two_books_on_one_market_goes_to_the_event_path(
        host, write_config) -> None:
    # two strategies hold the same market when the limit trips: the engine's netting of
    # their books when it liquidates is not in the kernel's model
    path = write_config(notional=5.0, daily=50.0, drawdown=0.3, slippage=2.0, fee=5.0)
    plan = _plan(host, path, _data())
    tried = run_backtest(plan, host, compiled=True)
    slow = run_backtest(plan, host, fast=False)
    assert tried.path == "events"
    assert tried.fast_path_note.startswith(
        "replayed event by event: the drawdown limit with orders open, fills at the close or "
        "two books on one market at 2024-")
    assert tried.state_changes == slow.state_changes and tried.verdicts == slow.verdicts


def test_a_venue_reject_sends_the_run_to_the_event_path(host, write_config) -> None:
    # a short sale on a spot account: the paper venue refuses it for the balance
    path = _venue(write_config(notional=5.0), account="spot")
    plan = _plan(host, path, _data())
    tried = run_backtest(plan, host, compiled=True)
    slow = run_backtest(plan, host, fast=False)
    assert tried.path == "events"
    assert tried.fast_path_note.startswith("replayed event by event: an order the venue would "
                                           "reject for the account's balance at 2024-")
    _same_trades(tried.trades, slow.trades)
    np.testing.assert_array_equal(tried.equity, slow.equity)


def test_an_order_open_past_the_next_bar_sends_the_run_to_the_event_path(
        host, write_config) -> None:
    # with 90 s of latency a market order decided on a minute bar is still working when its
    # strategy sees the next bar: what on_bar does then (back off) the kernel does not model
    path = _venue(write_config(notional=5.0), latency_ms=90_000.0)
    plan = _plan(host, path, _data(), strategies=("cross",))
    tried = run_backtest(plan, host, compiled=True)
    slow = run_backtest(plan, host, fast=False)
    assert tried.fast_path_note.startswith("replayed event by event: an order still open when "
                                           "its strategy saw the next bar at 2024-")
    assert tried.path == "events"
    _same_trades(tried.trades, slow.trades)


def test_observer_plugins_keep_the_run_on_the_event_path(host, write_config) -> None:
    plan = _plan(host, write_config(notional=5.0), _data())
    probe = Probe()
    host.register_observer(probe)
    watched = run_backtest(plan, host, compiled=True)
    host.unregister_observer(probe)
    compiled = run_backtest(plan, host, compiled=True)
    assert watched.path == "events"
    assert watched.fast_path_note == ("event by event: observer plugins implement "
                                      "bot_core_on_risk_verdict, bot_core_on_fill")
    assert compiled.path == "compiled"
    # every order filled completely: one fill per approved order, all seen by the observer
    assert len(probe.of(watched).fills) == compiled.verdicts["approve"] == \
        watched.verdicts["approve"] > 40
    _same_trades(compiled.trades, watched.trades)


def test_the_compiled_replay_is_the_default(host, write_config) -> None:
    plan = _plan(host, write_config(notional=5.0), _data())
    compiled = run_backtest(plan, host)
    events = run_backtest(plan, host, compiled=False)
    assert events.path == "events" and compiled.path == "compiled"
    assert events.fast_path_note == ""  # asked for
    _same_trades(compiled.trades, events.trades)
    np.testing.assert_allclose(compiled.equity, events.equity, rtol=1e-12)


def test_an_order_the_bar_volume_cuts_sends_the_run_to_the_event_path(host, write_config) -> None:
    data = {"btc": DataSpec(make_bars(600, seed=11, volume=40.0), "ohlcv", "BTC/USDT",
                            "venue_a")}
    plan = _plan(host, write_config(notional=5.0), data)
    tried = run_backtest(plan, host, compiled=True)
    slow = run_backtest(plan, host, fast=False)
    assert tried.path == "events"
    assert tried.fast_path_note == ("replayed event by event: a fill limited by the bar's "
                                    "volume at 2024-01-01T00:11:00Z")
    _same_trades(tried.trades, slow.trades)
    np.testing.assert_array_equal(tried.equity, slow.equity)


def test_snapshot_book_answers_as_the_portfolio_does() -> None:
    from bot_core.backtest.judge import SnapshotBook
    from bot_core.backtest.kernel import EntryLog

    log = EntryLog.allocate(1, 3, 2)
    book = SnapshotBook([("a", "BTC/USDT"), ("b", "BTC/USDT"), ("a", "ETH/USDT")],
                        ["BTC/USDT", "ETH/USDT"], log, 1000.0)
    assert book.equity == 1000.0 and book.gross_exposure == 0.0
    assert math.isnan(book.last_price("BTC/USDT", "a")) and book.last_update_ns("BTC/USDT") == 0
    log.equity[0], log.gross[0] = 990.0, 50.0
    log.key_position[0] = [0.5, -0.2, 0.0]
    log.key_mark[0] = [100.0, 0.0, 0.0]
    log.key_ts[0] = [7, 0, 0]
    log.instrument_position[0] = [0.3, 0.0]
    log.instrument_mark[0] = [101.0, 0.0]
    log.instrument_ts[0] = [8, 0]
    book.load(0)
    assert (book.equity, book.gross_exposure) == (990.0, 50.0)
    assert book.position("BTC/USDT", "a") == 0.5 and book.position("BTC/USDT", "b") == -0.2
    assert book.position("BTC/USDT") == 0.3 and book.position("SOL/USDT") == 0.0
    assert book.last_price("BTC/USDT", "a") == 100.0 and book.last_update_ns("BTC/USDT", "a") == 7
    # never marked on venue b: the last mark on any venue, as Portfolio.last_price
    assert book.last_price("BTC/USDT", "b") == 101.0 and book.last_update_ns("BTC/USDT", "b") == 8
    assert math.isnan(book.last_price("ETH/USDT", "a")) and math.isnan(book.last_price("X/USDT"))
    # per-strategy books: what the walk keeps from the fills (the engine reads them to liquidate)
    assert book.position("BTC/USDT", "a", "cross") == 0.0 and book.positions() == []
    book.books[("cross", "a", "BTC/USDT")] = 0.5
    book.books[("mr", "a", "ETH/USDT")] = 0.0
    assert book.position("BTC/USDT", "a", "cross") == 0.5
    assert [(r.strategy, r.venue, r.instrument, r.qty) for r in book.positions(open_only=True)] \
        == [("cross", "a", "BTC/USDT", 0.5)]
    assert len(book.positions()) == 2


@settings(max_examples=300, deadline=None)
@given(margin=st.booleans(), side=st.sampled_from([1, -1]),
       quote=st.floats(-5e4, 2e5), held=st.floats(-3.0, 3.0), mark=st.sampled_from([0.0, 95.0]),
       quantity=st.floats(1e-6, 5e3), price=st.floats(1.0, 500.0),
       fee_bps=st.floats(0.0, 50.0), leverage=st.floats(0.5, 5.0))
def test_kernel_buying_power_is_the_paper_accounts(margin: bool, side: int, quote: float,
                                                   held: float, mark: float, quantity: float,
                                                   price: float, fee_bps: float,
                                                   leverage: float) -> None:
    from bot_core.backtest.kernel import ASSET, VENUE, _affordable
    from bot_core_paper.account import PaperAccount

    account = PaperAccount({"USDT": 0.0}, margin=margin, max_leverage=leverage)
    account.balances = {"USDT": quote, "BTC": held}
    if mark:
        account.mark("BTC/USDT", mark)
    expected = account.affordable("BTC/USDT", side, quantity, price, fee_bps / 1e4)
    venue = np.zeros(1, dtype=VENUE)
    venue["quote"], venue["taker_fee_rate"] = quote, fee_bps / 1e4
    venue["margin"], venue["max_leverage"] = margin, leverage
    asset = np.zeros(1, dtype=ASSET)
    asset["base"], asset["base_mark"] = held, mark
    got = _affordable(0, 0, side, quantity, price, venue, asset)
    assert got == expected  # one rule (bot_core.rules.affordable_quantity), compiled


def _one_instrument() -> dict[str, DataSpec]:
    return {"btc": _data()["btc"]}


def _count_calls(monkeypatch: pytest.MonkeyPatch, cls: Any, name: str) -> list[int]:
    calls = [0]
    original = getattr(cls, name)

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, counted)
    return calls


def test_one_order_at_a_time_is_judged_as_one_batch(host, write_config, monkeypatch) -> None:
    # one strategy on one instrument: every order fills before the next, so the engine judges the whole log at
    # once through the checks' batch forms, and never one order at a time
    from bot_core.risk.engine import RiskEngine

    path = write_config(notional=5.0, fee=5.0, slippage=2.0)
    plan = _plan(host, path, _one_instrument(), ("cross",))
    slow = run_backtest(plan, host, fast=False)
    batches = _count_calls(monkeypatch, RiskEngine, "judge_batch")
    singles = _count_calls(monkeypatch, RiskEngine, "evaluate")
    compiled = run_backtest(plan, host, compiled=True)
    _same_run(compiled, slow)
    assert batches == [1] and singles == [0]
    assert compiled.verdicts == {"approve": sum(slow.verdicts.values())} and len(slow.trades) > 20


def test_a_check_without_a_batch_form_is_asked_order_by_order(host, write_config,
                                                               monkeypatch) -> None:
    # a third-party check with no batch form (here: max_position's taken away) keeps the
    # compiled replay, with every order through evaluate(), and the same result
    from bot_core.risk.engine import RiskEngine
    from bot_core_risk_checks import MaxPositionCheck

    path = write_config(notional=5.0)
    plan = _plan(host, path, _one_instrument(), ("cross",))
    slow = run_backtest(plan, host, fast=False)
    monkeypatch.setattr(MaxPositionCheck, "check_batch", lambda self, batch: None)
    singles = _count_calls(monkeypatch, RiskEngine, "evaluate")
    compiled = run_backtest(plan, host, compiled=True)
    _same_run(compiled, slow)
    assert singles[0] == sum(slow.verdicts.values()) > 20


def test_a_batch_the_checks_cut_sends_the_run_to_the_event_path(host, write_config) -> None:
    # a 3 % position cap under 5 % orders: the batch finds the first order max_position cuts,
    # and the event path gives the real verdicts
    path = write_config(notional=5.0, max_position=3.0)
    plan = _plan(host, path, _one_instrument(), ("cross",))
    tried = run_backtest(plan, host, compiled=True)
    slow = run_backtest(plan, host, fast=False)
    assert tried.path == "events"
    assert re.match(r"replayed event by event: risk verdict (reduce|reject):max_position_pct "
                    r"at 2024-", tried.fast_path_note), tried.fast_path_note
    assert slow.reject_reasons.get("max_position_pct", 0) + \
        slow.verdicts.get("reduce", 0) > 0
    _same_trades(tried.trades, slow.trades)
    assert tried.verdicts == slow.verdicts
