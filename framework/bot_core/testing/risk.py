"""The equality harness of a risk check's batch form (``RiskCheck.check_batch``). Needs hypothesis.

A check that offers a batch form promises that, for every order of an
:class:`~bot_core.risk.batch.OrderBatch`, it answers what :meth:`~bot_core.RiskCheck.check`
would: ``True`` exactly where ``check()`` approves the order as sent, every earlier one having
been approved and accepted; and that :meth:`~bot_core.RiskCheck.accept_batch` leaves the state
that ``check()`` + ``on_accepted()`` leave, order by order. A third-party check proves it in a
few lines::

    from hypothesis import given
    from bot_core.testing import assert_batch_form_agrees, order_streams

    @given(stream=order_streams(open_orders=True))
    def test_my_check_batch_form(stream):
        assert_batch_form_agrees(lambda: MyCheck(MySettings()), stream)

:func:`order_streams` draws meaningful streams: several venues and instruments, buckets,
positions that orders close or flip, prices and equities that are sometimes NaN, 0, inf or
negative, loss figures on the profile's thresholds, market data around an age limit, bursts of
orders, duplicate and empty client order ids, open orders from float dust to more than the
position (``open_orders``), and order sizes on the edges of the usual caps (``sizes``). Each
order comes with the exact :class:`~bot_core.RiskContext` the engine would give ``check()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from hypothesis import event
from hypothesis import strategies as st

from bot_core.config.models import BucketConfig, RiskLimits
from bot_core.orderids import NumberedIds
from bot_core.orders import OrderIntent, OrderType, Side
from bot_core.risk.batch import OrderBatch
from bot_core.risk.check import RiskCheck, TradingState, VerdictAction

__all__ = [
    "SIZE_BUCKET_CAP",
    "SIZE_CLOSE",
    "SIZE_CLOSE_NET",
    "SIZE_DUST",
    "SIZE_FLIP",
    "SIZE_GROSS_CAP",
    "SIZE_NOTIONAL_SHARE",
    "SIZE_POSITION_CAP",
    "OrderContext",
    "OrderStream",
    "PendingContext",
    "assert_batch_form_agrees",
    "build_batch",
    "judge_one_by_one",
    "order_streams",
    "with_pending",
]

(SIZE_CLOSE, SIZE_FLIP, SIZE_CLOSE_NET, SIZE_POSITION_CAP, SIZE_GROSS_CAP, SIZE_DUST,
 SIZE_NOTIONAL_SHARE, SIZE_BUCKET_CAP) = range(1, 9)
"""Order sizes :func:`order_streams` can focus on: closing the position at the venue,
flipping it, closing the net position, on ``max_position_pct``'s room, on the gross room
(``max_total_position_pct``, ``max_leverage``), float dust, on ``notional_pct`` % of equity, on
the bucket's room; each on the edge or an ulp beside it."""

INSTRUMENTS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT")
VENUES = ("venue_a", "venue_b", "venue_c")
T0 = 1_700_000_000 * 1_000_000_000
WINDOW_NS = 60 * 1_000_000_000
NAN, INF = math.nan, math.inf
BAD_NUMBERS = (NAN, 0.0, INF, -1.0, -INF)
PRIOR_IDS = ("p0", "p1", "p2", "p500", "p998", "p999")
"""Client ids a stream reuses: a check's state from before the stream may hold them
(``p<k>``)."""
_BASE_LIMITS = {"max_position_pct": 20.0, "max_total_position_pct": 100.0,
                "max_bucket_exposure_pct": 60.0, "daily_loss_limit_pct": 4.0,
                "drawdown_liquidation_pct": 20.0, "max_leverage": 2.0,
                "max_orders_per_minute": 60, "checks": []}


# -- the context of one order ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderContext:
    """A :class:`~bot_core.RiskContext` frozen at one order: every answer is given explicitly.
    Without a venue, ``last_price``/``last_update_ns`` answer the mark over all venues (as the
    portfolio does when the venue never had one); no order is open (nothing pending)."""

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


@dataclass(frozen=True)
class OrderStream:
    """A batch, the intents it stands for and each one's context, and the knobs it was drawn
    around (a check's own settings may use them, to probe its edges)."""

    batch: OrderBatch
    intents: list[OrderIntent]
    contexts: list[Any]
    """An :class:`OrderContext` (or :class:`PendingContext`) per order."""
    age_limit_s: float
    """Market data ages are drawn around this age (a stale-data limit)."""
    notional_pct: float
    """Order notionals are drawn around this share of equity (``SIZE_NOTIONAL_SHARE``)."""
    size: int | None
    """The ``SIZE_*`` every order was sized by, or None for a mix."""

    def orders(self) -> Iterator[tuple[OrderIntent, Any]]:
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


