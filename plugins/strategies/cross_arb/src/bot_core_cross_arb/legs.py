"""Bookkeeping of arbitrage legs: which orders belong together and what they filled.

A *group* is one pair of legs sent together (``group_id`` on both intents) plus the hedge or
unwind orders sent later to repair it. A group is settled when every order in it is final; its
*net* (signed base quantity filled over all its orders) must then be ~0, or the strategy sends
a repair order. Kept free of numba and of venue details so the rules are easy to test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Group", "Leg", "LegState"]

LegState = Literal["sent", "working", "final"]
"""sent: no report yet; working: the venue acknowledged it; final: it will fill no more."""

_EPS = 1e-12


@dataclass(slots=True)
class Leg:
    client_order_id: str
    venue: str
    side: int
    """+1 buy, -1 sell."""
    quantity: float
    role: str
    """arb, rebalance, hedge or unwind."""
    sent_ns: int
    filled: float = 0.0
    state: LegState = "sent"
    reason: str = ""

    def add_fill(self, quantity: float) -> None:
        self.filled += quantity
        if self.filled >= self.quantity * (1.0 - 1e-9) - _EPS:
            self.state = "final"


@dataclass(slots=True)
class Group:
    group_id: str
    instrument: str
    kind: str
    """arb or rebalance."""
    legs: list[Leg] = field(default_factory=list)
    hedges: int = 0
    unwinds: int = 0
    settled: bool = False

    @property
    def net(self) -> float:
        """Signed base quantity filled over every order of the group."""
        return sum(leg.side * leg.filled for leg in self.legs)

    @property
    def all_final(self) -> bool:
        return all(leg.state == "final" for leg in self.legs)

    def first_leg(self, side: int) -> Leg | None:
        """The original (pair) leg on ``side``."""
        for leg in self.legs:
            if leg.side == side and leg.role in ("arb", "rebalance"):
                return leg
        return None
