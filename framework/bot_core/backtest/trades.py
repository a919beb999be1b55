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

The book takes fills one at a time (the backtest's event path, :meth:`TradeBook.add`) or as
columns (its compiled replay, :meth:`TradeBook.add_columns`), keeps them as columns, and builds
the round trips when they are first read, in one compiled pass over every fill
(:func:`_book_fills`): one implementation for both speeds, and no Python work per fill.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar, overload

import numpy as np
from numba import njit

from bot_core.backtest.jit import rules
from bot_core.orders import Fill

__all__ = ["BookedFill", "BookedFills", "RoundTrip", "RoundTrips", "TradeBook"]


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


_Row = TypeVar("_Row")

Book = tuple[str, str, str]
"""(strategy, venue, instrument): one position's round trips."""

_TRADE = np.dtype([
    ("book", np.int64), ("long", np.bool_), ("opened", np.float64), ("entry_ns", np.int64),
    ("entry_notional", np.float64), ("closed_notional", np.float64), ("qty", np.float64),
    ("fees", np.float64), ("fills", np.int64), ("exit_ns", np.int64), ("seq", np.int64),
])
"""A trade, closed or open: ``qty`` is the signed position still open (0 once closed),
``exit_ns`` the closing fill's time (closed trades), ``seq`` when an open trade was opened."""


@njit(cache=True, nogil=True)
def _open(trade: Any, position: float, opened: float, price: float, fee: float, ts: int,
          seq: int) -> None:
    """``trade`` opened by a fill at ``ts`` (fill number ``seq``): ``opened`` units at ``price``
    paying ``fee``, leaving the signed ``position``."""
    trade.long = position > 0
    trade.qty = position
    trade.entry_ns = ts
    trade.opened = opened
    trade.entry_notional = opened * price
    trade.closed_notional = 0.0
    trade.fees = fee
    trade.fills = 1
    trade.seq = seq


@njit(cache=True, nogil=True)
def _book_fills(book: np.ndarray, side: np.ndarray, quantity: np.ndarray, price: np.ndarray,
                fee: np.ndarray, ts: np.ndarray, n_books: int
                ) -> tuple[np.ndarray, int, np.ndarray, float, float]:
    """Every fill, in order, into round trips (the rules of the module docstring). Returns
    ``(closed, n_closed, open, traded_notional, fees)``: the closed trades (the first
    ``n_closed`` records), and each book's trade in progress (``seq`` -1: none)."""
    n = book.shape[0]
    closed = np.zeros(n, dtype=_TRADE)
    live = np.zeros(n_books, dtype=_TRADE)
    for b in range(n_books):
        live[b].seq = -1
    n_closed = 0
    traded = 0.0
    fees = 0.0
    for i in range(n):
        b = book[i]
        q = quantity[i]
        p = price[i]
        f = fee[i]
        signed = side[i] * q
        traded += abs(q * p)
        fees += f
        pos = live[b]
        if pos.seq < 0:  # opens a trade
            pos.book = b
            _open(pos, signed, q, p, f, ts[i], i)
            continue
        pos.fills += 1
        if (pos.qty > 0) == (signed > 0):  # adding to the position
            pos.qty += signed
            pos.opened += q
            pos.entry_notional += q * p
            pos.fees += f
            continue
        old = pos.qty
        new = old + signed
        if not rules.left_flat(old, new, q) and (new > 0) == (old > 0):  # part of the way
            pos.qty = new
            pos.closed_notional += q * p
            pos.fees += f
            continue
        # flat, or reversed: the part that reaches flat closes this trade
        closing = min(q, abs(old))
        closing_fee = f * closing / q
        pos.closed_notional += closing * p
        pos.fees += closing_fee
        pos.qty = 0.0
        pos.exit_ns = ts[i]
        closed[n_closed] = pos
        n_closed += 1
        pos.seq = -1
        if not rules.left_flat(old, new, q):  # the rest opens the next trade
            _open(pos, new, q - closing, p, f - closing_fee, ts[i], i)
    return closed, n_closed, live, traded, fees


class _Rows(Sequence[_Row]):
    """Rows kept as columns, each built (:meth:`_at`) when it is read; equal to any sequence
    of the same rows."""

    __slots__ = ()
    _noun = "row"

    def _at(self, i: int) -> _Row:
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> _Row: ...
    @overload
    def __getitem__(self, index: slice) -> list[_Row]: ...

    def __getitem__(self, index: int | slice) -> _Row | list[_Row]:
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"{self._noun} index out of range")
        return self._at(index)

    def __iter__(self) -> Iterator[_Row]:
        for i in range(len(self)):
            yield self._at(i)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} {self._noun}s)"


