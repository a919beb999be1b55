"""The batch form of every core check against its order-by-order form.

For random but meaningful batches (several venues and instruments, buckets, positions that
orders close or flip, prices and equities that are sometimes NaN, 0, inf or negative, loss
figures on their thresholds, market data around the stale limit, bursts of orders, duplicate
and empty client order ids) each property builds the exact :class:`RiskContext` of every order,
runs a fresh check order by order (``check`` then ``on_accepted`` after each approval, stopping
at the first other verdict) and compares it with a twin's ``check_batch`` on the whole batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot_core import OrderIntent, OrderType, RiskCheck, Side, TradingState
from bot_core.config import BotConfig, BucketConfig, RiskLimits, resolve_config
from bot_core.risk.batch import OrderBatch, capped_quantities, reducing_quantities
from bot_core.risk.check import VerdictAction
from bot_core.risk.exposure import capped_quantity, reducing_quantity
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

BALANCED: BotConfig = resolve_config(preset="balanced", universe="demo", environ={}).config
INSTRUMENTS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT")
VENUES = ("venue_a", "venue_b", "venue_c")
T0 = 1_700_000_000 * 1_000_000_000
WINDOW_NS = 60 * 1_000_000_000
NAN, INF = math.nan, math.inf
BAD_NUMBERS = (NAN, 0.0, INF, -1.0, -INF)
PRIOR_IDS = ("p0", "p1", "p2", "p500", "p998", "p999")
"""Client ids that the duplicate check may have seen before the batch (``p<k>``)."""

PROPERTY = settings(max_examples=160, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])


# -- the context of one order ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderContext:
    """A RiskContext frozen at one order: every answer is given explicitly. Without a venue,
    ``last_price``/``last_update_ns`` answer the mark over all venues (as the portfolio does
    when the venue never had one); no order is open (nothing pending)."""

    now_ns: int
    limits: RiskLimits
    buckets: Mapping[str, BucketConfig]
    equity: float
    gross_exposure: float
    equity_peak: float
    day_start_equity: float
    venue_positions: Mapping[tuple[str, str], float]
    net_positions: Mapping[str, float]
    venue_prices: Mapping[tuple[str, str], float]
    marks: Mapping[str, float]
    venue_updates: Mapping[tuple[str, str], int]
    updates: Mapping[str, int]
    trading_state: TradingState = TradingState.ACTIVE
    pending_notional: float = 0.0

    def position(self, instrument: str, venue: str | None = None) -> float:
        if venue is None:
            return self.net_positions.get(instrument, 0.0)
        return self.venue_positions.get((venue, instrument), 0.0)

    def last_price(self, instrument: str, venue: str | None = None) -> float:
        if venue is not None and (venue, instrument) in self.venue_prices:
            return self.venue_prices[(venue, instrument)]
        return self.marks.get(instrument, NAN)

    def last_update_ns(self, instrument: str, venue: str | None = None) -> int:
        if venue is not None and (venue, instrument) in self.venue_updates:
            return self.venue_updates[(venue, instrument)]
        return self.updates.get(instrument, 0)

    def pending_quantity(self, instrument: str, side_sign: float,
                         venue: str | None = None) -> float:
        return 0.0


@dataclass(frozen=True)
class Scenario:
    """A batch, the intents it stands for, their contexts and the checks' settings."""

    batch: OrderBatch
    intents: list[OrderIntent]
    contexts: list[OrderContext]
    fat_finger: FatFingerSettings
    stale_data: StaleDataSettings

    def orders(self) -> Iterator[tuple[OrderIntent, OrderContext]]:
        return zip(self.intents, self.contexts, strict=True)