# -- drawing streams ----------------------------------------------------------------------------


def _chance(draw: st.DrawFn, pct: int) -> bool:
    """True with about ``pct`` % probability (shrinks to False)."""
    return pct > 0 and draw(st.integers(0, 99)) >= 100 - pct


def _near(draw: st.DrawFn, limit: float) -> float:
    """A value on ``limit``, a hair on either side of it, or anywhere below 100."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return limit
    if kind == 1:
        return limit + draw(st.sampled_from([-1e-7, -2e-9, -1e-9, -1e-10, 1e-10, 1e-9, 1e-7]))
    if kind == 2:
        return limit * draw(st.floats(0.5, 1.5))
    return draw(st.floats(0.0, 99.0))


def _from_loss(draw: st.DrawFn, equity: float, limit: float, bad_pct: int) -> float:
    """A reference equity (peak, day start) from which ``equity`` is down about ``limit`` %."""
    if _chance(draw, bad_pct):
        return draw(st.sampled_from(BAD_NUMBERS))
    if not 0.0 < equity < INF:
        return draw(st.floats(1.0, 1e7))
    if not _chance(draw, 40):  # mostly clear of the limit: up, flat or down a little
        return equity * draw(st.sampled_from([1.0, 0.9, 1.0 + limit / 500.0, 1.5]))
    loss = min(_near(draw, limit), 99.9)
    return equity * 100.0 / (100.0 - loss)


def _limits(draw: st.DrawFn) -> RiskLimits:
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
    return RiskLimits.model_validate({**_BASE_LIMITS, **overrides})


def _buckets(draw: st.DrawFn, instruments: Sequence[str]) -> dict[str, BucketConfig]:
    member = [draw(st.sampled_from([None, "b1", "b1", "b2"])) for _ in instruments]
    buckets = {}
    for name in ("b1", "b2"):
        symbols = [s for s, m in zip(instruments, member, strict=True) if m == name]
        untraded: bool = draw(st.booleans())
        if symbols and untraded:
            symbols.append("DOGE/USDT")  # in the bucket but never traded: no position, no mark
        if symbols:
            cap = draw(st.one_of(st.none(), st.floats(1.0, 200.0)))
            buckets[name] = BucketConfig(instruments=symbols, max_exposure_pct=cap)
    return buckets


def _bucket_room(ctx: OrderContext, inst: str, price: float) -> float:
    """The bucket cap of ``inst`` in units of it, less the rest of the bucket (NaN outside a
    bucket or when a mark is bad)."""
    found = {s: b for b in ctx.buckets.values() for s in b.instruments}.get(inst)
    if found is None:
        return NAN
    cap_pct = found.max_exposure_pct or ctx.limits.max_bucket_exposure_pct
    others = 0.0
    for symbol in found.instruments:
        if symbol != inst and ctx.position(symbol):
            others += abs(ctx.position(symbol)) * ctx.last_price(symbol)
    return max((cap_pct * ctx.equity / 100.0 - others) / price, 0.0)


def _order_size(draw: st.DrawFn, ctx: OrderContext, inst: str, venue: str, base_price: float,
                notional_share: float, size: int | None) -> tuple[Side, float]:
    """Side and quantity of an order: a share of equity, or one of the ``SIZE_*`` edges."""
    at_venue, net = ctx.position(inst, venue), ctx.position(inst)
    against = Side.SELL if (at_venue or net) > 0 else Side.BUY
    side = draw(st.sampled_from([Side.BUY, Side.SELL]))
    sign = float(side)
    kind = draw(st.integers(0, 9)) if size is None else size
    equity, price, limits = ctx.equity, ctx.last_price(inst, venue), ctx.limits
    valid = 0.0 < equity < INF and 0.0 < price < INF
    qty = 0.0
    if kind == SIZE_CLOSE and at_venue:
        side, qty = against, abs(at_venue)
    elif kind == SIZE_FLIP and (at_venue or net):
        side, qty = against, abs(at_venue or net) * draw(st.floats(1.0, 3.0))
    elif kind == SIZE_CLOSE_NET and net:
        side, qty = against, abs(net)
    elif kind == SIZE_POSITION_CAP and valid:  # the room under max_position, computed variously
        pct = limits.max_position_pct
        cap_qty = draw(st.sampled_from([pct * equity / (100.0 * price),
                                        pct / 100.0 * equity / price,
                                        pct * equity / 100.0 / price,
                                        pct * (equity / price) / 100.0]))
        qty = cap_qty - sign * net
    elif kind == SIZE_GROSS_CAP and valid and ctx.gross_exposure >= 0.0:
        cap = draw(st.sampled_from([limits.max_total_position_pct * equity / 100.0,
                                    limits.max_leverage * equity]))
        others = ctx.gross_exposure - abs(at_venue) * price
        qty = draw(st.sampled_from([(cap - others) / price - sign * at_venue,
                                    (cap - ctx.gross_exposure) / price]))
    elif kind == SIZE_DUST:
        qty = draw(st.sampled_from([1e-13, 1e-12, 2e-12, 1e-9]))
    elif kind == SIZE_NOTIONAL_SHARE and valid:
        qty = draw(st.sampled_from([notional_share * equity / price,
                                    notional_share * (equity / price),
                                    equity / price * notional_share]))
    elif kind == SIZE_BUCKET_CAP and valid:
        qty = _bucket_room(ctx, inst, price) - sign * net
    if kind in (SIZE_POSITION_CAP, SIZE_GROSS_CAP, SIZE_NOTIONAL_SHARE, SIZE_BUCKET_CAP):
        qty = draw(st.sampled_from([qty, math.nextafter(qty, INF), math.nextafter(qty, 0.0)]))
    if not 0.0 < qty < INF:
        scale = ctx.equity if 0.0 < ctx.equity < INF else 1e5
        qty = draw(st.floats(1e-4, 0.6)) * scale / base_price
    return side, qty


@st.composite
def _streams(draw: st.DrawFn, max_orders: int, sizes: Sequence[int]) -> OrderStream:
    instruments = INSTRUMENTS[:draw(st.integers(1, 4))]
    venues = VENUES[:draw(st.integers(1, 3))]
    limits = _limits(draw)
    buckets = _buckets(draw, instruments)
    size = draw(st.sampled_from([None, *sizes]))
    notional_pct = draw(st.one_of(st.just(100.0), st.floats(0.5, 300.0)))
    age_limit_s = draw(st.one_of(st.sampled_from([300.0, 1.0, 30.0]), st.floats(0.001, 1000.0)))
    max_age_ns = int(age_limit_s * 1e9)
    # % of bad figures in this stream (none when probing edges: they would stop it early)
    chaos = draw(st.sampled_from([0, 2, 5, 20])) if size is None else 0
    equity0 = draw(st.floats(1e3, 1e7))
    base = {s: draw(st.floats(0.01, 1e5)) for s in instruments}

    dark = (draw(st.sampled_from(instruments)) if size in (None, SIZE_BUCKET_CAP)
            and _chance(draw, 30) else None)  # never marked anywhere
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
            if s != dark and not _chance(draw, 10):
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
        moved = ([(v, s) for v in venues for s in instruments] if _chance(draw, 30)
                 else [(venue, inst)])
        for pair in moved:
            if pair[1] == dark:
                continue
            venue_prices[pair] = (draw(st.sampled_from(BAD_NUMBERS)) if _chance(draw, chaos)
                                  else base[pair[1]] * (1.0 + draw(st.floats(-0.05, 0.05))))
        if _chance(draw, chaos):
            venue_prices.pop((venue, inst), None)  # falls back to the mark over all venues
        age = draw(st.one_of(st.sampled_from([0, max_age_ns, max_age_ns + 1, max_age_ns - 1]),
                             st.integers(-5, 2 * max_age_ns)))
        if _chance(draw, chaos):
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
            if _chance(draw, chaos):
                marks[s] = draw(st.sampled_from(BAD_NUMBERS))
            stamps = [venue_updates[(v, s)] for v in venues if (v, s) in venue_updates]
            updates[s] = max(stamps, default=0)

        equity = (draw(st.sampled_from(BAD_NUMBERS)) if _chance(draw, chaos)
                  else equity0 * (1.0 + draw(st.floats(-0.1, 0.1))))
        peak = _from_loss(draw, equity, limits.drawdown_liquidation_pct, chaos)
        day_start = _from_loss(draw, equity, limits.daily_loss_limit_pct, chaos)
        gross = sum(abs(q) * (venue_prices[(v, s)] if (v, s) in venue_prices else marks[s])
                    for (v, s), q in venue_positions.items() if q)
        if _chance(draw, chaos):
            gross = draw(st.sampled_from([NAN, INF, -1.0, 0.0]))
        ctx = OrderContext(now, limits, buckets, equity, gross, peak, day_start,
                           dict(venue_positions), dict(net_positions), dict(venue_prices),
                           marks, dict(venue_updates), updates)

        side, qty = _order_size(draw, ctx, inst, venue, base[inst], notional_pct / 100.0, size)
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
    numbered = NumberedIds.of(batch.client_order_id)
    if numbered is not None and draw(st.booleans()):  # as the compiled replay passes them
        batch = replace(batch, client_order_id=numbered)
    return OrderStream(batch, intents, contexts, age_limit_s, notional_pct, size)


@st.composite
def _with_open_orders(draw: st.DrawFn, stream: OrderStream) -> OrderStream:
    """``stream`` whose orders see open orders: quantities from float dust to more than the
    position, on the order's own side or the other, at its venue or another."""
    batch = stream.batch
    contexts: list[PendingContext] = []
    for intent, ctx in stream.orders():
        pending: dict[tuple[str, str, int], float] = {}
        if draw(st.integers(0, 9)) < 7:
            for venue in batch.venues:
                for symbol in batch.instruments:
                    for sign in (1, -1):
                        if draw(st.integers(0, 5)) == 0:
                            scale = abs(ctx.position(symbol)) or intent.quantity
                            pending[(venue, symbol, sign)] = draw(st.sampled_from(
                                [1e-13, 0.5 * scale, scale, 2.0 * scale, intent.quantity]))
        committed = 0.0
        if pending:
            committed = draw(st.sampled_from([1e-9, 1.0, 0.05 * ctx.equity, 0.5 * ctx.equity,
                                              5.0 * ctx.equity]))
        contexts.append(PendingContext(ctx, pending, committed))
    return replace(stream, batch=with_pending(batch, contexts), contexts=contexts)


