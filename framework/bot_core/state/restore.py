"""Restart, first half: the books of a pipeline as its state file last knew them.

The latest snapshot is loaded into the pipeline's own portfolio, risk engine and counters; the
fills booked after it are booked again, in their order (portfolio booking is deterministic, so
the positions, cash and PnL are those of the moment of the crash); every order of the file is
taken over by the pipeline (its client order id is never used again; the open ones count as
committed exposure for the risk engine). Nothing is sent and no strategy is called; what the
venues did meanwhile is :func:`bot_core.state.reconcile.reconcile`'s business.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot_core.errors import StateError

if TYPE_CHECKING:
    from bot_core.pipeline import TradingPipeline
    from bot_core.state.store import StateStore

__all__ = ["Restored", "restore"]


@dataclass(slots=True)
class Restored:
    """What :func:`restore` found in the state file."""

    snapshot_ns: int | None = None
    """Market time of the snapshot restored (None: there was none)."""
    fills_replayed: int = 0
    """Fills booked after the snapshot and booked again."""
    orders: int = 0
    open_orders: list[str] = field(default_factory=list)
    quarantined: dict[str, str] = field(default_factory=dict)
    """strategy -> cause, of the strategies quarantined at the last snapshot."""

    @property
    def anything(self) -> bool:
        return self.snapshot_ns is not None or bool(self.orders or self.fills_replayed)

    def as_dict(self) -> dict[str, Any]:
        return {"snapshot_ns": self.snapshot_ns, "fills_replayed": self.fills_replayed,
                "orders": self.orders, "open_orders": list(self.open_orders),
                "quarantined": dict(self.quarantined)}


def restore(store: StateStore, pipeline: TradingPipeline) -> Restored:
    """Load ``store`` into ``pipeline`` (before ``pipeline.start()``; see the module docstring).

    :raises StateError: the snapshot does not fit the pipeline (another base currency, a risk
        snapshot of an unknown version).
    """
    out = Restored()
    portfolio, risk = pipeline.portfolio, pipeline.risk
    snap = store.snapshot()
    after = 0
    try:
        if snap is not None:
            out.snapshot_ns = snap.taken_ns
            after = snap.fill_seq
            books = dict(snap.portfolio)
            books["trade_ids"] = store.trade_ids(upto_seq=after)
            portfolio.restore(books)
            risk_state = dict(snap.risk)
            rows = store.orders()
            open_ids = {r.client_order_id for r in rows if r.open}
            risk_state["open_orders"] = {}
            risk_state["liquidating"] = {cid: v for cid, v in
                                         dict(risk_state.get("liquidating", {})).items()
                                         if cid in open_ids}
            risk.restore(risk_state)
            pipeline.restore(snap.pipeline)
        else:
            rows = store.orders()
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(f"{store.path}: the snapshot cannot be restored into this bot "
                         f"({type(exc).__name__}: {exc})") from None
    for booked in store.fills(after_seq=after):
        portfolio.apply_fill(booked.fill)
        out.fills_replayed += 1
    for strategy, value in store.counters().items():
        ctx = pipeline.contexts.get(strategy)
        if ctx is not None and value > ctx.order_seq:
            ctx.order_seq = value
    pipeline.remember_client_order_ids(r.client_order_id for r in rows)
    for row in rows:
        out.orders += 1
        if not row.open:
            continue
        order = row.order
        pipeline.remember_order(order)
        out.open_orders.append(order.client_order_id)
        intent = order.intent
        risk.track_open_order(order.client_order_id, intent.venue, intent.instrument,
                              float(intent.side), order.remaining, _reference_price(
                                  pipeline, intent.instrument, intent.venue, intent.limit_price))
    out.quarantined = {name: cause for name, (cause, _) in store.quarantine().items()}
    return out


def _reference_price(pipeline: TradingPipeline, instrument: str, venue: str,
                     limit: float | None) -> float:
    """The price an open order's committed exposure is counted at: its limit, else the last
    price known (0 when there is none: the exposure checks then see its quantity only)."""
    if limit is not None and math.isfinite(limit) and limit > 0:
        return limit
    price = pipeline.portfolio.last_price(instrument, venue)
    return price if math.isfinite(price) and price > 0 else 0.0