def build_batch(instruments: Sequence[str], venues: Sequence[str], limits: RiskLimits,
                buckets: Mapping[str, BucketConfig], intents: Sequence[OrderIntent],
                contexts: Sequence[OrderContext]) -> OrderBatch:
    """The OrderBatch whose every figure is what the order's context answers."""
    inst_ix = {s: j for j, s in enumerate(instruments)}
    venue_ix = {v: k for k, v in enumerate(venues)}
    pairs = list(zip(intents, contexts, strict=True))

    def column(read: Callable[[OrderIntent, OrderContext], float], dtype: Any) -> np.ndarray:
        return np.array([read(i, c) for i, c in pairs], dtype=dtype)

    return OrderBatch(
        instruments=tuple(instruments), venues=tuple(venues), limits=limits, buckets=buckets,
        now_ns=column(lambda i, c: c.now_ns, np.int64),
        instrument=column(lambda i, c: inst_ix[i.instrument], np.int64),
        venue=column(lambda i, c: venue_ix[i.venue], np.int64),
        side=column(lambda i, c: float(i.side), np.float64),
        quantity=column(lambda i, c: i.quantity, np.float64),
        client_order_id=[i.client_order_id for i in intents],
        equity=column(lambda i, c: c.equity, np.float64),
        gross_exposure=column(lambda i, c: c.gross_exposure, np.float64),
        equity_peak=column(lambda i, c: c.equity_peak, np.float64),
        day_start_equity=column(lambda i, c: c.day_start_equity, np.float64),
        price=column(lambda i, c: c.last_price(i.instrument, i.venue), np.float64),
        last_update_ns=column(lambda i, c: c.last_update_ns(i.instrument, i.venue), np.int64),
        position_at_venue=column(lambda i, c: c.position(i.instrument, i.venue), np.float64),
        positions=np.array([[c.position(s) for s in instruments] for c in contexts],
                           dtype=np.float64).reshape(len(contexts), len(instruments)),
        marks=np.array([[c.last_price(s) for s in instruments] for c in contexts],
                       dtype=np.float64).reshape(len(contexts), len(instruments)),
    )


# -- generating scenarios --------------------------------------------------------------------------


def chance(draw: st.DrawFn, pct: int) -> bool:
    """True with about ``pct`` % probability (shrinks to False)."""
    return pct > 0 and draw(st.integers(0, 99)) >= 100 - pct


