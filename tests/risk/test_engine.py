"""The risk engine: input guards, the state machine gate, combining verdicts, fail-closed paths,
day rollover, operator actions and persistence."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any, ClassVar

import pytest
from riskkit import MINUTE, T0, fill, intent, make_config

import bot_core
from bot_core import OrderIntent, RiskCheck, Side, TradingState, Verdict
from bot_core.portfolio import Portfolio
from bot_core.risk.check import VerdictAction
from bot_core.risk.engine import ENGINE_CHECK_ID, RiskEngine
from bot_core.risk.tradingday import TradingCalendar

APPROVE, REDUCE, REJECT = VerdictAction.APPROVE, VerdictAction.REDUCE, VerdictAction.REJECT


@pytest.fixture(scope="module")
def host() -> bot_core.PluginHost:
    return bot_core.load_plugins(environ={})


class Transitions(list[tuple[str, str, str, int]]):
    def __call__(self, prev: TradingState, cur: TradingState, cause: str, ts: int) -> None:
        self.append((prev.value, cur.value, cause, ts))


def engine(host: Any = None, *, checks: list[RiskCheck] | None = None, pf: Portfolio | None = None,
           **config: Any) -> tuple[RiskEngine, Portfolio, Transitions]:
    cfg = make_config(**config)
    pf = pf or Portfolio(cfg.runtime.initial_equity)
    if checks is None:
        checks = [host.risk_checks[c]() for c in cfg.risk.checks]
    seen = Transitions()
    return RiskEngine(cfg, checks, pf, on_state_change=seen), pf, seen


def book(eng: RiskEngine, pf: Portfolio, f: Any) -> None:
    assert pf.apply_fill(f)
    eng.on_fill(f)


# -- input guards ----------------------------------------------------------------------------------


class NaNEquity(Portfolio):
    @property
    def equity(self) -> float:
        return math.nan


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"qty": 0.0}, "invalid_quantity"),
    ({"qty": -1.0}, "invalid_quantity"),
    ({"qty": math.nan}, "invalid_quantity"),
    ({"qty": math.inf}, "invalid_quantity"),
    ({"limit": math.nan}, "invalid_limit_price"),
    ({"limit": -3.0}, "invalid_limit_price"),
    ({"instrument": "SOL/USDT"}, "price_unavailable"),
])
def test_bad_inputs_reject(kwargs: dict[str, Any], reason: str) -> None:
    eng, _pf, _ = engine(checks=[])
    eng.on_market_data("BTC/USDT", "venue_a", 100.0, T0)
    args = {"qty": 1.0, **kwargs}
    verdict = eng.evaluate(intent(Side.BUY, args.pop("qty"), cid="c1", **args), T0)
    assert (verdict.action, verdict.reason, verdict.check_id) == (REJECT, reason, ENGINE_CHECK_ID)


def test_limit_order_without_price_rejects() -> None:
    eng, _pf, _ = engine(checks=[])
    eng.on_market_data("BTC/USDT", "venue_a", 100.0, T0)
    from bot_core import OrderType

    bad = OrderIntent("s1", "venue_a", "BTC/USDT", Side.BUY, 1.0, "c", order_type=OrderType.LIMIT)
    assert eng.evaluate(bad, T0).reason == "invalid_limit_price"


def test_nan_equity_rejects_never_approves() -> None:
    eng, _pf, _ = engine(checks=[], pf=NaNEquity(1_000.0))
    eng.on_market_data("BTC/USDT", "venue_a", 100.0, T0)
    assert eng.evaluate(intent(Side.BUY, 1.0, cid="c"), T0).reason == "equity_unavailable"
    assert eng.state is TradingState.ACTIVE  # NaN equity does not trip limits either


# -- combining checks ------------------------------------------------------------------------------


class Fixed(RiskCheck):
    id: ClassVar[str] = "fixed"

    def __init__(self, verdict: Any, ident: str = "fixed") -> None:
        super().__init__()
        self.verdict = verdict
        self.id = ident  # type: ignore[misc]
        self.seen: list[float] = []
        self.accepted: list[float] = []

    def check(self, intent: OrderIntent, ctx: Any) -> Verdict:
        self.seen.append(intent.quantity)
        if isinstance(self.verdict, Exception):
            raise self.verdict
        return self.verdict  # type: ignore[no-any-return]

    def on_accepted(self, intent: OrderIntent, quantity: float, ctx: Any) -> None:
        self.accepted.append(quantity)


def judged(*checks: RiskCheck, qty: float = 10.0) -> Verdict:
    eng, _pf, _ = engine(checks=list(checks))
    eng.on_market_data("BTC/USDT", "venue_a", 100.0, T0)
    return eng.evaluate(intent(Side.BUY, qty, cid="c1"), T0)


def test_reductions_chain_and_take_the_minimum() -> None:
    a = Fixed(Verdict.reduce(6.0, "a_cap"), "a")
    b = Fixed(Verdict.reduce(8.0, "b_cap"), "b")  # malformed if it saw 10, fine after a's 6?
    c = Fixed(Verdict.reduce(3.0, "c_cap"), "c")
    verdict = judged(a, Fixed(Verdict.approve(), "ok"), c)
    assert (verdict.action, verdict.quantity, verdict.reason, verdict.check_id) == (
        REDUCE, 3.0, "c_cap", "c")
    assert c.seen == [6.0]  # later checks judge the already reduced intent
    assert a.accepted == [3.0]
    # a "reduction" to more than what is asked is malformed: fail closed
    verdict = judged(a, b)
    assert (verdict.action, verdict.reason, verdict.check_id) == (REJECT, "check_error", "b")


def test_first_rejection_wins_and_stops() -> None:
    first = Fixed(Verdict.reject("nope", "no way"), "first")
    later = Fixed(Verdict.approve(), "later")
    verdict = judged(first, later)
    assert (verdict.action, verdict.reason, verdict.detail, verdict.check_id) == (
        REJECT, "nope", "no way", "first")
    assert later.seen == [] and first.accepted == []


@pytest.mark.parametrize("bad", [
    RuntimeError("boom"), ZeroDivisionError(), None, "approve",
    Verdict(VerdictAction.REDUCE, "r", quantity=None),
    Verdict(VerdictAction.REDUCE, "r", quantity=math.nan),
    Verdict(VerdictAction.REDUCE, "r", quantity=10.0),
])
def test_exceptions_and_malformed_verdicts_are_check_error(bad: Any) -> None:
    verdict = judged(Fixed(Verdict.approve(), "ok"), Fixed(bad, "broken"))
    assert (verdict.action, verdict.reason, verdict.check_id) == (REJECT, "check_error", "broken")


def test_reduction_to_nothing_is_a_rejection() -> None:
    verdict = judged(Fixed(Verdict.reduce(0.0, "cap"), "capper"))
    assert (verdict.action, verdict.reason, verdict.check_id) == (REJECT, "cap", "capper")


class ExplodingHooks(Fixed):
    def __init__(self, where: str) -> None:
        super().__init__(Verdict.approve(), "exploding")
        self.where = where

    def on_fill(self, fill: Any, ctx: Any) -> None:
        if self.where == "on_fill":
            raise RuntimeError("fill hook")

    def reset_day(self, ctx: Any) -> None:
        if self.where == "reset_day":
            raise RuntimeError("reset hook")

    def on_accepted(self, intent: OrderIntent, quantity: float, ctx: Any) -> None:
        if self.where == "on_accepted":
            raise RuntimeError("accept hook")


@pytest.mark.parametrize("where", ["on_fill", "reset_day", "on_accepted"])
def test_a_check_failing_outside_check_rejects_from_then_on(where: str) -> None:
    eng, pf, _ = engine(checks=[ExplodingHooks(where)])
    eng.on_market_data("BTC/USDT", "venue_a", 100.0, T0)
    assert eng.evaluate(intent(Side.BUY, 1.0, cid="c1"), T0).action is APPROVE
    book(eng, pf, fill(Side.BUY, 1.0, 100.0, tid="t1", ts=T0 + 1))
    eng.on_market_data("BTC/USDT", "venue_a", 100.0, T0 + 86_400 * 10**9)  # next day
    verdict = eng.evaluate(intent(Side.BUY, 1.0, cid="c2"), T0 + 86_400 * 10**9)
    assert (verdict.action, verdict.reason, verdict.check_id) == (REJECT, "check_error",
                                                                 "exploding")
    assert where in verdict.detail


# -- state machine ---------------------------------------------------------------------------------


def test_reduce_only_clamps_a_flip_and_rejects_an_increase(host: Any) -> None:
    eng, pf, _ = engine(checks=[])
    eng.on_market_data("BTC/USDT", "venue_a", 100.0, T0)
    book(eng, pf, fill(Side.BUY, 2.0, 100.0, tid="t1"))
    clamp = eng.evaluate(intent(Side.SELL, 5.0, cid="r1", reduce_only=True), T0)
    assert (clamp.action, clamp.quantity, clamp.reason) == (REDUCE, 2.0, "reduce_only_clamped")
    grow = eng.evaluate(intent(Side.BUY, 1.0, cid="r2", reduce_only=True), T0)
    assert (grow.action, grow.reason) == (REJECT, "reduce_only_not_reducing")
    other_venue = eng.evaluate(intent(Side.SELL, 1.0, cid="r3", reduce_only=True,
                                      venue="venue_b"), T0)
    assert other_venue.action is REJECT  # reduce-only is per venue: nothing open on venue_b
    # r1 (2.0) is still open: a second reducing order would flip the position once both fill
    assert eng.pending_quantity("BTC/USDT", -1, "venue_a") == 2.0
    assert eng.evaluate(intent(Side.SELL, 1.5, cid="r4", reduce_only=True), T0).action is REJECT
    eng.on_order_closed("r1")  # cancelled at the venue
    assert eng.pending_quantity("BTC/USDT", -1) == 0.0 and eng.pending_notional == 0.0
    assert eng.evaluate(intent(Side.SELL, 1.5, cid="r5", reduce_only=True), T0).action is APPROVE
    assert eng.pending_notional == pytest.approx(150.0)


def test_operator_halt_allows_nothing_until_cleared(host: Any) -> None:
    eng, pf, seen = engine(host)
    eng.on_market_data("BTC/USDT", "venue_a", 100.0, T0)
    book(eng, pf, fill(Side.BUY, 1.0, 100.0, tid="t1"))
    eng.halt("exchange incident", T0 + 1)
    assert eng.state is TradingState.HALTED
    assert eng.evaluate(intent(Side.SELL, 1.0, cid="c1"), T0 + 2).reason == "trading_halted"
    with pytest.raises(ValueError):
        eng.halt("  ")
    with pytest.raises(ValueError):
        eng.clear("")
    eng.clear("incident over", T0 + 3)
    assert eng.state is TradingState.ACTIVE
    assert seen == [("active", "halted", "operator: exchange incident", T0 + 1),
                    ("halted", "active", "operator: incident over", T0 + 3)]
    assert eng.evaluate(intent(Side.SELL, 1.0, cid="c2"), T0 + 4).action is APPROVE


def test_drawdown_beats_daily_halt_and_operator_halt_beats_both(host: Any) -> None:
    eng, pf, seen = engine(host, daily_loss_limit_pct=3.0, drawdown_liquidation_pct=5.0)
    eng.on_market_data("BTC/USDT", "venue_a", 100.0, T0)
    book(eng, pf, fill(Side.BUY, 150.0, 100.0, tid="t1"))  # 15k of 100k
    eng.on_market_data("BTC/USDT", "venue_a", 98.0, T0 + MINUTE)  # -300: fine
    assert eng.state is TradingState.ACTIVE
    eng.on_market_data("BTC/USDT", "venue_a", 78.0, T0 + 2 * MINUTE)  # -3,300: 3.3%
    assert eng.state is TradingState.HALTED and eng.daily_loss_halted
    eng.on_market_data("BTC/USDT", "venue_a", 66.0, T0 + 3 * MINUTE)  # -5,100: 5.1% drawdown
    assert eng.state is TradingState.REDUCING and eng.liquidating
    assert [s[2] for s in seen] == ["daily_loss_limit", "drawdown_liquidation"]
    eng.halt("manual")
    assert eng.state is TradingState.HALTED
    eng.clear("reviewed")  # the daily halt stays until the next trading day
    assert eng.state is TradingState.HALTED and not eng.liquidating
    assert eng.equity_peak == pytest.approx(pf.equity)


def test_operator_can_lift_a_daily_halt_to_reduce(host: Any) -> None:
    eng, pf, seen = engine(host, daily_loss_limit_pct=2.0)
    eng.on_market_data("BTC/USDT", "venue_a", 100.0, T0)
    book(eng, pf, fill(Side.BUY, 100.0, 100.0, tid="t1"))
    eng.on_market_data("BTC/USDT", "venue_a", 75.0, T0 + 1)
    assert eng.state is TradingState.HALTED
    eng.clear("close what is open")  # without daily_loss=True the day's halt stays
    assert eng.state is TradingState.HALTED
    eng.clear("close what is open", T0 + 2, daily_loss=True)
    assert eng.state is TradingState.ACTIVE and not eng.daily_loss_halted
    assert seen[-1] == ("halted", "active", "operator: close what is open", T0 + 2)
    eng.on_market_data("BTC/USDT", "venue_a", 70.0, T0 + 3)  # deeper loss: no re-halt today
    assert eng.state is TradingState.ACTIVE
    sell = eng.evaluate(intent(Side.SELL, 50.0, cid="s1"), T0 + 3)
    assert sell.action is APPROVE
    buy = eng.evaluate(intent(Side.BUY, 1.0, cid="b1"), T0 + 3)
    assert (buy.action, buy.reason, buy.check_id) == (REJECT, "daily_loss_limit", "daily_loss")
    restored, _, _ = engine(host, daily_loss_limit_pct=2.0, pf=pf)
    restored.restore(json.loads(json.dumps(eng.snapshot())))
    nxt = TradingCalendar().next_boundary_ns(eng.trading_day)  # type: ignore[arg-type]
    restored.on_market_data("BTC/USDT", "venue_a", 70.0, nxt)
    restored.on_market_data("BTC/USDT", "venue_a", 40.0, nxt + 1)  # a new day: monitored again
    assert restored.state is TradingState.HALTED


def test_limits_trigger_at_exactly_the_limit(host: Any) -> None:
    eng, pf, _ = engine(host, daily_loss_limit_pct=4.0, drawdown_liquidation_pct=20.0)
    eng.on_market_data("BTC/USDT", "venue_a", 100.0, T0)
    book(eng, pf, fill(Side.BUY, 100.0, 100.0, tid="t1"))
    eng.on_market_data("BTC/USDT", "venue_a", 60.0 + 1e-7, T0 + 1)
    assert eng.state is TradingState.ACTIVE
    eng.on_market_data("BTC/USDT", "venue_a", 60.0, T0 + 2)  # exactly -4,000 = 4%
    assert eng.state is TradingState.HALTED


def test_fees_alone_can_trip_the_daily_loss(host: Any) -> None:
    eng, pf, _ = engine(host, daily_loss_limit_pct=1.0)
    eng.on_market_data("BTC/USDT", "venue_a", 100.0, T0)
    book(eng, pf, fill(Side.BUY, 1.0, 100.0, tid="t1", fee=1_000.0))
    assert eng.state is TradingState.HALTED and eng.cause == "daily_loss_limit"


# -- trading day -----------------------------------------------------------------------------------


def test_day_rolls_once_per_boundary_and_not_on_the_first_event() -> None:
    resets: list[dt.date | None] = []

    class Counter(Fixed):
        def reset_day(self, ctx: Any) -> None:
            resets.append(ctx_engine.trading_day)

    ctx_engine, _pf, _ = engine(checks=[Counter(Verdict.approve(), "counter")],
                                timezone="Europe/London", day_start=dt.time(9, 0))
    start = int(dt.datetime(2024, 3, 29, 8, 0, tzinfo=dt.UTC).timestamp()) * 10**9  # 08:00 GMT
    ctx_engine.on_market_data("BTC/USDT", "venue_a", 100.0, start)
    assert ctx_engine.trading_day == dt.date(2024, 3, 28) and resets == []
    hour = 3_600 * 10**9
    for h in range(1, 80):
        ctx_engine.on_market_data("BTC/USDT", "venue_a", 100.0, start + h * hour)
    # 09:00 London on Mar 29 (GMT, 09:00Z), Mar 30 (09:00Z), Mar 31 (BST: 08:00Z), Apr 1 (08:00Z)
    assert resets == [dt.date(2024, 3, 29), dt.date(2024, 3, 30), dt.date(2024, 3, 31),
                      dt.date(2024, 4, 1)]
    assert ctx_engine.day_resets == 4
    ctx_engine.on_market_data("BTC/USDT", "venue_a", 100.0, start)  # late, out-of-order tick
    assert ctx_engine.day_resets == 4 and ctx_engine.trading_day == dt.date(2024, 4, 1)


@pytest.mark.parametrize(("tz", "start", "day", "expected_utc"), [
    # Europe/London spring forward 2024-03-31 01:00 GMT -> 02:00 BST; 01:30 does not exist
    ("Europe/London", dt.time(1, 30), dt.date(2024, 3, 31), dt.datetime(2024, 3, 31, 1, 30)),
    ("Europe/London", dt.time(0, 0), dt.date(2024, 3, 31), dt.datetime(2024, 3, 31, 0, 0)),
    ("Europe/London", dt.time(0, 0), dt.date(2024, 4, 1), dt.datetime(2024, 3, 31, 23, 0)),
    # New York fall back 2024-11-03 02:00 EDT -> 01:00 EST; 01:30 happens twice: first one
    ("America/New_York", dt.time(1, 30), dt.date(2024, 11, 3), dt.datetime(2024, 11, 3, 5, 30)),
    ("America/New_York", dt.time(17, 0), dt.date(2024, 11, 4), dt.datetime(2024, 11, 4, 22, 0)),
])
def test_calendar_boundaries_across_dst(tz: str, start: dt.time, day: dt.date,
                                        expected_utc: dt.datetime) -> None:
    cal = TradingCalendar(tz, start)
    boundary = cal.boundary_ns(day)
    assert boundary == int(expected_utc.replace(tzinfo=dt.UTC).timestamp()) * 10**9
    assert cal.day_of(boundary) == day
    assert cal.day_of(boundary - 1) == day - dt.timedelta(days=1)
    assert cal.next_boundary_ns(day - dt.timedelta(days=1)) == boundary


def test_calendar_day_lengths_are_23_and_25_hours() -> None:
    cal = TradingCalendar("America/New_York", dt.time(0, 0))
    hour = 3_600 * 10**9
    spring = cal.boundary_ns(dt.date(2024, 3, 11)) - cal.boundary_ns(dt.date(2024, 3, 10))
    fall = cal.boundary_ns(dt.date(2024, 11, 4)) - cal.boundary_ns(dt.date(2024, 11, 3))
    assert (spring, fall) == (23 * hour, 25 * hour)


# -- liquidation and persistence -------------------------------------------------------------------


def test_liquidation_closes_only_net_exposure_per_venue(host: Any) -> None:
    eng, pf, _ = engine(host, drawdown_liquidation_pct=2.0, daily_loss_limit_pct=50.0)
    for inst in ("BTC/USDT", "ETH/USDT"):
        eng.on_market_data(inst, "venue_a", 100.0, T0)
    book(eng, pf, fill(Side.BUY, 100.0, 100.0, tid="t1", strategy="a"))
    book(eng, pf, fill(Side.SELL, 30.0, 100.0, tid="t2", strategy="b"))  # net +70 on venue_a
    book(eng, pf, fill(Side.BUY, 10.0, 100.0, tid="t3", strategy="a", instrument="ETH/USDT"))
    book(eng, pf, fill(Side.SELL, 10.0, 100.0, tid="t4", strategy="b", instrument="ETH/USDT"))
    assert eng.liquidation_intents(T0) == []  # no drawdown, nothing to do
    eng.on_market_data("BTC/USDT", "venue_a", 96.0, T0 + 1)  # -280 on 70 net: no
    eng.on_market_data("BTC/USDT", "venue_a", 70.0, T0 + 2)  # -2,100: 2.1%
    assert eng.state is TradingState.REDUCING
    liq = eng.liquidation_intents(T0 + 2)
    assert [(i.strategy_id, i.instrument, i.side, i.quantity, i.reduce_only) for i in liq] == [
        ("a", "BTC/USDT", Side.SELL, 70.0, True)]
    assert eng.liquidation_intents(T0 + 3) == []  # in flight
    verdict = eng.evaluate(liq[0], T0 + 3)
    assert verdict.action is APPROVE
    assert eng.evaluate(intent(Side.BUY, 1.0, cid="new", strategy="b"), T0 + 3).reason == \
        "trading_reducing_not_reducing"
    eng.on_order_closed(liq[0].client_order_id)  # e.g. the venue cancelled it
    again = eng.liquidation_intents(T0 + 4)
    assert len(again) == 1 and again[0].client_order_id != liq[0].client_order_id
    stale_check = eng.evaluate(again[0], T0 + 10**15)  # stale data rejects: may retry later
    assert stale_check.reason == "stale_market_data"
    # not on every event while the data stays as old (it would meet the same stale verdict):
    # other instruments' and other venues' data do not count, new data for it does
    assert eng.liquidation_intents(T0 + 10**15) == []
    eng.on_market_data("ETH/USDT", "venue_a", 100.0, T0 + 10**15)
    eng.on_market_data("BTC/USDT", "venue_b", 70.0, T0 + 10**15)
    assert eng.liquidation_intents(T0 + 10**15 + 1) == []
    eng.on_market_data("BTC/USDT", "venue_a", 70.0, T0 + 10**15 + 2)
    retry = eng.liquidation_intents(T0 + 10**15 + 2)
    assert [(i.strategy_id, i.instrument, i.quantity) for i in retry] == [("a", "BTC/USDT", 70.0)]
    assert eng.evaluate(retry[0], T0 + 10**15 + 2).action is APPROVE
    assert eng.liquidation_intents(T0 + 10**15 + 3) == []  # in flight again


def test_operator_clear_forgets_rejected_liquidations(host: Any) -> None:
    eng, pf, _ = engine(host, drawdown_liquidation_pct=2.0, daily_loss_limit_pct=50.0)
    for inst in ("BTC/USDT", "ETH/USDT"):
        eng.on_market_data(inst, "venue_a", 100.0, T0)
    book(eng, pf, fill(Side.BUY, 100.0, 100.0, tid="t1", strategy="a"))
    book(eng, pf, fill(Side.BUY, 100.0, 100.0, tid="t2", strategy="a", instrument="ETH/USDT"))
    eng.on_market_data("BTC/USDT", "venue_a", 70.0, T0 + 1)
    liq = {i.instrument: i for i in eng.liquidation_intents(T0 + 1)}
    assert sorted(liq) == ["BTC/USDT", "ETH/USDT"]
    for i in liq.values():
        assert eng.evaluate(i, T0 + 10**15).reason == "stale_market_data"
    eng.on_market_data("ETH/USDT", "venue_a", 100.0, T0 + 10**15)
    assert [i.instrument for i in eng.liquidation_intents(T0 + 10**15)] == ["ETH/USDT"]
    eng.clear("reviewed", T0 + 10**15)
    assert eng.state is TradingState.ACTIVE and eng.liquidation_intents(T0 + 10**15) == []
    eng.on_market_data("ETH/USDT", "venue_a", 50.0, T0 + 10**15 + 1)  # a new drawdown
    assert eng.state is TradingState.REDUCING
    # BTC's data is as old as when its order was rejected, but the operator started afresh
    assert sorted(i.instrument for i in eng.liquidation_intents(T0 + 10**15 + 1)) == [
        "BTC/USDT", "ETH/USDT"]


def test_snapshot_restore_keeps_day_and_state(host: Any) -> None:
    eng, pf, _ = engine(host, timezone="America/New_York", daily_loss_limit_pct=2.0)
    eng.on_market_data("BTC/USDT", "venue_a", 100.0, T0)
    book(eng, pf, fill(Side.BUY, 100.0, 100.0, tid="t1"))
    assert eng.evaluate(intent(Side.BUY, 1.0, cid="dup"), T0).action is APPROVE
    eng.on_market_data("BTC/USDT", "venue_a", 70.0, T0 + MINUTE)
    assert eng.state is TradingState.HALTED
    state = json.loads(json.dumps(eng.snapshot()))
    pf2 = Portfolio.from_snapshot(json.loads(json.dumps(pf.snapshot())))
    eng2, _, seen2 = engine(host, timezone="America/New_York", daily_loss_limit_pct=2.0, pf=pf2)
    eng2.restore(state)
    assert eng2.snapshot() == eng.snapshot()
    assert eng2.state is TradingState.HALTED and seen2 == []
    eng2.on_market_data("BTC/USDT", "venue_a", 70.0, T0 + 2 * MINUTE)  # same day: no reset
    assert eng2.day_resets == 0 and eng2.state is TradingState.HALTED
    nxt = TradingCalendar("America/New_York").next_boundary_ns(eng2.trading_day)  # type: ignore
    eng2.on_market_data("BTC/USDT", "venue_a", 70.0, nxt)
    assert eng2.day_resets == 1 and eng2.state is TradingState.ACTIVE
    assert seen2 == [("halted", "active", "new_trading_day", nxt)]
    assert eng2.evaluate(intent(Side.SELL, 1.0, cid="dup"), nxt).reason == \
        "duplicate_client_order_id"  # the check's memory survived the restart
    with pytest.raises(ValueError, match="version"):
        eng2.restore({"version": 99})


def test_committed_orders_release_on_partial_fills_and_close() -> None:
    from bot_core.risk.committed import CommittedOrders

    book_ = CommittedOrders()
    assert not book_
    book_.add("a", "venue_a", "BTC/USDT", 1.0, 2.0, 100.0)
    book_.add("b", "venue_b", "BTC/USDT", -1.0, 1.0, 110.0)
    assert book_.quantity("BTC/USDT", 1.0) == 2.0
    assert book_.quantity("BTC/USDT", -1.0, "venue_b") == 1.0
    assert book_.quantity("BTC/USDT", -1.0, "venue_a") == 0.0
    assert book_.notional == pytest.approx(310.0)
    book_.release("a", 0.5)  # partial fill
    assert book_.quantity("BTC/USDT", 1.0, "venue_a") == 1.5
    assert book_.notional == pytest.approx(260.0)
    copy = CommittedOrders()
    copy.restore(json.loads(json.dumps(book_.snapshot())))
    assert copy.snapshot() == book_.snapshot() and copy.notional == pytest.approx(260.0)
    book_.release("a", 5.0)  # overfill: released in full, never negative
    book_.release("unknown")
    assert book_.quantity("BTC/USDT", 1.0) == 0.0 and bool(book_)
    book_.release("b")
    assert not book_ and book_.notional == 0.0


# -- batch judging ---------------------------------------------------------------------------------


class Batched(RiskCheck):
    """A check whose batch form answers ``answer`` (a mask, None, or an exception to raise)."""

    id: ClassVar[str] = "batched"

    def __init__(self, answer: Any, ident: str = "batched") -> None:
        super().__init__()
        self.answer = answer
        self.id = ident  # type: ignore[misc]
        self.accepted = 0

    def check(self, intent: OrderIntent, ctx: Any) -> Verdict:
        return Verdict.approve()

    def check_batch(self, batch: Any) -> Any:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def accept_batch(self, batch: Any) -> None:
        self.accepted += len(batch)


def order_batch(n: int = 4, **columns: Any) -> Any:
    import numpy as np

    from bot_core.risk.batch import OrderBatch

    cfg = make_config()
    values: dict[str, Any] = {
        "now_ns": T0 + MINUTE * np.arange(n), "instrument": np.zeros(n, dtype=np.int64),
        "venue": np.zeros(n, dtype=np.int64), "side": np.ones(n), "quantity": np.ones(n),
        "client_order_id": [f"c{i}" for i in range(n)], "equity": np.full(n, 1e5),
        "gross_exposure": np.zeros(n), "equity_peak": np.full(n, 1e5),
        "day_start_equity": np.full(n, 1e5), "price": np.full(n, 100.0),
        "last_update_ns": T0 + MINUTE * np.arange(n), "position_at_venue": np.zeros(n),
        "positions": np.zeros((n, 1)), "marks": np.full((n, 1), 100.0)}
    values.update(columns)
    return OrderBatch(instruments=["BTC/USDT"], venues=["venue_a"], limits=cfg.risk,
                      buckets=cfg.buckets, **values)


def test_judge_batch_stops_at_the_first_order_any_check_or_gate_refuses() -> None:
    import numpy as np

    mask = np.array([True, True, False, True])
    eng, _, _ = engine(checks=[Batched(np.ones(4, dtype=bool), "a"), Batched(mask, "b")])
    assert eng.judge_batch(order_batch()) == (2, "b")
    # the engine's own gates come first: a NaN equity at order 1 fails closed there
    equity = np.array([1e5, math.nan, 1e5, 1e5])
    assert eng.judge_batch(order_batch(equity=equity)) == (1, ENGINE_CHECK_ID)
    eng, _, _ = engine(checks=[Batched(np.ones(4, dtype=bool))])
    assert eng.judge_batch(order_batch(price=np.array([100.0, 100.0, 100.0, 0.0]))) == (
        3, ENGINE_CHECK_ID)
    check = Batched(np.ones(4, dtype=bool))
    eng, _, _ = engine(checks=[check])
    batch = order_batch()
    assert eng.judge_batch(batch) == (4, ENGINE_CHECK_ID)
    assert check.accepted == 0  # judging changes nothing
    eng.accept_batch(batch)
    assert check.accepted == 4 and eng.now_ns == int(batch.now_ns[-1])


@pytest.mark.parametrize("answer", [None, RuntimeError("boom"), [True] * 4,
                                    "mask", "short"])
def test_judge_batch_gives_way_to_order_by_order_judging(answer: Any) -> None:
    # no batch form, a batch form that raises, or a malformed answer: judge one by one (where
    # evaluate() turns an exception into check_error), never a silent approval
    import numpy as np

    if answer == "mask":
        answer = np.ones(4)  # floats, not booleans
    elif answer == "short":
        answer = np.ones(3, dtype=bool)
    eng, _, _ = engine(checks=[Batched(np.ones(4, dtype=bool), "a"), Batched(answer, "b")])
    assert eng.judge_batch(order_batch()) is None


def test_judge_batch_needs_an_active_engine_and_checks_without_fill_hooks(host: Any) -> None:
    import numpy as np

    eng, _, _ = engine(checks=[Batched(np.ones(4, dtype=bool))])
    eng.halt("maintenance", T0)
    assert eng.judge_batch(order_batch()) is None

    class Watching(Batched):
        def on_fill(self, fill: Any, ctx: Any) -> None:
            pass

    eng, _, _ = engine(checks=[Watching(np.ones(4, dtype=bool))])
    assert eng.judge_batch(order_batch()) is None
