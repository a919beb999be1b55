"""Judging a run of orders at once: the batch form of the risk-check contract.

A backtest's compiled replay (:mod:`bot_core.backtest.compiled`) knows, before it judges
anything, every order of the run and what the engine would read at each one. When every enabled
check offers a batch form, the engine judges them all in a few numpy passes instead of one
Python call per check and order; the answer is the same, which each check proves with a
property test against its own :meth:`~bot_core.risk.check.RiskCheck.check`.

What an :class:`OrderBatch` promises, and what a batch form may therefore assume:

* every order is a plain market order (no limit price, not reduce-only) from a strategy;
* the trading state is ``ACTIVE`` at every order;
* every earlier order of the batch was approved in full and accepted (``on_accepted``); the
  ones still open when an order is judged are its committed exposure, which the batch gives
  (``pending_*``: ``ctx.pending_quantity`` and ``ctx.pending_notional``; None when nothing is
  open at any order);
* event time does not go backwards (``now_ns`` is non-decreasing).

A batch form answers, for every order, whether :meth:`check` would have *approved it as is*
(an ``APPROVE`` verdict) at that moment, given that all earlier orders were approved. Only the
answers up to the first ``False`` count: the engine stops there and the run is judged order by
order instead, which reproduces the real verdict with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bot_core.config.models import BucketConfig, RiskLimits

__all__ = ["OrderBatch", "capped_quantities", "reducing_quantities"]


@dataclass(frozen=True, slots=True, eq=False)
class OrderBatch:
    """``n`` market orders in judging order and what a check reads at each of them.

    Per-order columns are numpy arrays of length ``n`` (``positions`` and ``marks`` are
    ``n x len(instruments)``); they are the :class:`~bot_core.risk.check.RiskContext` figures
    at the moment the order is judged, before it.
    """

    instruments: Sequence[str]
    """Instrument symbols; ``instrument`` and the columns of ``positions``/``marks`` index it."""
    venues: Sequence[str]
    """Venue names; ``venue`` indexes it."""
    limits: RiskLimits
    buckets: Mapping[str, BucketConfig]
    now_ns: np.ndarray
    """int64: event time of the order (``ctx.now_ns``), non-decreasing."""
    instrument: np.ndarray
    """int64: index into ``instruments``."""
    venue: np.ndarray
    """int64: index into ``venues``."""
    side: np.ndarray
    """float64: +1.0 buy, -1.0 sell (``float(intent.side)``)."""
    quantity: np.ndarray
    """float64: ``intent.quantity`` (> 0)."""
    client_order_id: Sequence[str]
    """``intent.client_order_id`` of each order. The compiled replay passes a
    :class:`~bot_core.orderids.NumberedIds`, whose strings are made when read; a check that
    knows it can compare ids as numbers."""
    equity: np.ndarray
    """``ctx.equity``."""
    gross_exposure: np.ndarray
    """``ctx.gross_exposure``."""
    equity_peak: np.ndarray
    """``ctx.equity_peak``."""
    day_start_equity: np.ndarray
    """``ctx.day_start_equity``."""
    price: np.ndarray
    """``ctx.last_price(instrument, venue)`` (NaN when unknown)."""
    last_update_ns: np.ndarray
    """int64: ``ctx.last_update_ns(instrument, venue)`` (0 when never)."""
    position_at_venue: np.ndarray
    """``ctx.position(instrument, venue)``."""
    positions: np.ndarray
    """``ctx.position(symbol)`` (all venues) for every symbol of ``instruments``."""
    marks: np.ndarray
    """``ctx.last_price(symbol)`` (all venues; NaN when unknown) for every symbol."""
    pending_at_venue: np.ndarray | None = None
    """``ctx.pending_quantity(instrument, side, venue)``: open quantity of the order's own
    direction at its venue."""
    pending_buys: np.ndarray | None = None
    """``ctx.pending_quantity(symbol, +1)`` (all venues) for every symbol, like ``positions``."""
    pending_sells: np.ndarray | None = None
    """``ctx.pending_quantity(symbol, -1)`` (all venues) for every symbol."""
    pending_notional: np.ndarray | None = None
    """``ctx.pending_notional``."""

    def __len__(self) -> int:
        return int(self.quantity.shape[0])

    @property
    def position(self) -> np.ndarray:
        """``ctx.position(instrument)`` of each order's own instrument, over all venues."""
        own: np.ndarray = self.positions[np.arange(len(self)), self.instrument]
        return own

    @property
    def committed_at_venue(self) -> np.ndarray:
        """``pending_at_venue``, zeros when nothing is pending."""
        if self.pending_at_venue is None:
            return np.zeros(len(self))
        return self.pending_at_venue

    @property
    def committed(self) -> np.ndarray:
        """``ctx.pending_quantity(instrument, side)``: open quantity of each order's own
        instrument and direction, over all venues."""
        if self.pending_buys is None or self.pending_sells is None:
            return np.zeros(len(self))
        rows = np.arange(len(self))
        own: np.ndarray = np.where(self.side > 0.0, self.pending_buys[rows, self.instrument],
                                   self.pending_sells[rows, self.instrument])
        return own

    @property
    def committed_notional(self) -> np.ndarray:
        """``pending_notional``, zeros when nothing is pending."""
        if self.pending_notional is None:
            return np.zeros(len(self))
        return self.pending_notional


def reducing_quantities(position: np.ndarray, side_sign: np.ndarray,
                        quantity: np.ndarray) -> np.ndarray:
    """:func:`bot_core.risk.exposure.reducing_quantity`, element by element (NaN included:
    the scalar form's ``min(quantity, |position|)`` keeps ``quantity`` against NaN)."""
    size = np.abs(position)
    against = position * side_sign < 0.0  # False for a NaN position: it reduces nothing
    return np.where(against, np.where(size < quantity, size, quantity), 0.0)


def capped_quantities(position: np.ndarray, side_sign: np.ndarray, quantity: np.ndarray,
                      cap_qty: np.ndarray) -> np.ndarray:
    """:func:`bot_core.risk.exposure.capped_quantity`, element by element (NaN included: the
    scalar form's ``max`` keeps its first argument against NaN, and so does this)."""
    signed = side_sign * position
    allowed = cap_qty - signed
    reducing = reducing_quantities(position, side_sign, quantity)
    best = np.where(reducing > allowed, reducing, allowed)
    best = np.where(best < 0.0, 0.0, best)
    best = np.where(allowed >= quantity, quantity, best)
    best = np.where((signed < 0.0) & (quantity <= np.abs(position) + cap_qty), quantity, best)
    return np.where(position != position, 0.0, best)  # a NaN position: nothing fits