def near(draw: st.DrawFn, limit: float) -> float:
    """A value on ``limit``, a hair on either side of it, or anywhere below 100."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return limit
    if kind == 1:
        return limit + draw(st.sampled_from([-1e-7, -2e-9, -1e-9, -1e-10, 1e-10, 1e-9, 1e-7]))
    if kind == 2:
        return limit * draw(st.floats(0.5, 1.5))
    return draw(st.floats(0.0, 99.0))


def from_loss(draw: st.DrawFn, equity: float, limit: float, bad_pct: int) -> float:
    """A reference equity (peak, day start) from which ``equity`` is down about ``limit`` %."""
    if chance(draw, bad_pct):
        return draw(st.sampled_from(BAD_NUMBERS))
    if not 0.0 < equity < INF:
        return draw(st.floats(1.0, 1e7))
    if not chance(draw, 40):  # mostly clear of the limit: up, flat or down a little
        return equity * draw(st.sampled_from([1.0, 0.9, 1.0 + limit / 500.0, 1.5]))
    loss = min(near(draw, limit), 99.9)
    return equity * 100.0 / (100.0 - loss)


def make_limits(draw: st.DrawFn) -> RiskLimits:
    overrides = {
        "max_position_pct": draw(st.one_of(st.sampled_from([20.0, 100.0]), st.floats(0.5, 100))),
        "max_total_position_pct": draw(st.floats(1.0, 300.0)),
        "max_bucket_exposure_pct": draw(st.floats(1.0, 200.0)),
        "daily_loss_limit_pct": draw(st.one_of(st.sampled_from([4.0, 0.5, 100.0]),
                                               st.floats(0.1, 100.0))),
        "drawdown_liquidation_pct": draw(st.one_of(st.sampled_from([20.0, 1.0, 100.0]),
                                                   st.floats(0.1, 100.0))),
        "max_leverage": draw(st.floats(0.05, 5.0)),
        "max_orders_per_minute": draw(st.integers(1, 6)),
    }
    return RiskLimits.model_validate({**BALANCED.risk.model_dump(), **overrides})


def make_buckets(draw: st.DrawFn, instruments: Sequence[str]) -> dict[str, BucketConfig]:
    member = [draw(st.sampled_from([None, "b1", "b1", "b2"])) for _ in instruments]
    buckets = {}
    for name in ("b1", "b2"):
        symbols = [s for s, m in zip(instruments, member, strict=True) if m == name]
        if symbols and draw(st.booleans()):
            symbols.append("DOGE/USDT")  # in the bucket but never traded: no position, no mark
        if symbols:
            cap = draw(st.one_of(st.none(), st.floats(1.0, 200.0)))
            buckets[name] = BucketConfig(instruments=symbols, max_exposure_pct=cap)
    return buckets


@st.composite
def scenarios(draw: st.DrawFn, max_orders: int = 10,
              focus_on: Sequence[int] = (4, 5, 7, 8, 1, 2)) -> Scenario:
    """A batch of 1-``max_orders`` market orders with their contexts. Each earlier order is
    taken as filled in full before the next one (positions move by it). Some batches size
    every order one way (``focus_on``: the kinds of :func:`order_size`)."""
    instruments = INSTRUMENTS[:draw(st.integers(1, 4))]
    venues = VENUES[:draw(st.integers(1, 3))]
    limits = make_limits(draw)
    buckets = make_buckets(draw, instruments)
    focus = draw(st.sampled_from([None, *focus_on]))
    fat = FatFingerSettings(
        max_notional_pct_of_equity=draw(st.one_of(st.just(100.0), st.floats(0.5, 300.0))),
        max_notional=None if focus == 7 else draw(st.one_of(st.none(), st.floats(1.0, 1e6))))
    stale = StaleDataSettings(max_age_s=draw(st.one_of(st.sampled_from([300.0, 1.0, 30.0]),
                                                       st.floats(0.001, 1000.0))))
    max_age_ns = int(stale.max_age_s * 1e9)
    # % of bad figures in this batch (none when probing edges: they would stop it early)
    chaos = draw(st.sampled_from([0, 2, 5, 20])) if focus is None else 0
    equity0 = draw(st.floats(1e3, 1e7))
    base = {s: draw(st.floats(0.01, 1e5)) for s in instruments}

    dark = (draw(st.sampled_from(instruments)) if focus in (None, 8) and chance(draw, 30)
            else None)  # never marked anywhere (bucket_exposure then lacks its mark)
    venue_positions: dict[tuple[str, str], float] = {}
    venue_prices: dict[tuple[str, str], float] = {}
    venue_updates: dict[tuple[str, str], int] = {}
    # event time: a real date, or a synthetic clock starting near 0 (where "never updated",
    # 0 ns, can be younger than the age limit)
    now = draw(st.sampled_from([T0, 0, max_age_ns // 2])) + draw(st.integers(0, 3)) * WINDOW_NS
    for v in venues:
        for s in instruments:
            frac = draw(st.one_of(st.just(0.0), st.floats(-0.5, 0.5)))
            venue_positions[(v, s)] = frac * equity0 / base[s]
            if s != dark and not chance(draw, 10):
                venue_prices[(v, s)] = base[s]
                venue_updates[(v, s)] = max(now - draw(st.integers(0, max_age_ns)), 0)
    net_positions = {s: math.fsum(venue_positions[(v, s)] for v in venues) for s in instruments}

    pool = [*PRIOR_IDS, "p0", "p1", "", "dup"]
    intents: list[OrderIntent] = []
    contexts: list[OrderContext] = []
    for i in range(draw(st.integers(1, max_orders))):
        now += draw(st.one_of(
            st.sampled_from([0, 1, 1_000_000, 1_000_000_000, WINDOW_NS - 1, WINDOW_NS,
                             WINDOW_NS + 1]),
            st.integers(0, 2 * WINDOW_NS)))
        inst = draw(st.sampled_from(instruments))
        venue = draw(st.sampled_from(venues))
        # market data: prices drift, sometimes go bad; the order's own data ages around the limit
        moved = ([(v, s) for v in venues for s in instruments] if chance(draw, 30)
                 else [(venue, inst)])
        for pair in moved:
            if pair[1] == dark:
                continue
            venue_prices[pair] = (draw(st.sampled_from(BAD_NUMBERS)) if chance(draw, chaos)
                                  else base[pair[1]] * (1.0 + draw(st.floats(-0.05, 0.05))))
        if chance(draw, chaos):
            venue_prices.pop((venue, inst), None)  # falls back to the mark over all venues
        age = draw(st.one_of(st.sampled_from([0, max_age_ns, max_age_ns + 1, max_age_ns - 1]),
                             st.integers(-5, 2 * max_age_ns)))
        if chance(draw, chaos):
            venue_updates.pop((venue, inst), None)
        else:
            venue_updates[(venue, inst)] = max(now - age, 0)
        marks = {}
        updates = {}
        for s in instruments:
            known = [v for v in venues if (v, s) in venue_prices]
            if known:
                pick = draw(st.sampled_from(known)) if len(known) > 1 else known[0]
                marks[s] = venue_prices[(pick, s)]
            else:
                marks[s] = NAN
            if chance(draw, chaos):
                marks[s] = draw(st.sampled_from(BAD_NUMBERS))
            stamps = [venue_updates[(v, s)] for v in venues if (v, s) in venue_updates]
            updates[s] = max(stamps, default=0)

        equity = (draw(st.sampled_from(BAD_NUMBERS)) if chance(draw, chaos)
                  else equity0 * (1.0 + draw(st.floats(-0.1, 0.1))))
        peak = from_loss(draw, equity, limits.drawdown_liquidation_pct, chaos)
        day_start = from_loss(draw, equity, limits.daily_loss_limit_pct, chaos)
        gross = sum(abs(q) * (venue_prices[(v, s)] if (v, s) in venue_prices else marks[s])
                    for (v, s), q in venue_positions.items() if q)
        if chance(draw, chaos):
            gross = draw(st.sampled_from([NAN, INF, -1.0, 0.0]))
        ctx = OrderContext(now, limits, buckets, equity, gross, peak, day_start,
                           dict(venue_positions), dict(net_positions), dict(venue_prices),
                           marks, dict(venue_updates), updates)

        side, qty = order_size(draw, ctx, inst, venue, base[inst],
                               fat.max_notional_pct_of_equity / 100.0, focus)
        kind = draw(st.integers(0, 9))
        if kind < 2:
            client_id = draw(st.sampled_from(pool))
        elif kind == 2 and intents:
            client_id = draw(st.sampled_from(intents)).client_order_id
        else:
            client_id = f"o{i}"
        intents.append(OrderIntent("s1", venue, inst, side, qty, client_id,
                                   order_type=OrderType.MARKET))
        contexts.append(ctx)
        venue_positions[(venue, inst)] += float(side) * qty  # filled in full before the next
        net_positions[inst] += float(side) * qty

    batch = build_batch(instruments, venues, limits, buckets, intents, contexts)
    return Scenario(batch, intents, contexts, fat, stale)


def order_size(draw: st.DrawFn, ctx: OrderContext, inst: str, venue: str, base_price: float,
               notional_share: float, focus: int | None) -> tuple[Side, float]:
    """Side and quantity of an order: a share of equity, one that closes or flips the position
    (at the venue or overall), one on (or an ulp beside) a cap's edge, or float dust."""
    at_venue, net = ctx.position(inst, venue), ctx.position(inst)
    against = Side.SELL if (at_venue or net) > 0 else Side.BUY
    side = draw(st.sampled_from([Side.BUY, Side.SELL]))
    sign = float(side)
    kind = draw(st.integers(0, 9)) if focus is None else focus
    equity, price, limits = ctx.equity, ctx.last_price(inst, venue), ctx.limits
    valid = 0.0 < equity < INF and 0.0 < price < INF
    qty = 0.0
    if kind == 1 and at_venue:
        side, qty = against, abs(at_venue)  # closes it at the venue
    elif kind == 2 and (at_venue or net):
        side, qty = against, abs(at_venue or net) * draw(st.floats(1.0, 3.0))  # flips it
    elif kind == 3 and net:
        side, qty = against, abs(net)
    elif kind == 4 and valid:  # the room under max_position, computed in several ways
        pct = limits.max_position_pct
        cap_qty = draw(st.sampled_from([pct * equity / (100.0 * price),
                                        pct / 100.0 * equity / price,
                                        pct * equity / 100.0 / price,
                                        pct * (equity / price) / 100.0]))
        qty = cap_qty - sign * net
    elif kind == 5 and valid and ctx.gross_exposure >= 0.0:  # the gross room, likewise
        cap = draw(st.sampled_from([limits.max_total_position_pct * equity / 100.0,
                                    limits.max_leverage * equity]))
        others = ctx.gross_exposure - abs(at_venue) * price
        qty = draw(st.sampled_from([(cap - others) / price - sign * at_venue,
                                    (cap - ctx.gross_exposure) / price]))
    elif kind == 6:
        qty = draw(st.sampled_from([1e-13, 1e-12, 2e-12, 1e-9]))
    elif kind == 7 and valid:
        qty = draw(st.sampled_from([notional_share * equity / price,  # on fat_finger's cap
                                    notional_share * (equity / price),
                                    equity / price * notional_share]))
    elif kind == 8 and valid:
        qty = bucket_room(ctx, inst, price) - sign * net
    if kind in (4, 5, 7, 8):  # on the edge, or an ulp beside it
        qty = draw(st.sampled_from([qty, math.nextafter(qty, INF), math.nextafter(qty, 0.0)]))
    if not 0.0 < qty < INF:
        qty = draw(st.floats(1e-4, 0.6)) * ctx_equity_scale(ctx) / base_price
    return side, qty


