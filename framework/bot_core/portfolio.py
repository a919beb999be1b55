"""Positions, cash and equity of one bot, booked from fills.

Every fill lands here exactly once (fills are de-duplicated by ``(venue, trade_id)``). Positions
are kept per ``(strategy, venue, instrument)`` so each strategy sees its own book, and summed per
``(venue, instrument)`` and per instrument so the risk engine sees the combined exposure of all
strategies. Accounting is average-cost: adding to a position moves its average price, reducing
it realizes ``closed_qty * (price - avg_price)`` (sign-adjusted), and a fill that crosses zero
closes the old position and opens the remainder at the fill price. Fees are in the quote
currency and kept apart from realized PnL, so ``equity == initial_cash + realized_pnl - fees +
unrealized_pnl`` always holds.

Marking is O(1) per market event: it revalues that one ``(venue, instrument)``. Equity and gross
exposure are summed over the pairs when read after a change (:func:`bot_core.rules.add_value`,
in the order the pairs were first traded, as the backtest's compiled replay sums them), so both
speeds of a backtest see the same equity to the last bit, and a risk limit met exactly is met
on both. Cash is the running sum of the fills' cash flows.

All instruments must be quoted in the portfolio's base currency (``BTC/USDT`` for ``USDT``);
a fill in another quote currency is refused rather than booked at a wrong value.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot_core.market import split_symbol
from bot_core.orders import Fill
from bot_core.rules import add_value, cash_flow, net_after_fill, position_after_fill

__all__ = ["Portfolio", "PositionRecord"]

_INF = math.inf

@dataclass(slots=True)
class PositionRecord:
    """One strategy's position in one instrument on one venue."""

    strategy: str
    venue: str
    instrument: str
    qty: float = 0.0
    """Signed quantity in base units: > 0 long, < 0 short."""
    avg_price: float = 0.0
    """Average entry price of the open quantity (0 when flat)."""
    realized: float = 0.0
    """Realized PnL in quote currency, before fees."""
    fees: float = 0.0
    """Fees paid in quote currency."""

    def unrealized(self, mark: float) -> float:
        return self.qty * (mark - self.avg_price) if self.qty else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "venue": self.venue, "instrument": self.instrument,
                "qty": self.qty, "avg_price": self.avg_price, "realized": self.realized,
                "fees": self.fees}