def order_streams(*, max_orders: int = 10,
                  sizes: Sequence[int] = (SIZE_POSITION_CAP, SIZE_GROSS_CAP,
                                          SIZE_NOTIONAL_SHARE, SIZE_BUCKET_CAP, SIZE_CLOSE,
                                          SIZE_FLIP),
                  open_orders: bool = False) -> st.SearchStrategy[OrderStream]:
    """Streams of 1 to ``max_orders`` market orders, each with its context; every earlier order
    is taken as filled in full before the next one (positions move by it).

    :param sizes: the ``SIZE_*`` edges some streams size every order by (the others mix
        every kind of size); give the edges your check's caps sit on.
    :param open_orders: every order also sees open orders (``ctx.pending_quantity`` and
        ``ctx.pending_notional``; the batch's ``pending_*`` columns).
    """
    streams = _streams(max_orders, tuple(sizes))
    return streams.flatmap(_with_open_orders) if open_orders else streams


# -- judging -----------------------------------------------------------------------------------


def judge_one_by_one(check: RiskCheck, stream: OrderStream) -> tuple[int, str]:
    """Judge ``stream`` as the engine does: ``check()`` then ``on_accepted()`` after each
    approval. Returns the index of the first order not approved as sent (``len`` when none)
    and its ``action:reason``."""
    for i, (intent, ctx) in enumerate(stream.orders()):
        verdict = check.check(intent, ctx)
        if verdict.action is not VerdictAction.APPROVE:
            return i, f"{verdict.action}:{verdict.reason}"
        check.on_accepted(intent, intent.quantity, ctx)
    return len(stream.intents), "all_approved"