def bucket_room(ctx: OrderContext, inst: str, price: float) -> float:
    """The bucket cap of ``inst`` in units of it, less the rest of the bucket (NaN outside a
    bucket or when a mark is bad), as bucket_exposure computes it."""
    found = {s: b for b in ctx.buckets.values() for s in b.instruments}.get(inst)
    if found is None:
        return NAN
    cap_pct = found.max_exposure_pct or ctx.limits.max_bucket_exposure_pct
    others = 0.0
    for symbol in found.instruments:
        if symbol != inst and ctx.position(symbol):
            others += abs(ctx.position(symbol)) * ctx.last_price(symbol)
    return max((cap_pct * ctx.equity / 100.0 - others) / price, 0.0)


def ctx_equity_scale(ctx: OrderContext) -> float:
    """An equity to size orders by, also when the context's own is bad."""
    return ctx.equity if 0.0 < ctx.equity < INF else 1e5


# -- the two forms ---------------------------------------------------------------------------------


CheckFactory = Callable[[Scenario], RiskCheck]

FACTORIES: dict[str, CheckFactory] = {
    "max_position": lambda s: MaxPositionCheck(),
    "bucket_exposure": lambda s: BucketExposureCheck(),
    "max_leverage": lambda s: MaxLeverageCheck(),
    "daily_loss": lambda s: DailyLossCheck(),
    "drawdown": lambda s: DrawdownCheck(),
    "order_rate": lambda s: OrderRateCheck(),
    "duplicate_order": lambda s: DuplicateOrderCheck(DuplicateOrderSettings(remember=1_000)),
    "fat_finger": lambda s: FatFingerCheck(s.fat_finger),
    "stale_data": lambda s: StaleDataCheck(s.stale_data),
}