class Portfolio:
    """Cash, positions and equity in the base (quote) currency.

    :param initial_cash: starting cash, quote currency (> 0).
    :param base_currency: accounting currency; every instrument must be quoted in it.
    :param venue_cash: optional split of ``initial_cash`` over venues (must sum to it); without
        it the initial cash is held unallocated (``cash_at(None)``) and each venue's cash is the
        sum of its cash flows.
    """

    def __init__(self, initial_cash: float, base_currency: str = "USDT", *,
                 venue_cash: dict[str, float] | None = None) -> None:
        if not (math.isfinite(initial_cash) and initial_cash > 0):
            raise ValueError(f"initial_cash must be a positive finite number, got {initial_cash!r}")
        self.initial_cash = float(initial_cash)
        self.base_currency = base_currency
        self._cash: dict[str | None, float] = {None: float(initial_cash)}
        if venue_cash:
            total = sum(venue_cash.values())
            if not math.isclose(total, initial_cash, rel_tol=1e-12):
                raise ValueError(f"venue_cash sums to {total}, not initial_cash {initial_cash}")
            self._cash = {None: 0.0, **{v: float(c) for v, c in venue_cash.items()}}
        self._cash_total = float(initial_cash)
        self._records: dict[tuple[str, str, str], PositionRecord] = {}
        self._net_venue: dict[tuple[str, str], float] = {}
        self._net_instr: dict[str, float] = {}
        self._net_strategy: dict[tuple[str, str], float] = {}
        """(strategy, instrument) -> net quantity over venues."""
        self._mark: dict[tuple[str, str], float] = {}
        self._mark_any: dict[str, float] = {}
        self._mark_ts: dict[tuple[str, str], int] = {}
        self._mark_ts_any: dict[str, int] = {}
        self._venues_of: dict[str, set[str]] = {}
        self._value: dict[tuple[str, str], float] = {}
        """(venue, instrument) -> net qty * mark."""
        self._market_value = 0.0
        self._gross = 0.0
        self._stale = False
        """A value changed since :attr:`_market_value` and :attr:`_gross` were summed."""
        self._trade_ids: set[tuple[str, str]] = set()
        self._checked_quote: set[str] = set()
        self.realized_pnl = 0.0
        """Realized PnL over all positions, quote currency, before fees."""
        self.fees = 0.0
        """Fees paid, quote currency."""

    # -- reading ------------------------------------------------------------------------------

    @property
    def cash(self) -> float:
        """Total cash over all venues (and unallocated), quote currency."""
        return self._cash_total

    def cash_at(self, venue: str | None) -> float:
        """Cash held at one venue (``None``: unallocated initial cash)."""
        return self._cash.get(venue, 0.0)

    @property
    def cash_by_venue(self) -> dict[str | None, float]:
        return dict(self._cash)

    @property
    def equity(self) -> float:
        """Cash plus the marked value of every position, quote currency."""
        if self._stale:
            self._sum_values()
        return self._cash_total + self._market_value

    @property
    def market_value(self) -> float:
        """Signed marked value of all positions (long positive, short negative)."""
        if self._stale:
            self._sum_values()
        return self._market_value

    @property
    def gross_exposure(self) -> float:
        """Sum over (venue, instrument) of ``|net qty| * mark``, quote currency."""
        if self._stale:
            self._sum_values()
        return self._gross

    def _sum_values(self) -> None:
        # left to right in the order the pairs were first traded: the compiled replay's order
        market = gross = 0.0
        for value in self._value.values():
            market, gross = add_value(market, gross, value)
        self._market_value, self._gross, self._stale = market, gross, False

    @property
    def unrealized_pnl(self) -> float:
        return self.equity - self.initial_cash - self.realized_pnl + self.fees

    def position(self, instrument: str, venue: str | None = None,
                 strategy: str | None = None) -> float:
        """Signed quantity: of one strategy when ``strategy`` is given, else of all strategies;
        on one venue when ``venue`` is given, else over all venues."""
        if strategy is None:
            if venue is None:
                return self._net_instr.get(instrument, 0.0)
            return self._net_venue.get((venue, instrument), 0.0)
        if venue is not None:
            rec = self._records.get((strategy, venue, instrument))
            return rec.qty if rec is not None else 0.0
        return self._net_strategy.get((strategy, instrument), 0.0)

    def avg_price(self, instrument: str, venue: str | None = None,
                  strategy: str | None = None) -> float:
        """Quantity-weighted average entry price of the matching open positions (NaN if flat)."""
        qty = cost = 0.0
        for (s, v, i), rec in self._records.items():
            if i != instrument:
                continue
            if (venue is None or v == venue) and (strategy is None or s == strategy):
                qty += rec.qty
                cost += rec.qty * rec.avg_price
        return cost / qty if qty else math.nan

    def positions(self, *, open_only: bool = False) -> Iterator[PositionRecord]:
        """Position records (strategy, venue, instrument, qty, avg_price, realized, fees)."""
        for rec in self._records.values():
            if not open_only or rec.qty:
                yield rec

    def last_price(self, instrument: str, venue: str | None = None) -> float:
        """Latest mark of the instrument on ``venue`` (or on any venue); NaN when never marked."""
        if venue is not None:
            price = self._mark.get((venue, instrument))
            if price is not None:
                return price
        return self._mark_any.get(instrument, math.nan)

    def last_update_ns(self, instrument: str, venue: str | None = None) -> int:
        if venue is not None:
            ts = self._mark_ts.get((venue, instrument))
            if ts is not None:
                return ts
        return self._mark_ts_any.get(instrument, 0)

    def has_trade(self, venue: str, trade_id: str) -> bool:
        return (venue, trade_id) in self._trade_ids

    # -- updating -----------------------------------------------------------------------------

    def mark(self, instrument: str, price: float, ts_ns: int, venue: str | None = None) -> None:
        """Record a market price; revalues the positions in the instrument (on ``venue``, or on
        every venue when None). Non-finite or non-positive prices are ignored: a bad tick must
        not move equity."""
        if not 0.0 < price < _INF:  # also False for NaN
            return
        self._mark_any[instrument] = price
        self._mark_ts_any[instrument] = ts_ns
        if venue is not None:
            vkey = (venue, instrument)
            self._mark[vkey] = price
            self._mark_ts[vkey] = ts_ns
            if vkey in self._value:
                # _revalue inlined: this runs on every market event of a held instrument
                self._value[vkey] = self._net_venue.get(vkey, 0.0) * price
                self._stale = True
            return
        for v in self._venues_of.get(instrument, ()):
            self._mark[(v, instrument)] = price
            self._mark_ts[(v, instrument)] = ts_ns
            self._revalue(v, instrument)

    def apply_fill(self, fill: Fill) -> bool:
        """Book one fill. Returns False, changing nothing, for a trade id already booked.

        :raises ValueError: for a fill with a non-positive or non-finite quantity or price, a
            non-finite fee, or an instrument not quoted in the base currency. Nothing is booked.
        """
        key_id = (fill.venue, fill.trade_id)
        if key_id in self._trade_ids:
            return False
        qty, price, fee = fill.quantity, fill.price, fill.fee
        if not (qty > 0 and math.isfinite(qty) and price > 0 and math.isfinite(price)
                and math.isfinite(fee)):
            raise ValueError(f"fill {fill.trade_id!r} on {fill.venue}: quantity {qty!r}, price "
                             f"{price!r} and fee {fee!r} must be finite (quantity, price > 0)")
        inst = fill.instrument
        if inst not in self._checked_quote:
            quote = split_symbol(inst)[1]
            if quote != self.base_currency:
                raise ValueError(f"fill {fill.trade_id!r}: {inst} is quoted in {quote}, but the "
                                 f"portfolio accounts in {self.base_currency}")
            self._checked_quote.add(inst)
        self._trade_ids.add(key_id)

        signed = float(fill.side) * qty
        key = (fill.strategy_id, fill.venue, inst)
        rec = self._records.get(key)
        if rec is None:
            rec = self._records[key] = PositionRecord(fill.strategy_id, fill.venue, inst)
        old = rec.qty
        new = position_after_fill(old, signed, qty)
        if old == 0.0 or (old > 0) == (signed > 0):
            rec.avg_price = (abs(old) * rec.avg_price + qty * price) / abs(new)
        else:
            closed = min(qty, abs(old))
            pnl = closed * (price - rec.avg_price) * (1.0 if old > 0 else -1.0)
            rec.realized += pnl
            self.realized_pnl += pnl
            if new == 0.0:
                rec.avg_price = 0.0
            elif (new > 0) != (old > 0):
                rec.avg_price = price  # flipped through zero: the remainder opens at the fill price
        rec.qty = new
        rec.fees += fee
        self.fees += fee

        flow = cash_flow(signed, price, fee)
        self._cash[fill.venue] = self._cash.get(fill.venue, 0.0) + flow
        self._cash_total += flow
        delta = new - old
        vkey = (fill.venue, inst)
        self._net_venue[vkey] = net_after_fill(self._net_venue.get(vkey, 0.0), delta, qty)
        self._net_instr[inst] = net_after_fill(self._net_instr.get(inst, 0.0), delta, qty)
        skey = (fill.strategy_id, inst)
        self._net_strategy[skey] = net_after_fill(self._net_strategy.get(skey, 0.0), delta, qty)
        self._venues_of.setdefault(inst, set()).add(fill.venue)
        if vkey not in self._mark:
            self._mark[vkey] = price
            self._mark_ts[vkey] = fill.ts_ns
        if inst not in self._mark_any:
            self._mark_any[inst] = price
            self._mark_ts_any[inst] = fill.ts_ns
        self._revalue(fill.venue, inst)
        return True

    def _revalue(self, venue: str, instrument: str) -> None:
        vkey = (venue, instrument)
        net = self._net_venue.get(vkey, 0.0)
        price = self._mark.get(vkey, 0.0)
        self._value[vkey] = net * price
        self._stale = True

    # -- persistence --------------------------------------------------------------------------

    def snapshot(self, *, trade_ids: bool = True) -> dict[str, Any]:
        """JSON-able state: cash, positions, marks, booked trade ids and totals.

        :param trade_ids: include the booked trade ids (a caller that keeps the fills itself,
            as the state file does, leaves out this ever-growing list and restores it from
            them).
        """
        return {
            "initial_cash": self.initial_cash,
            "base_currency": self.base_currency,
            "cash": [[v, c] for v, c in self._cash.items()],
            "positions": [r.as_dict() for r in self._records.values()],
            "marks": [[v, i, p, self._mark_ts.get((v, i), 0)] for (v, i), p in self._mark.items()],
            "marks_any": [[i, p, self._mark_ts_any.get(i, 0)] for i, p in self._mark_any.items()],
            "trade_ids": sorted([v, t] for v, t in self._trade_ids) if trade_ids else [],
            "realized_pnl": self.realized_pnl,
            "fees": self.fees,
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> Portfolio:
        """Rebuild a portfolio from :meth:`snapshot` output."""
        pf = cls(float(data["initial_cash"]), str(data["base_currency"]))
        pf.restore(data)
        return pf

    def restore(self, data: Mapping[str, Any]) -> None:
        """Replace this portfolio's state with :meth:`snapshot` output, in place (the risk
        engine and the pipeline keep their reference to it): a restart's first step.

        :raises ValueError: the snapshot is of another base currency.
        """
        if str(data["base_currency"]) != self.base_currency:
            raise ValueError(f"a snapshot in {data['base_currency']} cannot restore a portfolio "
                             f"that accounts in {self.base_currency}")
        self.initial_cash = float(data["initial_cash"])
        for table in (self._records, self._net_venue, self._net_instr, self._net_strategy, self._mark,
                      self._mark_any, self._mark_ts, self._mark_ts_any, self._venues_of, self._value):
            table.clear()
        self._cash = {v: float(c) for v, c in data["cash"]}
        self._cash_total = math.fsum(self._cash.values())
        for v, i, p, ts in data["marks"]:
            self._mark[(v, i)] = float(p)
            self._mark_ts[(v, i)] = int(ts)
        for i, p, ts in data["marks_any"]:
            self._mark_any[i] = float(p)
            self._mark_ts_any[i] = int(ts)
        for raw in data["positions"]:
            rec = PositionRecord(**raw)
            self._records[(rec.strategy, rec.venue, rec.instrument)] = rec
            vkey = (rec.venue, rec.instrument)
            self._net_venue[vkey] = self._net_venue.get(vkey, 0.0) + rec.qty
            self._net_instr[rec.instrument] = self._net_instr.get(rec.instrument, 0.0) + rec.qty
            skey = (rec.strategy, rec.instrument)
            self._net_strategy[skey] = self._net_strategy.get(skey, 0.0) + rec.qty
            self._venues_of.setdefault(rec.instrument, set()).add(rec.venue)
            self._checked_quote.add(rec.instrument)
        for vkey in self._net_venue:
            self._value[vkey] = self._net_venue[vkey] * self._mark.get(vkey, 0.0)
        self._trade_ids = {(v, t) for v, t in data["trade_ids"]}
        self.realized_pnl = float(data["realized_pnl"])
        self.fees = float(data["fees"])
        self._stale = True
