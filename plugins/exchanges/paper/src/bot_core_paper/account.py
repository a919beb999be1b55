"""Balances of the simulated account and how much of an order they can pay for.

Kept apart from matching so that the money rule (never fill what the account cannot carry) is
easy to read. The rule itself is the host's (:func:`bot_core.rules.affordable_quantity`,
:func:`bot_core.rules.account_after_fill`), which the backtest's compiled replay runs too: this
class keeps the balances and marks the rule reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from bot_core import rules, split_symbol

__all__ = ["PaperAccount"]

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
        """The largest part of ``quantity`` (<= quantity) the account can fill at ``price``
        (:func:`bot_core.rules.affordable_quantity`; a margin account is valued with the
        asset marked at ``price``)."""
        base, quote = _assets(instrument)
        held = self.balances.get(base, 0.0)
        equity = gross = 0.0
        if rules.needs_account_value(side, quantity, price, self.margin, held):
            self.mark(instrument, price)
            equity, gross = self.equity(), self.gross_exposure()
        return rules.affordable_quantity(side, quantity, price, fee_rate, self.margin,
                                         self.max_leverage, self.balances.get(quote, 0.0), held,
                                         equity, gross)

    def apply_fill(self, instrument: str, side: int, quantity: float, price: float,
                   fee: float) -> None:
        base, quote = _assets(instrument)
        self.balances[base], self.balances[quote] = rules.account_after_fill(
            self.balances.get(base, 0.0), self.balances.get(quote, 0.0), side, quantity, price,
            fee)

    def position(self, instrument: str) -> float:
        return self.balances.get(_assets(instrument)[0], 0.0)