def reference(check: RiskCheck, scenario: Scenario) -> tuple[int, str]:
    """Judge order by order as the engine does: the index of the first order not approved as
    is (``n`` when none) and its reason."""
    for i, (intent, ctx) in enumerate(scenario.orders()):
        verdict = check.check(intent, ctx)
        if verdict.action is not VerdictAction.APPROVE:
            return i, f"{verdict.action}:{verdict.reason}"
        check.on_accepted(intent, intent.quantity, ctx)
    return len(scenario.intents), "all_approved"


def assert_batch_agrees(make: Callable[[], RiskCheck], scenario: Scenario) -> None:
    """check_batch agrees with check() up to the first rejection, leaves the state alone, and
    accept_batch leaves the state that check() + on_accepted() leave."""
    twin, batched = make(), make()
    first, why = reference(twin, scenario)
    n = len(scenario.batch)
    event(f"stops at {'end' if first == n else 'start' if first == 0 else 'middle'}: {why}")
    before = batched.snapshot()
    approved = batched.check_batch(scenario.batch)
    assert batched.snapshot() == before, "check_batch changed the check's state"
    if approved is None:
        event("no batch form for this batch")
        return
    assert isinstance(approved, np.ndarray) and approved.dtype == bool, approved
    assert approved.shape == (n,)
    assert approved[:first].all(), (
        f"check() approved orders 0..{first - 1} but check_batch says {approved[:first]}")
    if first < n:
        assert not approved[first], f"check() gave {why} at order {first}, check_batch True"
    again = batched.check_batch(scenario.batch)
    assert again is not None and (again[:first + 1] == approved[:first + 1]).all()
    if first == n:
        batched.accept_batch(scenario.batch)
        assert batched.snapshot() == twin.snapshot()


# -- properties ------------------------------------------------------------------------------------


FOCUS: dict[str, tuple[int, ...]] = {
    "max_position": (4, 5, 1, 2), "bucket_exposure": (8, 1, 2), "max_leverage": (5, 1, 2),
    "daily_loss": (1, 2, 3), "drawdown": (1, 2, 3), "fat_finger": (7, 1, 2),
}
"""The order sizes that probe a check's edges (kinds of :func:`order_size`)."""


