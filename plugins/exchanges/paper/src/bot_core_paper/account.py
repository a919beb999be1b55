"""Balances of the simulated account and how much of an order they can pay for.

Kept apart from matching so that the money rule (never fill what the account cannot carry) is
one small function that is easy to read and to test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from bot_core.market import split_symbol

__all__ = ["PaperAccount"]

_EPS = 1e-12
_INF = math.inf
_ASSETS: dict[str, tuple[str, str]] = {}


def _assets(instrument: str) -> tuple[str, str]:
    """(base, quote) of a symbol; cached, since every event and fill needs it."""
    pair = _ASSETS.get(instrument)
    if pair is None:
        pair = _ASSETS[instrument] = split_symbol(instrument)
    return pair


class PaperAccount:
    """Free balance per asset; marks from the venue's last prices.

    ``margin`` accounts may hold negative balances (borrowed quote to buy, borrowed base to short)
    as long as gross exposure stays within ``max_leverage`` x equity; ``spot`` accounts may not.
    """

    def __init__(self, initial: Mapping[str, float], *, margin: bool, max_leverage: float) -> None:
        self.balances: dict[str, float] = {k: float(v) for k, v in initial.items()}
        self.margin = margin
        self.max_leverage = max_leverage
        self._marks: dict[str, tuple[str, float]] = {}
        """base asset -> (quote asset, last price)."""

    def mark(self, instrument: str, price: float) -> None:
        if 0.0 < price < _INF:  # also False for NaN
            base, quote = _ASSETS.get(instrument) or _assets(instrument)
            self._marks[base] = (quote, price)

    def equity(self) -> float:
        """Account value in quote units (assets without a mark count at face value)."""
        marks = self._marks
        return sum(amount if (mark := marks.get(asset)) is None else amount * mark[1]
                   for asset, amount in self.balances.items())

    def gross_exposure(self) -> float:
        marks = self._marks
        return sum(abs(amount) * mark[1] for asset, amount in self.balances.items()
                   if (mark := marks.get(asset)) is not None)

    def affordable(self, instrument: str, side: int, quantity: float, price: float,
                   fee_rate: float) -> float:
        """The largest part of ``quantity`` (<= quantity) the account can fill at ``price``."""
        if not (math.isfinite(price) and price > 0 and quantity > 0):
            return 0.0
        base, quote = _assets(instrument)
        held = self.balances.get(base, 0.0)
        if not self.margin:
            if side > 0:
                cash = self.balances.get(quote, 0.0)
                return max(min(quantity, cash / (price * (1.0 + max(fee_rate, 0.0)))), 0.0)
            return max(min(quantity, held), 0.0)
        # margin: the part that reduces an open position is always allowed
        reducing = min(quantity, abs(held)) if held * side < 0 else 0.0
        rest = quantity - reducing
        if rest <= _EPS:
            return quantity
        self.mark(instrument, price)
        equity = self.equity() - reducing * price * abs(fee_rate)
        exposure_after_reduce = self.gross_exposure() - reducing * price
        room = self.max_leverage * equity - exposure_after_reduce
        # each unit adds price of exposure and costs its fee from equity
        per_unit = price * (1.0 + self.max_leverage * max(fee_rate, 0.0))
        extra = max(min(rest, room / per_unit), 0.0) if equity > 0 else 0.0
        return reducing + extra

    def apply_fill(self, instrument: str, side: int, quantity: float, price: float,
                   fee: float) -> None:
        base, quote = _assets(instrument)
        self.balances[base] = self.balances.get(base, 0.0) + side * quantity
        self.balances[quote] = self.balances.get(quote, 0.0) - side * quantity * price - fee
        if abs(self.balances[base]) < _EPS:
            self.balances[base] = 0.0

    def position(self, instrument: str) -> float:
        return self.balances.get(_assets(instrument)[0], 0.0)