def assert_batch_form_agrees(make: Callable[[], RiskCheck], stream: OrderStream) -> None:
    """The batch form of the check ``make()`` builds agrees with its ``check()`` on
    ``stream``: ``check_batch`` returns None (no batch form here) or one bool per order, True
    exactly where ``check()`` approved, up to and including the first order it did not;
    ``check_batch`` leaves the check's state alone and gives the same answer twice; and when
    every order was approved, ``accept_batch`` leaves the state (``snapshot()``) one-by-one
    judging leaves. Call ``make`` for a fresh check each time (it is called twice)."""
    twin, batched = make(), make()
    first, why = judge_one_by_one(twin, stream)
    n = len(stream.batch)
    event(f"stops at {'end' if first == n else 'start' if first == 0 else 'middle'}: {why}")
    before = batched.snapshot()
    approved = batched.check_batch(stream.batch)
    assert batched.snapshot() == before, "check_batch changed the check's state"
    if approved is None:
        event("no batch form for this batch")
        return
    assert isinstance(approved, np.ndarray) and approved.dtype == bool, approved
    assert approved.shape == (n,), f"check_batch answered {approved.shape} for {n} orders"
    assert approved[:first].all(), (
        f"check() approved orders 0..{first - 1} but check_batch says {approved[:first]}")
    if first < n:
        assert not approved[first], f"check() gave {why} at order {first}, check_batch True"
    again = batched.check_batch(stream.batch)
    assert again is not None and (again[:first + 1] == approved[:first + 1]).all(), \
        "check_batch answered differently the second time"
    if first == n:
        batched.accept_batch(stream.batch)
        assert batched.snapshot() == twin.snapshot(), \
            "accept_batch left another state than check() and on_accepted() order by order"