@pytest.mark.parametrize("check_id", list(FACTORIES))
@PROPERTY
@given(data=st.data())
def test_check_batch_equals_check(check_id: str, data: st.DataObject) -> None:
    """Every core check: check_batch gives check()'s APPROVE answers up to and including the
    first other verdict, without touching the state; accept_batch then equals the one-by-one
    state (fresh checks)."""
    scenario = data.draw(scenarios(focus_on=FOCUS.get(check_id, (4, 5, 7, 8, 1, 2))),
                         label="scenario")
    factory = FACTORIES[check_id]
    assert_batch_agrees(lambda: factory(scenario), scenario)


@PROPERTY
@given(scenario=scenarios(), data=st.data())
def test_order_rate_with_earlier_orders_in_the_window(scenario: Scenario,
                                                      data: st.DataObject) -> None:
    """order_rate with orders accepted before the batch (some leaving the window during it, up
    to more than the limit): same answers and same window as one by one."""
    limit = scenario.batch.limits.max_orders_per_minute
    start = int(scenario.batch.now_ns[0])
    ages = data.draw(st.lists(st.one_of(st.sampled_from([0, 1, WINDOW_NS - 1, WINDOW_NS]),
                                        st.integers(0, 2 * WINDOW_NS)),
                              max_size=limit + 2))
    state = {"accepted_ns": sorted(start - age for age in ages)}

    def make() -> RiskCheck:
        check = OrderRateCheck()
        check.restore(state)
        return check

    assert_batch_agrees(make, scenario)


@PROPERTY
@given(scenario=scenarios(), data=st.data())
def test_duplicate_order_with_ids_seen_before(scenario: Scenario, data: st.DataObject) -> None:
    """duplicate_order with ids seen before the batch and a small memory, so that the oldest
    ids are forgotten during the batch and may then be used again: same answers and the same
    remembered ids, in the same order, as one by one."""
    remember = data.draw(st.sampled_from([1_000, 1_001, 1_003]))
    seen = data.draw(st.sampled_from([0, 3, 501, remember - 2, remember - 1, remember]))
    state = {"seen": [f"p{k}" for k in range(seen)]}

    def make() -> RiskCheck:
        check = DuplicateOrderCheck(DuplicateOrderSettings(remember=remember))
        check.restore(state)
        return check

    assert_batch_agrees(make, scenario)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=scenarios(max_orders=6))
def test_check_batch_answers_none_or_one_bool_per_order(scenario: Scenario) -> None:
    """Every check's check_batch returns None or a bool array with one entry per order."""
    for make in FACTORIES.values():
        approved = make(scenario).check_batch(scenario.batch)
        assert approved is None or (isinstance(approved, np.ndarray)
                                    and approved.dtype == bool
                                    and approved.shape == (len(scenario.batch),)), approved


def test_every_core_check_has_a_batch_form() -> None:
    """On a plain batch (valid figures, fresh data, small orders) every check answers with an
    array, all True: none silently falls back to order by order."""
    limits = BALANCED.risk
    buckets = {"majors": BucketConfig(instruments=["BTC/USDT", "ETH/USDT"])}
    instruments, venues = ("BTC/USDT", "ETH/USDT"), ("venue_a", "venue_b")
    intents, contexts = [], []
    positions = {(v, s): 0.0 for v in venues for s in instruments}
    prices = {(v, s): p for v in venues for s, p in zip(instruments, (50_000.0, 2_000.0),
                                                            strict=True)}
    for i in range(3):
        now = T0 + i * 1_000_000_000
        inst, venue = instruments[i % 2], venues[i % 2]
        net = {s: sum(positions[(v, s)] for v in venues) for s in instruments}
        gross = sum(abs(q) * prices[k] for k, q in positions.items())
        contexts.append(OrderContext(now, limits, buckets, 100_000.0, gross, 100_000.0,
                                     100_000.0, dict(positions), net, prices,
                                     {s: prices[("venue_a", s)] for s in instruments},
                                     dict.fromkeys(prices, now), dict.fromkeys(instruments, now)))
        intents.append(OrderIntent("s1", venue, inst, Side.BUY, 0.01, f"c{i}"))
        positions[(venue, inst)] += 0.01
    scenario = Scenario(build_batch(instruments, venues, limits, buckets, intents, contexts),
                        intents, contexts, FatFingerSettings(), StaleDataSettings())
    assert {c.id for c in ALL_CHECKS} == set(FACTORIES)
    for check_id, make in FACTORIES.items():
        assert reference(make(scenario), scenario) == (3, "all_approved"), check_id
        approved = make(scenario).check_batch(scenario.batch)
        assert approved is not None, f"{check_id} has no batch form"
        assert approved.tolist() == [True, True, True], check_id


