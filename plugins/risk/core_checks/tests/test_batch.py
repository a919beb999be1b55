"""The batch form of every core check against its order-by-order form.

The streams and the judge are ``bot_core.testing``'s (the harness any third-party check uses):
random but meaningful batches (several venues and instruments, buckets, positions that orders
close or flip, prices and equities that are sometimes NaN, 0, inf or negative, loss figures on
their thresholds, market data around the stale limit, bursts of orders, duplicate and empty
client order ids, open orders), each order with the exact :class:`RiskContext` it would see; a
fresh check judges them order by order (``check`` then ``on_accepted`` after each approval,
stopping at the first other verdict) and a twin's ``check_batch`` must agree on the whole batch.
Here each check also gets streams sized on its own edges.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot_core import (
    BucketConfig,
    NumberedIds,
    OrderBatch,
    OrderIntent,
    RiskCheck,
    Side,
    capped_quantities,
    capped_quantity,
    reducing_quantities,
    reducing_quantity,
)
from bot_core.config import BotConfig, resolve_config
from bot_core.testing import OrderStream, assert_batch_form_agrees, judge_one_by_one, order_streams
from bot_core.testing.risk import (
    SIZE_BUCKET_CAP,
    SIZE_CLOSE,
    SIZE_CLOSE_NET,
    SIZE_FLIP,
    SIZE_GROSS_CAP,
    SIZE_NOTIONAL_SHARE,
    SIZE_POSITION_CAP,
    T0,
    WINDOW_NS,
    OrderContext,
    build_batch,
)
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

BALANCED: BotConfig = resolve_config(preset="balanced", environ={}).config
NAN, INF = math.nan, math.inf

PROPERTY = settings(max_examples=160, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])

CheckFactory = Callable[[OrderStream, st.DataObject | None], Callable[[], RiskCheck]]
"""A check's factory for one stream: its settings drawn around the stream's knobs (with
``data``; without, the plain ones)."""


def fat_finger(stream: OrderStream, data: st.DataObject | None) -> Callable[[], RiskCheck]:
    cap = None if stream.size == SIZE_NOTIONAL_SHARE or data is None else \
        data.draw(st.one_of(st.none(), st.floats(1.0, 1e6)), label="max_notional")
    fat = FatFingerSettings(max_notional_pct_of_equity=stream.notional_pct, max_notional=cap)
    return lambda: FatFingerCheck(fat)


FACTORIES: dict[str, CheckFactory] = {
    "max_position": lambda s, d: MaxPositionCheck,
    "bucket_exposure": lambda s, d: BucketExposureCheck,
    "max_leverage": lambda s, d: MaxLeverageCheck,
    "daily_loss": lambda s, d: DailyLossCheck,
    "drawdown": lambda s, d: DrawdownCheck,
    "order_rate": lambda s, d: OrderRateCheck,
    "duplicate_order": lambda s, d: lambda: DuplicateOrderCheck(
        DuplicateOrderSettings(remember=1_000)),
    "fat_finger": fat_finger,
    "stale_data": lambda s, d: lambda: StaleDataCheck(StaleDataSettings(max_age_s=s.age_limit_s)),
}

FOCUS: dict[str, tuple[int, ...]] = {
    "max_position": (SIZE_POSITION_CAP, SIZE_GROSS_CAP, SIZE_CLOSE, SIZE_FLIP),
    "bucket_exposure": (SIZE_BUCKET_CAP, SIZE_CLOSE, SIZE_FLIP),
    "max_leverage": (SIZE_GROSS_CAP, SIZE_CLOSE, SIZE_FLIP),
    "daily_loss": (SIZE_CLOSE, SIZE_FLIP, SIZE_CLOSE_NET),
    "drawdown": (SIZE_CLOSE, SIZE_FLIP, SIZE_CLOSE_NET),
    "fat_finger": (SIZE_NOTIONAL_SHARE, SIZE_CLOSE, SIZE_FLIP),
}
"""The order sizes that probe a check's edges."""
DEFAULT_FOCUS = (SIZE_POSITION_CAP, SIZE_GROSS_CAP, SIZE_NOTIONAL_SHARE, SIZE_BUCKET_CAP,
                 SIZE_CLOSE, SIZE_FLIP)


# -- properties ------------------------------------------------------------------------------------


@pytest.mark.parametrize("check_id", list(FACTORIES))
@PROPERTY
@given(data=st.data())
def test_check_batch_equals_check(check_id: str, data: st.DataObject) -> None:
    """Every core check: check_batch gives check()'s APPROVE answers up to and including the
    first other verdict, without touching the state; accept_batch then equals the one-by-one
    state (fresh checks)."""
    stream = data.draw(order_streams(sizes=FOCUS.get(check_id, DEFAULT_FOCUS)), label="stream")
    assert_batch_form_agrees(FACTORIES[check_id](stream, data), stream)


