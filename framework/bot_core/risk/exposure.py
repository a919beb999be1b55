"""Small exposure arithmetic shared by the engine and the risk-check plugins.

Plain floats only: these run for every order in backtests too.
"""

from __future__ import annotations

from bot_core.rules import QTY_EPSILON, reducing_quantity

__all__ = ["QTY_EPSILON", "capped_quantity", "is_finite_positive", "reducing_quantity"]


def is_finite_positive(value: float) -> bool:
    """True for a finite number > 0 (False for NaN, inf, 0 and negatives)."""
    return value > 0.0 and value != float("inf")  # NaN compares False


def capped_quantity(position: float, side_sign: float, quantity: float, cap_qty: float) -> float:
    """Largest quantity <= ``quantity`` such that ``|position + side_sign * q| <= cap_qty``,
    never below what merely reduces the position (an order that only reduces exposure is always
    allowed in full). Returns 0 when nothing can be added, or when the position is NaN."""
    if position != position:
        return 0.0
    if side_sign * position < 0.0 and quantity <= abs(position) + cap_qty:
        return quantity
    allowed = cap_qty - side_sign * position
    if allowed >= quantity:
        return quantity
    return max(allowed, reducing_quantity(position, side_sign, quantity), 0.0)
