"""Input guards shared by the checks: every missing or NaN figure becomes a rejection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot_core import QTY_EPSILON, OrderIntent, RiskContext, Verdict, reducing_quantity

if TYPE_CHECKING:
    import numpy as np

    from bot_core import OrderBatch

__all__ = ["OK", "finite_positive", "missing", "reducible_quantities", "reducible_quantity",
           "relative_dust", "verdict_for"]

OK = Verdict.approve()
"""The one approval verdict (immutable, shared: no allocation per order)."""


def missing(what: str, intent: OrderIntent) -> Verdict:
    """The rejection for a missing, NaN or non-positive input."""
    return Verdict.reject(f"{what}_unavailable",
                          f"{what} for {intent.instrument} on {intent.venue} is missing or NaN")


def reducible_quantity(intent: OrderIntent, ctx: RiskContext) -> float:
    """How much of the intent reduces the open position at its venue, counting open orders in
    the same direction as already done (so two reducing orders cannot flip the position)."""
    sign = float(intent.side)
    committed = (ctx.position(intent.instrument, intent.venue)
                 + sign * ctx.pending_quantity(intent.instrument, sign, intent.venue))
    return reducing_quantity(committed, sign, intent.quantity)


def reducible_quantities(batch: OrderBatch) -> np.ndarray:
    """:func:`reducible_quantity` of every order of ``batch``."""
    from bot_core import reducing_quantities

    committed = batch.position_at_venue + batch.side * batch.committed_at_venue
    return reducing_quantities(committed, batch.side, batch.quantity)


def finite_positive(values: np.ndarray) -> np.ndarray:
    """Element-wise ``0 < value < inf`` (False for NaN), the scalar checks' input test."""
    valid: np.ndarray = (values > 0.0) & (values != float("inf"))
    return valid


def relative_dust(quantity: float, reference: float) -> bool:
    """True when ``quantity`` is too small to be worth an order (float residue)."""
    return quantity <= max(QTY_EPSILON, reference * 1e-9)


def verdict_for(allowed: float, intent: OrderIntent, reason: str, detail: str) -> Verdict:
    """Approve when ``allowed`` covers the intent, reduce to it when it is a real quantity,
    reject when nothing (or only float dust) may go through."""
    if allowed >= intent.quantity:
        return OK
    if relative_dust(allowed, intent.quantity):
        return Verdict.reject(reason, detail)
    return Verdict.reduce(allowed, reason, detail)