# -- the vector arithmetic -------------------------------------------------------------------------


SPECIAL = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, NAN, INF, -INF, 1e-12, 1e300])
NUMBER = st.one_of(SPECIAL, st.floats(allow_nan=True, allow_infinity=True),
                   st.floats(-10.0, 10.0))


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


ROWS = st.lists(st.tuples(NUMBER, st.sampled_from([1.0, -1.0]), NUMBER, NUMBER),
                min_size=1, max_size=20)
"""(position, side_sign, quantity, cap_qty) rows."""


def columns(rows: list[tuple[float, float, float, float]]) -> list[np.ndarray]:
    return [np.array(col, dtype=np.float64) for col in zip(*rows, strict=True)]


@settings(max_examples=300, deadline=None)
@given(rows=ROWS)
def test_reducing_quantities_equal_the_scalar_form(
        rows: list[tuple[float, float, float, float]]) -> None:
    """reducing_quantities equals reducing_quantity element by element, NaN and inf included."""
    position, side, quantity, _ = columns(rows)
    with np.errstate(all="ignore"):
        reduced = reducing_quantities(position, side, quantity)
    assert reduced.shape == (len(rows),)
    for k, (p, s, q, _c) in enumerate(rows):
        expected = reducing_quantity(p, s, q)
        assert same(float(reduced[k]), expected), (
            f"reducing_quantities({p!r}, {s!r}, {q!r}) = {reduced[k]!r}, scalar {expected!r}")


@settings(max_examples=300, deadline=None)
@given(rows=ROWS)
def test_capped_quantities_equal_the_scalar_form(
        rows: list[tuple[float, float, float, float]]) -> None:
    """capped_quantities equals capped_quantity element by element, NaN and inf included."""
    position, side, quantity, cap = columns(rows)
    with np.errstate(all="ignore"):
        capped = capped_quantities(position, side, quantity, cap)
    assert capped.shape == (len(rows),)
    for k, (p, s, q, c) in enumerate(rows):
        expected = capped_quantity(p, s, q, c)
        assert same(float(capped[k]), expected), (
            f"capped_quantities({p!r}, {s!r}, {q!r}, {c!r}) = {capped[k]!r}, scalar {expected!r}")

# -- with orders open ------------------------------------------------------------------------------
# An OrderBatch's ``pending_*`` columns answer what ``ctx.pending_quantity`` and
# ``ctx.pending_notional`` answer. Open orders are drawn per order: an open quantity (or none)
# per venue, instrument and side, and a committed notional (positive whenever something is
# open, as the engine's book keeps it).


@dataclass(frozen=True, slots=True)
class PendingContext:
    """An :class:`OrderContext` with orders open: ``pending`` maps (venue, instrument, side)
    to the open quantity; ``committed`` is ``ctx.pending_notional``."""

    base: OrderContext
    pending: Mapping[tuple[str, str, int], float]
    committed: float

    def __getattr__(self, name: str) -> object:
        return getattr(self.base, name)

    def position(self, instrument: str, venue: str | None = None) -> float:
        return self.base.position(instrument, venue)

    def last_price(self, instrument: str, venue: str | None = None) -> float:
        return self.base.last_price(instrument, venue)

    def last_update_ns(self, instrument: str, venue: str | None = None) -> int:
        return self.base.last_update_ns(instrument, venue)

    @property
    def pending_notional(self) -> float:
        return self.committed

    def pending_quantity(self, instrument: str, side_sign: float,
                         venue: str | None = None) -> float:
        sign = 1 if side_sign > 0 else -1
        # summed in one fixed order, as the batch's columns are built from this same method
        return sum(q for (v, i, s), q in sorted(self.pending.items())
                   if i == instrument and s == sign and (venue is None or v == venue))


