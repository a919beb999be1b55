"""Each core check against a small, fully specified context, plus registration and the checks
running inside the host's real risk engine."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

import bot_core
from bot_core import OrderIntent, OrderType, Side, TradingState, Verdict
from bot_core.config import BotConfig, BucketConfig, RiskLimits, resolve_config
from bot_core.risk.check import VerdictAction
from bot_core_risk_checks import (
    ALL_CHECKS,
    BucketExposureCheck,
    DailyLossCheck,
    DrawdownCheck,
    DuplicateOrderCheck,
    FatFingerCheck,
    MaxLeverageCheck,
    MaxPositionCheck,
    OrderRateCheck,
    StaleDataCheck,
)
from bot_core_risk_checks.guards import FatFingerSettings, StaleDataSettings
from bot_core_risk_checks.orderflow import DuplicateOrderSettings

APPROVE, REDUCE, REJECT = VerdictAction.APPROVE, VerdictAction.REDUCE, VerdictAction.REJECT
T0 = 1_700_000_000 * 1_000_000_000
BALANCED: BotConfig = resolve_config(preset="balanced", universe="demo", environ={}).config


@dataclass
class Ctx:
    """A RiskContext with every figure given explicitly."""

    equity: float = 100_000.0
    prices: dict[str, float] = field(default_factory=lambda: {"BTC/USDT": 50_000.0})
    positions: dict[tuple[str, str], float] = field(default_factory=dict)
    pending: dict[tuple[str, str, int], float] = field(default_factory=dict)
    now_ns: int = T0
    updates: dict[str, int] = field(default_factory=lambda: {"BTC/USDT": T0})
    equity_peak: float = 100_000.0
    day_start_equity: float = 100_000.0
    trading_state: TradingState = TradingState.ACTIVE
    limits: RiskLimits = BALANCED.risk
    buckets: Mapping[str, BucketConfig] = field(default_factory=lambda: BALANCED.buckets)
    gross_nan: bool = False

    def position(self, instrument: str, venue: str | None = None) -> float:
        return sum(q for (v, i), q in self.positions.items()
                   if i == instrument and (venue is None or v == venue))

    def last_price(self, instrument: str, venue: str | None = None) -> float:
        return self.prices.get(instrument, math.nan)

    def last_update_ns(self, instrument: str, venue: str | None = None) -> int:
        return self.updates.get(instrument, 0)

    def pending_quantity(self, instrument: str, side_sign: float, venue: str | None = None) -> float:
        sign = 1 if side_sign > 0 else -1
        return sum(q for (v, i, s), q in self.pending.items()
                   if i == instrument and s == sign and (venue is None or v == venue))

    @property
    def pending_notional(self) -> float:
        return sum(q * self.prices.get(i, math.nan) for (_v, i, _s), q in self.pending.items())

    @property
    def gross_exposure(self) -> float:
        if self.gross_nan:
            return math.nan
        return sum(abs(q) * self.prices.get(i, math.nan) for (_v, i), q in self.positions.items())


def order(side: Side, qty: float, *, inst: str = "BTC/USDT", venue: str = "venue_a",
          cid: str = "c1", limit: float | None = None) -> OrderIntent:
    return OrderIntent("s1", venue, inst, side, qty, cid,
                       order_type=OrderType.LIMIT if limit else OrderType.MARKET,
                       limit_price=limit)


def limits(**overrides: Any) -> RiskLimits:
    return RiskLimits.model_validate({**BALANCED.risk.model_dump(), **overrides})


def act(verdict: Verdict) -> tuple[VerdictAction, str, float | None]:
    q = None if verdict.quantity is None else round(verdict.quantity, 9)
    return verdict.action, verdict.reason, q


# -- registration ----------------------------------------------------------------------------------


def test_plugin_registers_every_core_check() -> None:
    host = bot_core.load_plugins(environ={})
    record = host.record("core_checks")
    assert record is not None and record.status == "enabled", record
    assert record.distribution == "bot-core-risk-checks" and record.version == "0.1.0"
    ids = {"max_position", "bucket_exposure", "max_leverage", "daily_loss", "drawdown",
           "order_rate", "duplicate_order", "fat_finger", "stale_data"}
    assert set(record.components["risk_check"]) == ids
    assert {c.id for c in ALL_CHECKS} == ids
    assert set(BALANCED.risk.checks) == ids
    for check_id in ids:
        assert host.owners[("risk_check", check_id)] == "bot-core-risk-checks"


@pytest.mark.parametrize("model", [FatFingerSettings, StaleDataSettings, DuplicateOrderSettings])
def test_settings_are_frozen_and_reject_unknown_fields(model: Any) -> None:
    with pytest.raises(ValidationError, match="extra"):
        model.model_validate({"nope": 1})
    settings = model()
    with pytest.raises(ValidationError):
        settings.__setattr__(next(iter(model.model_fields)), 1)


def test_settings_ranges() -> None:
    with pytest.raises(ValidationError):
        FatFingerSettings(max_price_deviation_pct=0)
    with pytest.raises(ValidationError):
        FatFingerSettings(max_notional=-5)
    with pytest.raises(ValidationError):
        StaleDataSettings(max_age_s=0)
    with pytest.raises(ValidationError):
        DuplicateOrderSettings(remember=10)


# -- exposure --------------------------------------------------------------------------------------


def test_max_position_per_instrument_combines_strategies_and_pending() -> None:
    check = MaxPositionCheck()
    ctx = Ctx()
    assert act(check.check(order(Side.BUY, 0.4), ctx)) == (APPROVE, "ok", None)  # 20% exactly
    assert act(check.check(order(Side.BUY, 0.5), ctx)) == (REDUCE, "max_position_pct", 0.4)
    ctx.positions[("venue_b", "BTC/USDT")] = 0.3  # another strategy, another venue
    assert act(check.check(order(Side.BUY, 0.5), ctx)) == (REDUCE, "max_position_pct", 0.1)
    ctx.pending[("venue_a", "BTC/USDT", 1)] = 0.1  # an open approved buy takes the rest
    assert act(check.check(order(Side.BUY, 0.5), ctx))[:2] == (REJECT, "max_position_pct")
    # selling always fits: it reduces, and a flip is capped on the other side
    assert check.check(order(Side.SELL, 0.3), ctx).action is APPROVE
    assert act(check.check(order(Side.SELL, 1.0), ctx)) == (REDUCE, "max_position_pct", 0.7)


def test_max_position_total_cap_uses_gross_exposure() -> None:
    check = MaxPositionCheck()
    ctx = Ctx(limits=limits(max_position_pct=20.0, max_total_position_pct=50.0),
              prices={"BTC/USDT": 50_000.0, "ETH/USDT": 2_000.0})
    ctx.positions[("venue_a", "ETH/USDT")] = 17.5  # 35k
    assert act(check.check(order(Side.BUY, 0.4), ctx)) == (REDUCE, "max_total_position_pct", 0.3)
    ctx.pending[("venue_a", "ETH/USDT", 1)] = 5.0  # +10k committed
    assert act(check.check(order(Side.BUY, 0.4), ctx)) == (REDUCE, "max_total_position_pct", 0.1)


@pytest.mark.parametrize("check_cls", [MaxPositionCheck, MaxLeverageCheck, BucketExposureCheck,
                                       FatFingerCheck])
@pytest.mark.parametrize("broken", ["equity", "price"])
def test_missing_inputs_reject(check_cls: Any, broken: str) -> None:
    ctx = Ctx(equity=math.nan) if broken == "equity" else Ctx(prices={"BTC/USDT": math.nan})
    if broken == "equity" and check_cls is FatFingerCheck:
        ctx.equity = math.nan
    verdict = check_cls().check(order(Side.BUY, 0.01), ctx)
    assert verdict.action is REJECT and verdict.reason == f"{broken}_unavailable"


@pytest.mark.parametrize("check_cls", [MaxPositionCheck, MaxLeverageCheck, BucketExposureCheck,
                                       FatFingerCheck, DailyLossCheck, DrawdownCheck])
def test_a_nan_position_never_passes_as_reducing(check_cls: Any) -> None:
    # a NaN position once made every order "reduce it in full" and pass: it must fail closed
    ctx = Ctx(equity=90_000.0, equity_peak=200_000.0, day_start_equity=200_000.0)
    ctx.positions[("venue_a", "BTC/USDT")] = math.nan
    big = FatFingerCheck().settings.max_notional_pct_of_equity / 100 * 90_000.0 / 50_000.0
    verdict = check_cls().check(order(Side.SELL, 2.0 * big), ctx)
    assert verdict.action is not APPROVE, verdict


@pytest.mark.parametrize("check_cls", [MaxPositionCheck, MaxLeverageCheck])
def test_unknown_gross_exposure_rejects(check_cls: Any) -> None:
    verdict = check_cls().check(order(Side.BUY, 0.01), Ctx(gross_nan=True))
    assert (verdict.action, verdict.reason) == (REJECT, "gross_exposure_unavailable")


def test_max_leverage() -> None:
    check = MaxLeverageCheck()
    ctx = Ctx(limits=limits(max_leverage=1.0, max_total_position_pct=100.0))
    ctx.positions[("venue_a", "BTC/USDT")] = 1.0  # 50k
    assert act(check.check(order(Side.BUY, 2.0), ctx)) == (REDUCE, "max_leverage", 1.0)
    ctx.positions[("venue_a", "BTC/USDT")] = 2.0
    assert check.check(order(Side.BUY, 0.01), ctx).action is REJECT
    assert check.check(order(Side.SELL, 1.0), ctx).action is APPROVE


def test_bucket_exposure_caps_the_bucket() -> None:
    check = BucketExposureCheck()
    ctx = Ctx(prices={"BTC/USDT": 50_000.0, "ETH/USDT": 2_000.0, "XRP/USDT": 1.0})
    # majors: BTC + ETH, balanced default cap 60% of 100k
    ctx.positions[("venue_a", "ETH/USDT")] = -10.0  # 20k short counts as exposure
    assert act(check.check(order(Side.BUY, 1.0), ctx)) == (REDUCE, "bucket_exposure_pct", 0.8)
    ctx.pending[("venue_a", "ETH/USDT", -1)] = 5.0  # +10k committed short
    assert act(check.check(order(Side.BUY, 1.0), ctx)) == (REDUCE, "bucket_exposure_pct", 0.6)
    assert check.check(order(Side.BUY, 1.0, inst="XRP/USDT"), ctx).reason == "no_bucket"
    del ctx.prices["ETH/USDT"]
    assert check.check(order(Side.BUY, 0.1), ctx).reason == "price_unavailable"


def test_bucket_cap_override() -> None:
    buckets = {"majors": BucketConfig(instruments=["BTC/USDT"], max_exposure_pct=10.0)}
    ctx = Ctx(buckets=buckets)
    check = BucketExposureCheck()
    assert act(check.check(order(Side.BUY, 1.0), ctx)) == (REDUCE, "bucket_exposure_pct", 0.2)
    ctx.buckets = {"majors": BucketConfig(instruments=["BTC/USDT"], max_exposure_pct=30.0)}
    assert act(check.check(order(Side.BUY, 1.0), ctx)) == (REDUCE, "bucket_exposure_pct", 0.6)


# -- losses ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("check_cls", "field_name", "limit", "reason"), [
    (DailyLossCheck, "day_start_equity", 4.0, "daily_loss_limit"),
    (DrawdownCheck, "equity_peak", 20.0, "drawdown_limit"),
])
def test_loss_gates(check_cls: Any, field_name: str, limit: float, reason: str) -> None:
    check = check_cls()
    start = 100_000.0
    ctx = Ctx(equity=start * (1 - (limit - 0.01) / 100))
    setattr(ctx, field_name, start)
    ctx.positions[("venue_a", "BTC/USDT")] = 0.5
    assert check.check(order(Side.BUY, 0.1), ctx).action is APPROVE
    ctx.equity = start * (1 - limit / 100)  # exactly at the limit
    assert act(check.check(order(Side.BUY, 0.1), ctx))[:2] == (REJECT, reason)
    assert check.check(order(Side.SELL, 0.5), ctx).action is APPROVE
    assert act(check.check(order(Side.SELL, 0.8), ctx)) == (REDUCE, reason, 0.5)
    ctx.pending[("venue_a", "BTC/USDT", -1)] = 0.5
    assert check.check(order(Side.SELL, 0.1), ctx).action is REJECT  # the open sell covers it
    setattr(ctx, field_name, math.nan)
    assert check.check(order(Side.SELL, 0.1), ctx).reason == "equity_unavailable"


# -- order flow ------------------------------------------------------------------------------------


def test_order_rate_burst_lets_exactly_the_limit_through_and_slides() -> None:
    check = OrderRateCheck()
    ctx = Ctx(limits=limits(max_orders_per_minute=5))
    passed = 0
    for i in range(12):
        ctx.now_ns = T0 + i * 1_000_000  # a burst within 12 ms
        if check.check(order(Side.BUY, 0.01, cid=f"b{i}"), ctx).action is APPROVE:
            check.on_accepted(order(Side.BUY, 0.01, cid=f"b{i}"), 0.01, ctx)
            passed += 1
    assert passed == 5
    ctx.now_ns = T0 + 60 * 1_000_000_000 - 1
    assert check.check(order(Side.BUY, 0.01), ctx).reason == "order_rate"
    ctx.now_ns = T0 + 60 * 1_000_000_000  # the first accepted order leaves the window
    assert check.check(order(Side.BUY, 0.01), ctx).action is APPROVE
    check.on_accepted(order(Side.BUY, 0.01), 0.01, ctx)
    restored = OrderRateCheck()
    restored.restore(json.loads(json.dumps(check.snapshot())))
    assert restored.check(order(Side.BUY, 0.01), ctx).reason == "order_rate"


def test_unaccepted_orders_do_not_count() -> None:
    check = OrderRateCheck()
    ctx = Ctx(limits=limits(max_orders_per_minute=2))
    for _ in range(10):
        assert check.check(order(Side.BUY, 0.01), ctx).action is APPROVE


def test_duplicate_client_order_ids() -> None:
    check = DuplicateOrderCheck(DuplicateOrderSettings(remember=1_000))
    ctx = Ctx()
    assert check.check(order(Side.BUY, 0.1, cid="a"), ctx).action is APPROVE
    assert act(check.check(order(Side.SELL, 0.2, cid="a"), ctx))[:2] == (
        REJECT, "duplicate_client_order_id")
    assert check.check(order(Side.BUY, 0.1, cid=""), ctx).reason == "missing_client_order_id"
    for i in range(1_000):
        check.check(order(Side.BUY, 0.1, cid=f"n{i}"), ctx)
    assert check.check(order(Side.BUY, 0.1, cid="a"), ctx).action is APPROVE  # forgotten
    restored = DuplicateOrderCheck(DuplicateOrderSettings(remember=1_000))
    restored.restore(json.loads(json.dumps(check.snapshot())))
    assert restored.check(order(Side.BUY, 0.1, cid="n999"), ctx).action is REJECT


# -- guards ----------------------------------------------------------------------------------------


def test_fat_finger_price_band_and_notional() -> None:
    check = FatFingerCheck(FatFingerSettings(max_price_deviation_pct=5.0,
                                             max_notional_pct_of_equity=30.0,
                                             max_notional=25_000.0))
    ctx = Ctx()
    assert check.check(order(Side.BUY, 0.1, limit=52_400.0), ctx).action is APPROVE
    assert act(check.check(order(Side.BUY, 0.1, limit=52_600.0), ctx))[:2] == (
        REJECT, "fat_finger_price")
    assert check.check(order(Side.SELL, 0.1, limit=47_000.0), ctx).reason == "fat_finger_price"
    assert check.check(order(Side.BUY, 0.6), ctx).reason == "fat_finger_notional"  # 30k > 25k
    loose = FatFingerCheck(FatFingerSettings(max_notional_pct_of_equity=30.0))
    assert loose.check(order(Side.BUY, 0.6), ctx).action is APPROVE  # 30k = 30%
    assert loose.check(order(Side.BUY, 0.61), ctx).reason == "fat_finger_notional"
    ctx.positions[("venue_a", "BTC/USDT")] = 2.0
    assert loose.check(order(Side.SELL, 2.0), ctx).action is APPROVE  # reducing: no cap
    bad = OrderIntent("s1", "venue_a", "BTC/USDT", Side.BUY, 0.1, "x",
                      order_type=OrderType.LIMIT, limit_price=math.nan)
    assert check.check(bad, ctx).reason == "invalid_limit_price"


def test_fat_finger_defaults() -> None:
    check = FatFingerCheck()
    ctx = Ctx()
    assert check.check(order(Side.BUY, 1.9), ctx).action is APPROVE  # 95k < 100% of equity
    assert check.check(order(Side.BUY, 2.1), ctx).reason == "fat_finger_notional"
    assert check.check(order(Side.BUY, 0.1, limit=56_000.0), ctx).reason == "fat_finger_price"


def test_stale_data() -> None:
    check = StaleDataCheck(StaleDataSettings(max_age_s=30))
    ctx = Ctx()
    ctx.now_ns = T0 + 30 * 1_000_000_000
    assert check.check(order(Side.BUY, 0.1), ctx).action is APPROVE
    ctx.now_ns += 1
    assert check.check(order(Side.BUY, 0.1), ctx).reason == "stale_market_data"
    assert check.check(order(Side.BUY, 0.1, inst="ETH/USDT"), ctx).reason == "no_market_data"
    assert StaleDataCheck().check(order(Side.BUY, 0.1), ctx).action is APPROVE  # 300 s default


# -- inside the host's engine ----------------------------------------------------------------------


def test_checks_inside_the_real_engine() -> None:
    from bot_core.orders import Fill
    from bot_core.portfolio import Portfolio
    from bot_core.risk.engine import RiskEngine

    host = bot_core.load_plugins(environ={})
    checks = [host.risk_checks[c]() for c in BALANCED.risk.checks]
    portfolio = Portfolio(100_000.0)
    engine = RiskEngine(BALANCED, checks, portfolio)
    engine.on_market_data("BTC/USDT", "venue_a", 50_000.0, T0)
    first = engine.evaluate(order(Side.BUY, 0.3, cid="a"), T0)
    second = engine.evaluate(order(Side.BUY, 0.3, cid="b"), T0)  # first still open: 0.1 left
    assert first.action is APPROVE
    assert (second.action, second.check_id, round(second.quantity or 0, 9)) == (
        REDUCE, "max_position", 0.1)
    fill = Fill("t1", "a", "venue_a", "BTC/USDT", Side.BUY, 0.3, 50_000.0, 0.0, T0,
                strategy_id="s1")
    portfolio.apply_fill(fill)
    engine.on_fill(fill)
    engine.on_order_closed("b")
    third = engine.evaluate(order(Side.BUY, 0.3, cid="c"), T0)
    assert round(third.quantity or 0, 9) == 0.1
    again = engine.evaluate(order(Side.SELL, 0.01, cid="c"), T0)
    assert (again.reason, again.check_id) == ("duplicate_client_order_id", "duplicate_order")