class RoundTrips(_Rows[RoundTrip]):
    """Round trips kept as columns, each a :class:`RoundTrip` when it is read (a run of a
    million bars may close tens of thousands of trades; metrics read the columns, and most
    readers only count them or show the first few)."""

    __slots__ = ("_columns", "_lists", "_names")
    _noun = "trade"

    _FIELDS = ("book", "long", "quantity", "entry_ns", "entry_price", "closed", "exit_ns",
               "exit_price", "pnl", "fees", "fills")

    def __init__(self, names: Sequence[Book], columns: dict[str, np.ndarray]) -> None:
        self._names = list(names)
        self._columns = columns
        self._lists: tuple[list[Any], ...] | None = None

    @classmethod
    def of_book(cls, names: Sequence[Book], trades: np.ndarray,
                marks: np.ndarray | None) -> RoundTrips:
        """Trades of :func:`_book_fills`: closed ones (``marks`` None) at their exit, open ones
        with the quantity still open valued at ``marks`` (one price per trade)."""
        sign = np.where(trades["long"], 1.0, -1.0)
        exit_notional = trades["closed_notional"] + np.abs(trades["qty"]) * (
            0.0 if marks is None else marks)
        gross = sign * (exit_notional - trades["entry_notional"])
        opened = trades["opened"]
        closed = np.full(len(trades), marks is None)
        return cls(names, {
            "book": trades["book"], "long": trades["long"], "quantity": opened,
            "entry_ns": trades["entry_ns"], "entry_price": trades["entry_notional"] / opened,
            "closed": closed, "exit_ns": np.where(closed, trades["exit_ns"], 0),
            "exit_price": exit_notional / opened, "pnl": gross - trades["fees"],
            "fees": trades["fees"], "fills": trades["fills"]})

    @classmethod
    def of(cls, trades: Iterable[RoundTrip]) -> RoundTrips:
        """Round trips given one by one, as columns."""
        if isinstance(trades, RoundTrips):
            return trades
        trades = list(trades)
        index: dict[Book, int] = {}
        for t in trades:
            index.setdefault((t.strategy, t.venue, t.instrument), len(index))
        return cls(list(index), {
            "book": np.array([index[(t.strategy, t.venue, t.instrument)] for t in trades],
                             dtype=np.int64),
            "long": np.array([t.side == "long" for t in trades], dtype=np.bool_),
            "quantity": np.array([t.quantity for t in trades], dtype=np.float64),
            "entry_ns": np.array([t.entry_ns for t in trades], dtype=np.int64),
            "entry_price": np.array([t.entry_price for t in trades], dtype=np.float64),
            "closed": np.array([t.exit_ns is not None for t in trades], dtype=np.bool_),
            "exit_ns": np.array([t.exit_ns or 0 for t in trades], dtype=np.int64),
            "exit_price": np.array([t.exit_price for t in trades], dtype=np.float64),
            "pnl": np.array([t.pnl for t in trades], dtype=np.float64),
            "fees": np.array([t.fees for t in trades], dtype=np.float64),
            "fills": np.array([t.fills for t in trades], dtype=np.int64)})

    def _joined(self, other: RoundTrips) -> RoundTrips:
        """These trades and ``other``'s (of the same books), ordered by entry time and then
        exit time (an open trade's counts as 0), ties in that order."""
        assert other._names == self._names, "trades of one trade book"
        columns = {k: np.concatenate([self._columns[k], other._columns[k]]) for k in self._FIELDS}
        # lexsort is stable: the last key sorts first
        order = np.lexsort((columns["exit_ns"], columns["entry_ns"]))
        return RoundTrips(self._names, {k: v[order] for k, v in columns.items()})

    def closed_pnl(self) -> np.ndarray:
        """The net pnl of each closed trade (what the win rate counts)."""
        pnl: np.ndarray = self._columns["pnl"][self._columns["closed"]]
        return pnl

    def __len__(self) -> int:
        return len(self._columns["book"])

    def _at(self, i: int) -> RoundTrip:
        if self._lists is None:
            self._lists = tuple(self._columns[k].tolist() for k in self._FIELDS)
        (book, long, quantity, entry_ns, entry_price, closed, exit_ns, exit_price, pnl, fees,
         fills) = (column[i] for column in self._lists)
        strategy, venue, instrument = self._names[book]
        return RoundTrip(strategy, venue, instrument, "long" if long else "short", quantity,
                         entry_ns, entry_price, exit_ns if closed else None, exit_price, pnl,
                         fees, fills)