def with_pending(batch: OrderBatch, contexts: Sequence[PendingContext]) -> OrderBatch:
    """``batch`` with the pending columns read from each order's context."""
    symbols = batch.instruments
    n = len(contexts)
    intents_at = [(symbols[int(batch.instrument[i])], batch.venues[int(batch.venue[i])],
                   float(batch.side[i])) for i in range(n)]
    return replace(
        batch,
        pending_at_venue=np.array([c.pending_quantity(inst, side, venue)
                                   for c, (inst, venue, side) in zip(contexts, intents_at,
                                                                     strict=True)]),
        pending_buys=np.array([[c.pending_quantity(s, 1.0) for s in symbols]
                               for c in contexts]).reshape(n, len(symbols)),
        pending_sells=np.array([[c.pending_quantity(s, -1.0) for s in symbols]
                                for c in contexts]).reshape(n, len(symbols)),
        pending_notional=np.array([c.pending_notional for c in contexts]),
    )


@st.composite
def pending_scenarios(draw: st.DrawFn, focus_on: Sequence[int]) -> Scenario:
    """A scenario of test_batch whose orders see open orders: quantities from float dust to
    more than the position, on the order's own side or the other, at its venue or another."""
    scenario = draw(scenarios(focus_on=focus_on))
    batch = scenario.batch
    contexts: list[PendingContext] = []
    for intent, ctx in scenario.orders():
        pending: dict[tuple[str, str, int], float] = {}
        if draw(st.integers(0, 9)) < 7:
            for venue in batch.venues:
                for symbol in batch.instruments:
                    for sign in (1, -1):
                        if draw(st.integers(0, 5)) == 0:
                            scale = abs(ctx.position(symbol)) or intent.quantity
                            pending[(venue, symbol, sign)] = draw(st.sampled_from(
                                [1e-13, 0.5 * scale, scale, 2.0 * scale,
                                 intent.quantity]))
        committed = 0.0
        if pending:
            committed = draw(st.sampled_from([1e-9, 1.0, 0.05 * ctx.equity, 0.5 * ctx.equity,
                                              5.0 * ctx.equity]))
        contexts.append(PendingContext(ctx, pending, committed))
    rebuilt = build_batch(batch.instruments, batch.venues, batch.limits, batch.buckets,
                          scenario.intents, scenario.contexts)
    return replace(scenario, batch=with_pending(rebuilt, contexts),
                   contexts=contexts)  # type: ignore[arg-type]


@pytest.mark.parametrize("check_id", list(FACTORIES))
@PROPERTY
@given(data=st.data())
def test_check_batch_equals_check_with_orders_open(check_id: str, data: st.DataObject) -> None:
    """Every core check, with orders open at each order: check_batch gives check()'s APPROVE
    answers up to and including the first other verdict, and accept_batch the same state."""
    scenario = data.draw(pending_scenarios(FOCUS.get(check_id, (4, 5, 7, 8, 1, 2))),
                         label="scenario")
    factory = FACTORIES[check_id]
    assert_batch_agrees(lambda: factory(scenario), scenario)


def test_the_pending_columns_change_the_answers() -> None:
    """Open orders matter to the batch forms (a property over them that ignored them would
    pass for the wrong reason): the same order is approved with nothing open and cut when an
    open order in its direction already uses the room."""
    limits = resolve_config(preset="balanced", environ={}).config.risk
    room = limits.max_position_pct * 100_000.0 / (100.0 * 100.0)  # in units at price 100
    one = {"now_ns": np.array([1], dtype=np.int64), "instrument": np.zeros(1, dtype=np.int64),
           "venue": np.zeros(1, dtype=np.int64), "side": np.ones(1),
           "quantity": np.array([0.6 * room]), "client_order_id": ["c1"],
           "equity": np.array([100_000.0]), "gross_exposure": np.zeros(1),
           "equity_peak": np.array([100_000.0]), "day_start_equity": np.array([100_000.0]),
           "price": np.array([100.0]), "last_update_ns": np.ones(1, dtype=np.int64),
           "position_at_venue": np.zeros(1), "positions": np.zeros((1, 1)),
           "marks": np.full((1, 1), 100.0)}
    batch = OrderBatch(instruments=("BTC/USDT",), venues=("venue_a",), limits=limits,
                       buckets={}, **one)
    assert MaxPositionCheck().check_batch(batch).tolist() == [True]
    busy = replace(batch, pending_at_venue=np.array([0.6 * room]),
                   pending_buys=np.array([[0.6 * room]]), pending_sells=np.zeros((1, 1)),
                   pending_notional=np.array([0.6 * room * 100.0]))
    assert MaxPositionCheck().check_batch(busy).tolist() == [False]