@pytest.mark.parametrize("check_id", list(FACTORIES))
@PROPERTY
@given(data=st.data())
def test_check_batch_equals_check_with_orders_open(check_id: str, data: st.DataObject) -> None:
    """Every core check, with orders open at each order: check_batch gives check()'s APPROVE
    answers up to and including the first other verdict, and accept_batch the same state."""
    stream = data.draw(order_streams(sizes=FOCUS.get(check_id, DEFAULT_FOCUS),
                                     open_orders=True), label="stream")
    assert_batch_form_agrees(FACTORIES[check_id](stream, data), stream)


@PROPERTY
@given(stream=order_streams(), data=st.data())
def test_order_rate_with_earlier_orders_in_the_window(stream: OrderStream,
                                                      data: st.DataObject) -> None:
    """order_rate with orders accepted before the batch (some leaving the window during it, up
    to more than the limit): same answers and same window as one by one."""
    limit = stream.batch.limits.max_orders_per_minute
    start = int(stream.batch.now_ns[0])
    ages = data.draw(st.lists(st.one_of(st.sampled_from([0, 1, WINDOW_NS - 1, WINDOW_NS]),
                                        st.integers(0, 2 * WINDOW_NS)),
                              max_size=limit + 2))
    state = {"accepted_ns": sorted(start - age for age in ages)}

    def make() -> RiskCheck:
        check = OrderRateCheck()
        check.restore(state)
        return check

    assert_batch_form_agrees(make, stream)


@PROPERTY
@given(stream=order_streams(), data=st.data())
def test_duplicate_order_with_ids_seen_before(stream: OrderStream, data: st.DataObject) -> None:
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

    assert_batch_form_agrees(make, stream)


@PROPERTY
@given(stream=order_streams(), data=st.data())
def test_duplicate_order_after_a_numbered_batch(stream: OrderStream, data: st.DataObject) -> None:
    """duplicate_order that remembers a numbered batch as numbers (the compiled replay's ids)
    next to ids remembered one by one, with a memory small enough to forget part of it: the
    state is the one ``check()`` leaves id by id, and later orders, batched or one by one,
    get the same answers."""
    remember = data.draw(st.sampled_from([1_000, 1_002]))
    prior = [f"p{k}" for k in range(data.draw(st.sampled_from([0, 3, 998])))]
    count = data.draw(st.sampled_from([1, 5, 999, 1_001]))
    first = data.draw(st.sampled_from([0, 1, 990]))
    prefix = data.draw(st.sampled_from(["o", "p", "s1-bt7-"]))
    earlier = NumberedIds([prefix], np.zeros(count, dtype=np.int64),
                          np.arange(first, first + count, dtype=np.int64))
    earlier_batch = replace(stream.batch, client_order_id=earlier)

    def one_by_one() -> DuplicateOrderCheck:
        check = DuplicateOrderCheck(DuplicateOrderSettings(remember=remember))
        check.restore({"seen": prior})
        for client_id in earlier:
            check.check(OrderIntent("s1", "v", "BTC/USDT", 1, 1.0, client_id), None)  # type: ignore[arg-type]
        return check

    def make() -> RiskCheck:
        check = DuplicateOrderCheck(DuplicateOrderSettings(remember=remember))
        check.restore({"seen": prior})
        if check.check_batch(earlier_batch).all():
            check.accept_batch(earlier_batch)
        else:  # ids of the earlier batch seen before: as the engine, one by one
            for client_id in earlier:
                check.check(OrderIntent("s1", "v", "BTC/USDT", 1, 1.0, client_id), None)  # type: ignore[arg-type]
        return check

    assert make().snapshot() == one_by_one().snapshot()
    assert_batch_form_agrees(make, stream)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(stream=order_streams(max_orders=6), data=st.data())
def test_check_batch_answers_none_or_one_bool_per_order(stream: OrderStream,
                                                        data: st.DataObject) -> None:
    """Every check's check_batch returns None or a bool array with one entry per order."""
    for factory in FACTORIES.values():
        approved = factory(stream, data)().check_batch(stream.batch)
        assert approved is None or (isinstance(approved, np.ndarray)
                                    and approved.dtype == bool
                                    and approved.shape == (len(stream.batch),)), approved


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
    stream = OrderStream(build_batch(instruments, venues, limits, buckets, intents, contexts),
                         intents, contexts, 300.0, 100.0, None)
    assert {c.id for c in ALL_CHECKS} == set(FACTORIES)
    for check_id, factory in FACTORIES.items():
        make = factory(stream, None)
        assert judge_one_by_one(make(), stream) == (3, "all_approved"), check_id
        approved = make().check_batch(stream.batch)
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