class BookedFills(_Rows[BookedFill]):
    """The book's fills, in booking order, each a :class:`BookedFill` when it is read (a run
    of a million bars may have tens of thousands, and most readers only count them)."""

    __slots__ = ("_arrays", "_columns", "_names")
    _noun = "fill"

    def __init__(self, names: list[Book], ts: np.ndarray, book: np.ndarray, side: np.ndarray,
                 quantity: np.ndarray, price: np.ndarray, fee: np.ndarray) -> None:
        self._names = names
        self._arrays = (ts, book, side, quantity, price, fee)
        self._columns: tuple[list[Any], ...] | None = None

    def _lists(self) -> tuple[list[Any], ...]:
        if self._columns is None:
            self._columns = tuple(column.tolist() for column in self._arrays)
        return self._columns

    def __len__(self) -> int:
        return len(self._arrays[0])

    def _at(self, i: int) -> BookedFill:
        ts, book, side, quantity, price, fee = self._lists()
        strategy, venue, instrument = self._names[book[i]]
        return BookedFill(ts[i], strategy, venue, instrument, side[i], quantity[i], price[i],
                          fee[i])

    def __iter__(self) -> Iterator[BookedFill]:
        names = self._names
        for ts, book, side, quantity, price, fee in zip(*self._lists(), strict=True):
            strategy, venue, instrument = names[book]
            yield BookedFill(ts, strategy, venue, instrument, side, quantity, price, fee)


