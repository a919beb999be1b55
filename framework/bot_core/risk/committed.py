"""Exposure already committed by approved orders that have not filled yet.

Between approval and fill an order is invisible in the portfolio, but its risk is already
taken: two strategies deciding on the same bar must not both use the same room under a cap. The
engine books every approved order here and releases it on fills and when the order closes; the
exposure checks read the open quantity per direction and the total open notional.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot_core.risk.exposure import QTY_EPSILON

__all__ = ["CommittedOrders"]


class CommittedOrders:
    """Open approved orders by client order id, summed per (venue, instrument, direction)."""

    __slots__ = ("_by_instrument", "_by_venue", "_open", "notional")

    def __init__(self) -> None:
        self._open: dict[str, list[Any]] = {}
        """client id -> [venue, instrument, sign, remaining quantity, approval price]."""
        self._by_venue: dict[tuple[str, str, int], float] = {}
        self._by_instrument: dict[tuple[str, int], float] = {}
        self.notional = 0.0
        """Open quantity times approval price, summed over every open order."""

    def __bool__(self) -> bool:
        return bool(self._open)

    def quantity(self, instrument: str, side_sign: float, venue: str | None = None) -> float:
        """Open quantity (>= 0) in direction ``side_sign`` on ``venue`` (or on all venues)."""
        sign = 1 if side_sign > 0 else -1
        if venue is None:
            return self._by_instrument.get((instrument, sign), 0.0)
        return self._by_venue.get((venue, instrument, sign), 0.0)

    def open_by_instrument(self) -> dict[tuple[str, int], float]:
        """(instrument, direction +1/-1) -> open quantity on all venues, for those with any
        (what :meth:`quantity` answers without a venue; a copy)."""
        return dict(self._by_instrument)

    def add(self, client_order_id: str, venue: str, instrument: str, side_sign: float,
            quantity: float, price: float) -> None:
        """Book an approved order (replacing an open one with the same id)."""
        sign = 1 if side_sign > 0 else -1
        self.release(client_order_id)
        self._open[client_order_id] = [venue, instrument, sign, quantity, price]
        vkey = (venue, instrument, sign)
        self._by_venue[vkey] = self._by_venue.get(vkey, 0.0) + quantity
        ikey = (instrument, sign)
        self._by_instrument[ikey] = self._by_instrument.get(ikey, 0.0) + quantity
        self.notional += quantity * price

    def release(self, client_order_id: str, quantity: float = float("inf")) -> None:
        """Release ``quantity`` of an order (a fill), or all of it (the order closed)."""
        entry = self._open.get(client_order_id)
        if entry is None:
            return
        venue, instrument, sign, remaining, price = entry
        released = min(quantity, remaining)
        entry[3] = remaining - released
        if entry[3] <= QTY_EPSILON * max(remaining, 1.0):
            released = remaining
            del self._open[client_order_id]
        if not self._open:  # nothing open: start from exact zeros again
            self._by_venue.clear()
            self._by_instrument.clear()
            self.notional = 0.0
            return
        vkey = (venue, instrument, sign)
        self._by_venue[vkey] = max(self._by_venue[vkey] - released, 0.0)
        ikey = (instrument, sign)
        self._by_instrument[ikey] = max(self._by_instrument[ikey] - released, 0.0)
        self.notional = max(self.notional - released * price, 0.0)

    def snapshot(self) -> dict[str, list[Any]]:
        return {k: list(v) for k, v in self._open.items()}

    def restore(self, data: Mapping[str, Any]) -> None:
        self._open.clear()
        self._by_venue.clear()
        self._by_instrument.clear()
        self.notional = 0.0
        for client_id, (venue, instrument, sign, remaining, price) in data.items():
            self.add(client_id, venue, instrument, float(sign), float(remaining), float(price))
