"""Round-trip trades built from fills: what a user reads in the trades list and the CSV.

A trade is one round trip of one position (per strategy, venue and instrument): it opens with
the fill that takes the position away from flat and closes with the fill that brings it back to
flat, however many fills it took on the way (a venue that fills at most a share of each bar's
volume spreads one exit over many bars; adding to the position or reducing it part of the way
stays inside the same trade). A fill that reverses the position closes the trade with the part
that reaches flat and opens the next one with the rest, at the same price; its fee is split pro
rata, and it counts as a fill of both trades. "Flat" is the portfolio's rule
(:func:`bot_core.rules.left_flat`), so float residue never keeps a trade open.

Per trade: ``quantity`` is everything that was opened (the sum of the opening and adding fills),
``entry_price`` and ``exit_price`` the volume-weighted averages of the opening and of the closing
fills, so ``gross_pnl = sign x quantity x (exit_price - entry_price)`` exactly; ``pnl`` is net of
every fee of the trade, and ``return_pct`` is that net pnl over the entry notional. The fills
themselves stay available, in order, as :attr:`TradeBook.fills`.

The backtest's event path (:meth:`TradeBook.add`) and its compiled replay
(:meth:`TradeBook.add_values`) book through the same :meth:`TradeBook.add_values`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from bot_core.orders import Fill
from bot_core.rules import left_flat

__all__ = ["BookedFill", "RoundTrip", "TradeBook"]


class RoundTrip(NamedTuple):
    """One round trip (immutable; a named tuple: tens of thousands are built per run)."""

    strategy: str
    venue: str
    instrument: str
    side: str
    """``long`` or ``short``."""
    quantity: float
    """Everything opened over the trade (base units): the sum of its opening and adding fills."""
    entry_ns: int
    """Time of the fill that opened it."""
    entry_price: float
    """Volume-weighted average price of the opening and adding fills."""
    exit_ns: int | None
    """Time of the fill that made the position flat; None while the trade is still open."""
    exit_price: float
    """Volume-weighted average price of the closing fills; for an open trade, the quantity not
    yet closed is valued at the last mark."""
    pnl: float
    """Net of every fee of the trade, quote currency."""
    fees: float
    fills: int = 1
    """Fills that made up the trade (a reversing fill counts in both trades it touches)."""

    @property
    def gross_pnl(self) -> float:
        """Before fees: ``pnl + fees``."""
        return self.pnl + self.fees

    @property
    def return_pct(self) -> float:
        """Net pnl over the entry notional, percent (the same basis as ``pnl``)."""
        notional = self.quantity * self.entry_price
        return 100.0 * self.pnl / notional if notional > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        from bot_core.backtest.times import iso_utc

        return {
            "strategy": self.strategy, "venue": self.venue, "instrument": self.instrument,
            "side": self.side, "quantity": self.quantity,
            "entry_time": iso_utc(self.entry_ns), "entry_price": self.entry_price,
            "exit_time": iso_utc(self.exit_ns) if self.exit_ns is not None else None,
            "exit_price": self.exit_price, "fills": self.fills, "gross_pnl": self.gross_pnl,
            "fees": self.fees, "pnl": self.pnl, "return_pct": self.return_pct,
        }


class BookedFill(NamedTuple):
    """One fill as the trade book saw it (the per-fill view of a backtest)."""

    ts_ns: int
    strategy: str
    venue: str
    instrument: str
    side_sign: float
    """+1.0 for a buy, -1.0 for a sell."""
    quantity: float
    price: float
    fee: float

    def as_dict(self) -> dict[str, object]:
        from bot_core.backtest.times import iso_utc

        return {"time": iso_utc(self.ts_ns), "strategy": self.strategy, "venue": self.venue,
                "instrument": self.instrument, "side": "buy" if self.side_sign > 0 else "sell",
                "quantity": self.quantity, "price": self.price, "fee": self.fee}


@dataclass(slots=True)
class _Open:
    """A trade in progress."""

    qty: float
    """Signed position now."""
    entry_ns: int
    opened: float
    """Quantity opened so far (absolute)."""
    entry_notional: float
    closed_notional: float
    fees: float
    fills: int
    long: bool

    def round_trip(self, key: tuple[str, str, str], exit_ns: int | None,
                   mark: float) -> RoundTrip:
        """The trade with the quantity still open valued at ``mark`` (none once flat)."""
        strategy, venue, instrument = key
        sign = 1.0 if self.long else -1.0
        exit_notional = self.closed_notional + abs(self.qty) * mark
        gross = sign * (exit_notional - self.entry_notional)
        return RoundTrip(strategy, venue, instrument, "long" if sign > 0 else "short",
                         self.opened, self.entry_ns, self.entry_notional / self.opened, exit_ns,
                         exit_notional / self.opened, gross - self.fees, self.fees, self.fills)


class TradeBook:
    """Turns a stream of fills into round trips; keeps the fills, traded notional and fees."""

    def __init__(self) -> None:
        self.closed: list[RoundTrip] = []
        self.fills: list[BookedFill] = []
        """Every fill, in booking order."""
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
        self.fills.append(BookedFill(ts_ns, strategy, venue, instrument, side_sign, quantity,
                                     price, fee))
        self.traded_notional += abs(quantity * price)
        self.fees += fee
        pos = self._open.get(key)
        if pos is None:
            self._open[key] = _Open(signed, ts_ns, quantity, quantity * price, 0.0, fee, 1,
                                    signed > 0)
            return
        pos.fills += 1
        if (pos.qty > 0) == (signed > 0):  # adding to the position
            pos.qty += signed
            pos.opened += quantity
            pos.entry_notional += quantity * price
            pos.fees += fee
            return
        old = pos.qty
        new = old + signed
        if not left_flat(old, new, quantity) and (new > 0) == (old > 0):  # part of the way
            pos.qty = new
            pos.closed_notional += quantity * price
            pos.fees += fee
            return
        # flat, or reversed: the part that reaches flat closes this trade
        closing = min(quantity, abs(old))
        closing_fee = fee * closing / quantity
        pos.closed_notional += closing * price
        pos.fees += closing_fee
        pos.qty = 0.0
        self.closed.append(pos.round_trip(key, ts_ns, price))
        del self._open[key]
        if not left_flat(old, new, quantity):  # the rest opens the next trade
            rest = quantity - closing
            self._open[key] = _Open(new, ts_ns, rest, rest * price, 0.0, fee - closing_fee, 1,
                                    new > 0)

    def add_all(self, fills: Iterable[Fill]) -> None:
        for fill in fills:
            self.add(fill)

    def open_trades(self, marks: dict[tuple[str, str], float]) -> list[RoundTrip]:
        """Still-open trades, the quantity not yet closed valued at ``marks`` ((venue,
        instrument) -> price; the trade's average entry price where there is none), exit time
        None."""
        out = []
        for key, pos in self._open.items():
            _, venue, instrument = key
            mark = marks.get((venue, instrument), pos.entry_notional / pos.opened)
            out.append(pos.round_trip(key, None, mark))
        return out
