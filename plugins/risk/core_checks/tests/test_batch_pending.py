"""The batch forms with orders still open: an OrderBatch's ``pending_*`` columns answer what
``ctx.pending_quantity`` and ``ctx.pending_notional`` answer, and every check's
``check_batch`` still gives ``check()``'s APPROVE answers (test_batch.py holds the same
property with nothing pending).

Open orders are drawn per order: an open quantity (or none) per venue, instrument and side, and
a committed notional (positive whenever something is open, as the engine's book keeps it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot_core.risk.batch import OrderBatch

from .test_batch import (
    FACTORIES,
    FOCUS,
    PROPERTY,
    OrderContext,
    Scenario,
    assert_batch_agrees,
    build_batch,
    scenarios,
)


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
    from bot_core.config import resolve_config
    from bot_core_risk_checks import MaxPositionCheck

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