class TradeBook:
    """Turns a stream of fills into round trips; keeps the fills, traded notional and fees."""

    _COLUMNS = (("ts", np.int64), ("book", np.int64), ("side", np.float64),
                ("quantity", np.float64), ("price", np.float64), ("fee", np.float64))

    def __init__(self) -> None:
        self._books: dict[Book, int] = {}
        self._names: list[Book] = []
        # fills given one by one wait in lists; columns (and those lists, in order) in chunks
        self._pending: tuple[list[Any], ...] = tuple([] for _ in self._COLUMNS)
        self._chunks: list[tuple[np.ndarray, ...]] = []
        self._length = 0
        self._built: tuple[np.ndarray, np.ndarray, float, float] | None = None
        self._fills: BookedFills | None = None

    def __len__(self) -> int:
        """The fills booked so far."""
        return self._length

    def _index(self, name: Book) -> int:
        index = self._books.get(name)
        if index is None:
            index = self._books[name] = len(self._names)
            self._names.append(name)
        return index

    def add(self, fill: Fill) -> None:
        self.add_values(fill.strategy_id, fill.venue, fill.instrument, float(fill.side),
                        fill.quantity, fill.price, fill.fee, fill.ts_ns)

    def add_values(self, strategy: str, venue: str, instrument: str, side_sign: float,
                   quantity: float, price: float, fee: float, ts_ns: int) -> None:
        """One fill, from its fields: ``side_sign`` is +1.0 for a buy, -1.0 for a sell."""
        ts, book, side, qty, px, fees = self._pending
        ts.append(ts_ns)
        book.append(self._index((strategy, venue, instrument)))
        side.append(side_sign)
        qty.append(quantity)
        px.append(price)
        fees.append(fee)
        self._length += 1
        self._built = self._fills = None

    def _flush(self) -> None:
        if self._pending[0]:
            self._chunks.append(tuple(np.array(values, dtype=dtype) for values, (_, dtype)
                                      in zip(self._pending, self._COLUMNS, strict=True)))
            self._pending = tuple([] for _ in self._COLUMNS)

    def add_columns(self, names: Sequence[Book], book: np.ndarray, side_sign: np.ndarray,
                    quantity: np.ndarray, price: np.ndarray, fee: np.ndarray,
                    ts_ns: np.ndarray) -> None:
        """Many fills at once, in order: fill ``i`` is of the book ``names[book[i]]``."""
        self._flush()
        index = np.array([self._index(name) for name in names], dtype=np.int64)
        given = (ts_ns, index[np.asarray(book, dtype=np.int64)], side_sign, quantity, price,
                 fee)
        self._chunks.append(tuple(np.array(values, dtype=dtype) for values, (_, dtype)
                                  in zip(given, self._COLUMNS, strict=True)))
        self._length += len(given[0])
        self._built = self._fills = None

    def add_all(self, fills: Iterable[Fill]) -> None:
        for fill in fills:
            self.add(fill)

    def _columns(self) -> tuple[np.ndarray, ...]:
        """(ts, book, side, quantity, price, fee) of every fill, in booking order."""
        self._flush()
        if not self._chunks:
            return tuple(np.empty(0, dtype) for _, dtype in self._COLUMNS)
        if len(self._chunks) > 1:
            self._chunks = [tuple(np.concatenate(parts)
                                  for parts in zip(*self._chunks, strict=True))]
        return self._chunks[0]

    def _build(self) -> tuple[np.ndarray, np.ndarray, float, float]:
        if self._built is None:
            ts, book, side, quantity, price, fee = self._columns()
            closed, n, live, traded, fees = _book_fills(book, side, quantity, price, fee, ts,
                                                        len(self._names))
            self._built = (closed[:n], live, float(traded), float(fees))
        return self._built

    @property
    def closed(self) -> list[RoundTrip]:
        """The closed round trips, in the order they closed."""
        return list(RoundTrips.of_book(self._names, self._build()[0], None))

    @property
    def fills(self) -> BookedFills:
        """Every fill, in booking order (built as it is read)."""
        if self._fills is None:
            ts, book, side, quantity, price, fee = self._columns()
            self._fills = BookedFills(self._names, ts, book, side, quantity, price, fee)
        return self._fills

    @property
    def traded_notional(self) -> float:
        return self._build()[2]

    @property
    def fees(self) -> float:
        return self._build()[3]

    def _open_trips(self, marks: dict[tuple[str, str], float]) -> RoundTrips:
        live = self._build()[1]
        opened = np.flatnonzero(live["seq"] >= 0)
        trades = live[opened[np.argsort(live["seq"][opened], kind="stable")]]
        names = self._names
        return RoundTrips.of_book(names, trades, np.array([
            marks.get((names[b][1], names[b][2]), e / o)
            for b, e, o in zip(trades["book"].tolist(), trades["entry_notional"].tolist(),
                               trades["opened"].tolist(), strict=True)], dtype=np.float64))

    def open_trades(self, marks: dict[tuple[str, str], float]) -> list[RoundTrip]:
        """Still-open trades, in the order they opened, the quantity not yet closed valued at
        ``marks`` ((venue, instrument) -> price; the trade's average entry price where there is
        none), exit time None."""
        return list(self._open_trips(marks))

    def round_trips(self, marks: dict[tuple[str, str], float]) -> RoundTrips:
        """Every trade, closed and open (valued as :meth:`open_trades`), in the order they
        were entered, then exited (an open one before a closed one that entered with it)."""
        return RoundTrips.of_book(self._names, self._build()[0], None)._joined(
            self._open_trips(marks))
