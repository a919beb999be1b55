"""Round-trip trades built from fills: what a user reads in the trades list and the CSV.

A round trip opens when a position (per strategy, venue and instrument) leaves zero and closes
the quantity each reducing fill takes off; a partial close is its own row, and a fill that flips
the position closes the old trade and opens a new one with the rest. PnL is net of the entry
fees (pro rata to the closed quantity) and the exit fee.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from bot_core.orders import Fill

__all__ = ["RoundTrip", "TradeBook"]

_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class RoundTrip:
    strategy: str
    venue: str
    instrument: str
    side: str
    """``long`` or ``short``."""
    quantity: float
    entry_ns: int
    entry_price: float
    exit_ns: int | None
    """None while the trade is still open (then ``exit_price`` is the last mark)."""
    exit_price: float
    pnl: float
    """Net of fees, quote currency."""
    fees: float

    @property
    def return_pct(self) -> float:
        sign = 1.0 if self.side == "long" else -1.0
        return 100.0 * sign * (self.exit_price / self.entry_price - 1.0)

    def as_dict(self) -> dict[str, object]:
        from bot_core.backtest.results import iso_utc

        return {
            "strategy": self.strategy, "venue": self.venue, "instrument": self.instrument,
            "side": self.side, "quantity": self.quantity,
            "entry_time": iso_utc(self.entry_ns), "entry_price": self.entry_price,
            "exit_time": iso_utc(self.exit_ns) if self.exit_ns is not None else None,
            "exit_price": self.exit_price, "pnl": self.pnl, "fees": self.fees,
            "return_pct": self.return_pct,
        }


@dataclass(slots=True)
class _Open:
    qty: float
    """Signed."""
    entry_ns: int
    avg_price: float
    fees: float


class TradeBook:
    """Turns a stream of fills into round trips; also counts traded notional and fees."""

    def __init__(self) -> None:
        self.closed: list[RoundTrip] = []
        self._open: dict[tuple[str, str, str], _Open] = {}
        self.traded_notional = 0.0
        self.fees = 0.0

    def add(self, fill: Fill) -> None:
        self.add_values(fill.strategy_id, fill.venue, fill.instrument, float(fill.side),
                        fill.quantity, fill.price, fill.fee, fill.ts_ns)

    def add_values(self, strategy: str, venue: str, instrument: str, side_sign: float,
                   quantity: float, price: float, fee: float, ts_ns: int) -> None:
        """One fill, from its fields: ``side_sign`` is +1.0 for a buy, -1.0 for a sell."""
        key = (strategy, venue, instrument)
        signed = side_sign * quantity
        self.traded_notional += abs(quantity * price)
        self.fees += fee
        pos = self._open.get(key)
        if pos is None or abs(pos.qty) <= _EPS:
            self._open[key] = _Open(signed, ts_ns, price, fee)
            return
        if (pos.qty > 0) == (signed > 0):
            new = pos.qty + signed
            pos.avg_price = (abs(pos.qty) * pos.avg_price + quantity * price) / abs(new)
            pos.qty = new
            pos.fees += fee
            return
        closed = min(abs(signed), abs(pos.qty))
        share = closed / abs(pos.qty)
        exit_fee = fee * closed / quantity
        entry_fee = pos.fees * share
        sign = 1.0 if pos.qty > 0 else -1.0
        gross = sign * closed * (price - pos.avg_price)
        self.closed.append(RoundTrip(
            strategy, venue, instrument, "long" if sign > 0 else "short", closed, pos.entry_ns,
            pos.avg_price, ts_ns, price, gross - entry_fee - exit_fee, entry_fee + exit_fee,
        ))
        pos.fees -= entry_fee
        rest = abs(signed) - closed
        pos.qty -= sign * closed
        if abs(pos.qty) <= _EPS * max(1.0, closed):
            del self._open[key]
            if rest > _EPS * max(1.0, closed):
                self._open[key] = _Open(math.copysign(rest, signed), ts_ns, price,
                                        fee - exit_fee)

    def add_all(self, fills: Iterable[Fill]) -> None:
        for fill in fills:
            self.add(fill)

    def open_trades(self, marks: dict[tuple[str, str], float]) -> list[RoundTrip]:
        """Still-open trades valued at ``marks`` ((venue, instrument) -> price), exit time None."""
        out = []
        for (strategy, venue, instrument), pos in self._open.items():
            price = marks.get((venue, instrument), pos.avg_price)
            sign = 1.0 if pos.qty > 0 else -1.0
            pnl = sign * abs(pos.qty) * (price - pos.avg_price) - pos.fees
            out.append(RoundTrip(strategy, venue, instrument, "long" if sign > 0 else "short",
                                 abs(pos.qty), pos.entry_ns, pos.avg_price, None, price, pnl,
                                 pos.fees))
        return out
