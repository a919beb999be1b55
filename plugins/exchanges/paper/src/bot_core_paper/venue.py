"""The paper venue: fills approved orders against the market data the host forwards.

Rules, in the order a user asks about them:

* **No look-ahead.** An order becomes eligible only for market data stamped at or after its
  submit time + ``latency_ms``. With bars, the submit time is the deciding bar's *close* (its
  open time + the bar interval), so a market order decided on bar t fills at bar t+1's open.
  ``fill_on_close`` fills it at bar t's close instead (optimistic, opt-in).
* **Prices.** Market orders: bar open (or close) / quoted ask for buys, bid for sells, moved
  against the order by ``slippage_bps`` plus ``volume_impact_bps`` x participation (bars).
  Limit orders fill when the price trades *through* them (low < limit for a buy, high > limit
  for a sell; ask < limit / bid > limit with quotes) as maker at the limit price; a limit order
  that is marketable when it first reaches the book fills as taker at the market price, never
  worse than its limit.
* **Size.** All fills on one bar together take at most ``participation_rate`` x its volume
  (no bound with ``volume_cap = false``, for volume that is not tradable size); on a quote, at
  most the quoted size. The rest waits (GTC, DAY) or is cancelled (IOC); FOK fills whole or not
  at all.
* **Money.** A fill the account cannot carry is cut to what it can and the rest is cancelled
  with reason ``insufficient_balance``; an order clearly beyond it is rejected at submit.
* **Memory.** With a ``state_file`` (``bot-core run`` gives one under the bot's state
  directory) the venue keeps its book there, as an exchange would: balances, orders, fills and
  what it saw of each market, committed before a call returns its reports. A restarted bot then
  finds the venue as it left it, and asks it through the reconciliation queries
  (``open_orders``, ``order_status``, ``fills_since``, ``positions``). Market data at or before
  the last event the venue had seen of an instrument is ignored after a restart: the exchange
  does not live the same minute twice. Without a state file (backtests) nothing is kept and
  only ``open_orders`` and ``positions`` answer.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from bot_core import (
    Bar,
    BarFillModel,
    ExchangeAdapter,
    ExecutionReport,
    Fill,
    FillsPage,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    TimeInForce,
    VenueOrder,
    rules,
    split_symbol,
)
from bot_core_paper.account import PaperAccount
from bot_core_paper.settings import PaperSettings
from bot_core_paper.store import MarketRow, OrderRecord, PaperStore

if TYPE_CHECKING:
    pass

__all__ = ["PaperVenue"]

_NS_PER_MS = 1_000_000
_NS_PER_DAY = 86_400 * 1_000_000_000
_EPS = rules.BALANCE_EPSILON


@dataclass(slots=True)
class _Working:
    """The venue's own record of one live order (the caller's ``Order`` is never mutated)."""

    order: Order
    side: int
    eligible_ns: int
    submit_day: int
    filled: float = 0.0
    notional: float = 0.0
    fees: float = 0.0
    tried: bool = False
    """Whether it has met eligible market data yet (then a marketable limit order is taker)."""
    seq: int = 0
    """Arrival number (the state file's order)."""

    @property
    def remaining(self) -> float:
        return max(self.order.quantity - self.filled, 0.0)


class PaperVenue(ExchangeAdapter[PaperSettings]):
    """Simulated venue with fees, slippage, latency and volume-bounded partial fills."""

    id: ClassVar[str] = "paper"
    Settings: ClassVar[type[PaperSettings]] = PaperSettings
    simulated: ClassVar[bool] = True

    def __init__(self, settings: PaperSettings | None = None, *,
                 name: str | None = None) -> None:
        super().__init__(settings, name=name)
        cfg = self.settings
        self.cfg = cfg
        self.account = PaperAccount(cfg.initial_balances, margin=cfg.account == "margin",
                                    max_leverage=cfg.max_leverage)
        self._working: dict[str, _Working] = {}
        self._known_ids: set[str] = set()
        self._last: dict[str, Bar | Quote] = {}
        self._interval_ns: dict[str, int] = {}
        self._used: dict[str, tuple[int, float]] = {}
        """instrument -> (event ts, quantity already filled on that event)."""
        self._trades = 0
        self._orders_seen = 0
        self._clock_ns = 0
        self._symbols_ok: set[str] = set()
        """Instruments whose symbol was checked already (the check is a regex match)."""
        self._latency_ns = int(cfg.latency_ms * _NS_PER_MS)
        self._taker_rate = cfg.taker_fee_bps / 1e4
        self._maker_rate = cfg.maker_fee_bps / 1e4
        self._slippage_rate = cfg.slippage_bps / 1e4
        self._initial = dict(cfg.initial_balances)
        self._instruments: set[str] = set()
        self._resume_ts: dict[str, int] = {}
        """instrument -> ts of the last event seen before a restart (ignored up to it)."""
        self._store: PaperStore | None = None
        self._touched: dict[str, tuple[_Working, OrderStatus, str]] = {}
        self._new_fills: list[Fill] = []
        if cfg.state_file is not None:
            self._store = PaperStore(cfg.state_file, initial_balances=cfg.initial_balances)
            try:
                self._load(self._store)
            except BaseException:
                self._store.close()
                raise

    # -- contract -----------------------------------------------------------------------------

    def balances(self) -> Mapping[str, float]:
        return dict(self.account.balances)

    def submit(self, order: Order) -> Sequence[ExecutionReport]:
        reports = self._submit(order)
        if self._store is not None:
            self._save()
        return reports

    def _submit(self, order: Order) -> Sequence[ExecutionReport]:
        intent = order.intent
        cid = intent.client_order_id
        now = max(self._clock_ns, intent.ts_ns)
        problem = self._validate(order)
        if problem:
            return [ExecutionReport(cid, OrderStatus.REJECTED, now, reason=problem)]
        self._known_ids.add(cid)
        self._instruments.add(intent.instrument)
        self._orders_seen += 1
        side = int(intent.side)
        last = self._last.get(intent.instrument)
        eligible = now + self._latency_ns
        if isinstance(last, Bar):  # after the deciding bar's close
            eligible = rules.eligible_ns(now, last.ts_ns,
                                         self._interval_ns.get(intent.instrument, 0),
                                         self._latency_ns)
        work = _Working(order, side, eligible, (eligible - self._latency_ns) // _NS_PER_DAY,
                        seq=self._orders_seen)
        if last is not None and self._clearly_unaffordable(work, last):
            if self._store is not None:
                self._touched[cid] = (work, OrderStatus.REJECTED, "insufficient_balance")
            return [ExecutionReport(cid, OrderStatus.REJECTED, now, reason="insufficient_balance",
                                    extra={"account_equity": self.account.equity()})]
        reports = [ExecutionReport(cid, OrderStatus.ACCEPTED, now)]
        self._working[cid] = work
        if self._store is not None:
            self._touched[cid] = (work, OrderStatus.ACCEPTED, "")
        immediate = (
            isinstance(last, Bar) and self.cfg.fill_on_close
            and intent.order_type is OrderType.MARKET
        ) or (isinstance(last, Quote) and self.cfg.latency_ms == 0)
        if immediate and last is not None:
            reports += self._match(work, last, on_close=isinstance(last, Bar))
        return reports

    def cancel(self, client_order_id: str) -> Sequence[ExecutionReport]:
        work = self._working.pop(client_order_id, None)
        if work is None:
            return [ExecutionReport(client_order_id, OrderStatus.REJECTED, self._clock_ns,
                                    reason="unknown_order")]
        report = self._final(work, OrderStatus.CANCELLED, self._clock_ns, "cancelled")
        if self._store is not None:
            self._save()
        return [report]

    def on_market_data(self, event: Bar | Quote) -> Sequence[ExecutionReport]:
        instrument = event.instrument
        ts_ns = event.ts_ns
        if self._resume_ts:
            seen = self._resume_ts.get(instrument)
            if seen is not None:
                if ts_ns <= seen:
                    return ()  # lived through before the restart
                del self._resume_ts[instrument]
        last = self._last
        if isinstance(event, Bar):
            previous = last.get(instrument)
            if isinstance(previous, Bar) and ts_ns > previous.ts_ns:
                # the bar length is the smallest spacing seen: gaps (a closed market, bars a
                # backtest skipped because nothing could happen) must not delay the next fill
                gap = ts_ns - previous.ts_ns
                known = self._interval_ns.get(instrument, gap)
                self._interval_ns[instrument] = known if known < gap else gap
            mark = event.close
        else:
            mark = 0.5 * (event.bid + event.ask)
        last[instrument] = event
        if ts_ns > self._clock_ns:
            self._clock_ns = ts_ns
        self.account.mark(instrument, mark)
        if not self._working:
            return ()
        reports: list[ExecutionReport] = []
        for cid in [c for c, w in self._working.items() if w.order.intent.instrument == instrument]:
            work = self._working.get(cid)
            if work is None or event.ts_ns < work.eligible_ns:
                continue
            tif = work.order.intent.time_in_force
            if tif is TimeInForce.DAY and event.ts_ns // _NS_PER_DAY > work.submit_day:
                del self._working[cid]
                reports.append(self._final(work, OrderStatus.EXPIRED, event.ts_ns, "day_ended"))
                continue
            reports += self._match(work, event, on_close=False)
        if reports and self._store is not None:
            self._save()
        return reports

    def bar_fill_model(self) -> BarFillModel | None:
        """The rule of :meth:`_match` for market IOC orders on bars, as numbers; None once the
        venue holds orders, keeps a state file (it must see every order), or when the account
        starts with more than one asset."""
        cfg = self.cfg
        if self._working or self._known_ids or self._store is not None or \
                len(cfg.initial_balances) != 1:
            return None
        (asset, cash), = cfg.initial_balances.items()
        return BarFillModel(cfg.taker_fee_bps, cfg.slippage_bps, cfg.volume_impact_bps,
                            cfg.participation_rate, cfg.latency_ms, cfg.fill_on_close,
                            cfg.account == "margin", cfg.max_leverage, asset, cash,
                            cfg.volume_cap)

    def close(self) -> None:
        """Write the book one last time and release the state file."""
        if self._store is not None:
            try:
                self._save()
            finally:
                self._store.close()
                self._store = None

    # -- reconciliation queries ---------------------------------------------------------------

    def open_orders(self) -> list[VenueOrder]:
        """The orders still working, in arrival order."""
        return [self._working_view(w) for w in self._working.values()]

    def _working_view(self, work: _Working) -> VenueOrder:
        status = OrderStatus.PARTIALLY_FILLED if work.filled > _EPS else OrderStatus.ACCEPTED
        return self._venue_order(work.order.intent, work.order.quantity, work.filled,
                                 work.notional, status)

    def order_status(self, client_order_id: str, instrument: str) -> VenueOrder | None:
        """A working order, or (with a state file) any order this venue received."""
        work = self._working.get(client_order_id)
        if work is not None:
            return self._working_view(work)
        if self._store is not None:
            rec = self._store.order(client_order_id)
            if rec is None:
                return None
            return self._venue_order(_intent(rec, self.name), rec.quantity, rec.filled, rec.notional,
                                     OrderStatus(rec.status))
        if client_order_id in self._known_ids:
            raise NotImplementedError("the paper venue keeps no history of finished orders "
                                      "without a state_file")
        return None

    def fills_since(self, cursor: Mapping[str, Any] | None,
                    instruments: Sequence[str]) -> FillsPage:
        """Every fill after ``cursor`` (``{"seq": n}``) on ``instruments``; needs a state file."""
        if self._store is None:
            raise NotImplementedError("the paper venue keeps no fill history without a "
                                      "state_file")
        after = int((cursor or {}).get("seq", 0))
        rows = self._store.fills(after_seq=after)
        wanted = set(instruments)
        fills = [dataclasses.replace(f, venue=self.name) for _, f in rows
                 if f.instrument in wanted]
        return FillsPage(fills, {"seq": rows[-1][0] if rows else after})

    def positions(self) -> Mapping[str, float]:
        """Per instrument traded here: the base asset held beyond the starting balance."""
        out: dict[str, float] = {}
        for instrument in sorted(self._instruments):
            base = split_symbol(instrument)[0]
            out[instrument] = self.account.balances.get(base, 0.0) - self._initial.get(base, 0.0)
        return out

    def _venue_order(self, intent: OrderIntent, quantity: float, filled: float, notional: float,
                     status: OrderStatus) -> VenueOrder:
        return VenueOrder(intent.client_order_id, intent.instrument, intent.side, status,
                          quantity, filled, notional / filled if filled > 0 else 0.0,
                          intent.order_type, intent.limit_price, intent.time_in_force,
                          intent.reduce_only, intent.strategy_id, intent.client_order_id,
                          intent.ts_ns)

    # -- the state file -----------------------------------------------------------------------

    def _load(self, store: PaperStore) -> None:
        """Take the book over from the state file (a restart)."""
        self.account.balances = store.balances()
        self._initial = store.initial_balances() or self._initial
        records = store.orders()
        self._known_ids = {r.client_order_id for r in records}
        self._instruments = {r.instrument for r in records}
        self._orders_seen = max((r.seq for r in records), default=0)
        for rec in records:
            if not rec.working:
                continue
            self._working[rec.client_order_id] = _Working(
                Order(_intent(rec, self.name), rec.quantity), rec.side, rec.eligible_ns, rec.submit_day,
                rec.filled, rec.notional, rec.fees, rec.tried, rec.seq)
        self._trades = int(store.meta("trade_seq") or 0)
        self._clock_ns = int(store.meta("clock_ns") or 0)
        for market in store.markets():
            event = _event(market.last_event)
            self._last[market.instrument] = event
            self._resume_ts[market.instrument] = event.ts_ns
            if market.interval_ns is not None:
                self._interval_ns[market.instrument] = market.interval_ns
            if market.used is not None:
                self._used[market.instrument] = market.used
            self.account.mark(market.instrument, event.close if isinstance(event, Bar)
                              else 0.5 * (event.bid + event.ask))

    def _save(self) -> None:
        """Commit what the last call changed (see the module docstring)."""
        store = self._store
        assert store is not None
        orders = [_record(work, status, reason, self._clock_ns)
                  for work, status, reason in self._touched.values()]
        markets = [MarketRow(instrument, dataclasses.asdict(event),
                             self._interval_ns.get(instrument), self._used.get(instrument))
                   for instrument, event in self._last.items()]
        store.save(orders=orders, fills=self._new_fills, balances=self.account.balances,
                   markets=markets, trade_seq=self._trades, clock_ns=self._clock_ns)
        self._touched.clear()
        self._new_fills.clear()

    # -- matching -----------------------------------------------------------------------------

    def _validate(self, order: Order) -> str:
        intent = order.intent
        if intent.client_order_id in self._known_ids:
            return "duplicate_client_order_id"
        if intent.instrument not in self._symbols_ok:
            try:
                split_symbol(intent.instrument)
            except ValueError:
                return "invalid_instrument"
            self._symbols_ok.add(intent.instrument)
        if not (math.isfinite(order.quantity) and order.quantity > 0):
            return "invalid_quantity"
        if intent.order_type is OrderType.LIMIT and not (
            intent.limit_price is not None and math.isfinite(intent.limit_price)
            and intent.limit_price > 0
        ):
            return "invalid_limit_price"
        if intent.reduce_only and self.account.position(intent.instrument) * int(intent.side) >= 0:
            return "reduce_only_would_increase"
        return ""

    def _clearly_unaffordable(self, work: _Working, last: Bar | Quote) -> bool:
        """Pre-trade check at the last price: reject only orders that cannot fill at all."""
        ref = last.close if isinstance(last, Bar) else (last.ask if work.side > 0 else last.bid)
        intent = work.order.intent
        if intent.order_type is OrderType.LIMIT and intent.limit_price is not None:
            ref = intent.limit_price if work.side > 0 else max(ref, intent.limit_price)
        return self.account.affordable(intent.instrument, work.side, work.remaining, ref,
                                       self._taker_rate) <= _EPS

    def _available(self, event: Bar | Quote, side: int) -> float:
        ts, used = self._used.get(event.instrument, (-1, 0.0))
        used = used if ts == event.ts_ns else 0.0
        if isinstance(event, Bar):
            if not self.cfg.volume_cap:
                return math.inf
            return rules.volume_room(event.volume, self.cfg.participation_rate, used)
        size = event.ask_size if side > 0 else event.bid_size
        return rules.volume_room(size, 1.0, used)

    def _price(self, work: _Working, event: Bar | Quote, on_close: bool) -> tuple[float, str]:
        """Fill price and liquidity for this event, or (nan, '') when the order does not trade."""
        intent = work.order.intent
        side = work.side
        if isinstance(event, Bar):
            market = event.close if on_close else event.open
            through = event.low if side > 0 else event.high
        else:
            market = event.ask if side > 0 else event.bid
            through = market
        if not rules.tradable_price(market):
            return math.nan, ""
        slipped = rules.slipped_price(market, side, self._slippage_rate)
        if intent.order_type is OrderType.MARKET:
            return slipped, "taker"
        limit = float(intent.limit_price)  # type: ignore[arg-type]
        first = not work.tried
        if first and (market - limit) * side <= 0:  # marketable on arrival
            return (min(slipped, limit) if side > 0 else max(slipped, limit)), "taker"
        if (through - limit) * side < 0:  # traded through the resting limit
            return limit, "maker"
        return math.nan, ""

    def _match(self, work: _Working, event: Bar | Quote, *,
               on_close: bool) -> list[ExecutionReport]:
        intent = work.order.intent
        cid = intent.client_order_id
        price, liquidity = self._price(work, event, on_close)
        work.tried = True
        tif = intent.time_in_force
        immediate_only = tif in (TimeInForce.IOC, TimeInForce.FOK)
        if not liquidity:
            if immediate_only:
                del self._working[cid]
                return [self._final(work, OrderStatus.CANCELLED, event.ts_ns, "not_marketable")]
            return []
        available = self._available(event, work.side)
        quantity = min(work.remaining, available)
        if isinstance(event, Bar) and liquidity == "taker":
            price = rules.impact_price(price, work.side, self.cfg.volume_impact_bps, quantity,
                                       event.volume)
        fee_rate = self._taker_rate if liquidity == "taker" else self._maker_rate
        affordable = self.account.affordable(intent.instrument, work.side, quantity, price,
                                             fee_rate)
        short_of_money = affordable < quantity - _EPS
        quantity = min(quantity, affordable)
        if intent.reduce_only:
            open_qty = self.account.position(intent.instrument)
            quantity = min(quantity, abs(open_qty)) if open_qty * work.side < 0 else 0.0
        if tif is TimeInForce.FOK and quantity < work.remaining - _EPS:
            del self._working[cid]
            reason = "insufficient_balance" if short_of_money else "fok_not_fillable"
            return [self._final(work, OrderStatus.CANCELLED, event.ts_ns, reason)]
        reports: list[ExecutionReport] = []
        if quantity > _EPS:
            reports.append(self._fill(work, event, quantity, price, liquidity, fee_rate))
        if work.remaining <= _EPS:
            del self._working[cid]
        elif short_of_money:
            del self._working[cid]
            reports.append(self._final(work, OrderStatus.CANCELLED, event.ts_ns,
                                       "insufficient_balance"))
        elif intent.reduce_only and self.account.position(intent.instrument) * work.side >= 0:
            del self._working[cid]
            reports.append(self._final(work, OrderStatus.CANCELLED, event.ts_ns,
                                       "reduce_only_no_position"))
        elif immediate_only:
            del self._working[cid]
            reports.append(self._final(work, OrderStatus.CANCELLED, event.ts_ns, "ioc_remainder"))
        return reports

    def _fill(self, work: _Working, event: Bar | Quote, quantity: float, price: float,
              liquidity: str, fee_rate: float) -> ExecutionReport:
        intent = work.order.intent
        fee = rules.fill_fee(quantity, price, fee_rate)
        self.account.apply_fill(intent.instrument, work.side, quantity, price, fee)
        ts, used = self._used.get(intent.instrument, (-1, 0.0))
        already = used if ts == event.ts_ns else 0.0
        self._used[intent.instrument] = (event.ts_ns, already + quantity)
        work.filled += quantity
        work.notional += quantity * price
        work.fees += fee
        # positional (trade id, client id, venue, instrument, side, quantity, price, fee, ts,
        # liquidity, strategy): the keyword form of a frozen dataclass costs more per fill
        self._trades += 1
        fill = Fill(f"{self.name}-{self._trades}", intent.client_order_id, self.name,
                    intent.instrument, intent.side, quantity, price, fee, event.ts_ns, liquidity,
                    intent.strategy_id)
        status = OrderStatus.FILLED if work.remaining <= _EPS else OrderStatus.PARTIALLY_FILLED
        if self._store is not None:
            self._new_fills.append(fill)
            self._touched[intent.client_order_id] = (work, status, "")
        return ExecutionReport(intent.client_order_id, status, event.ts_ns, fill=fill,
                               extra=self._progress(work))

    def _final(self, work: _Working, status: OrderStatus, ts_ns: int,
               reason: str) -> ExecutionReport:
        if self._store is not None:
            self._touched[work.order.intent.client_order_id] = (work, status, reason)
        return ExecutionReport(work.order.intent.client_order_id, status, ts_ns, reason=reason,
                               extra=self._progress(work))

    @staticmethod
    def _progress(work: _Working) -> dict[str, object]:
        avg = work.notional / work.filled if work.filled > 0 else 0.0
        return {"filled_quantity": work.filled, "remaining": work.remaining,
                "average_price": avg, "fees": work.fees}


def _intent(rec: OrderRecord, venue: str) -> OrderIntent:
    return OrderIntent(rec.strategy_id, venue, rec.instrument, Side(rec.side), rec.quantity,
                       rec.client_order_id, OrderType(rec.order_type), rec.limit_price,
                       TimeInForce(rec.time_in_force), rec.reduce_only, ts_ns=rec.intent_ts_ns)


def _record(work: _Working, status: OrderStatus, reason: str, ts_ns: int) -> OrderRecord:
    intent = work.order.intent
    return OrderRecord(intent.client_order_id, work.seq, intent.strategy_id, intent.instrument,
                       work.side, intent.order_type.value, intent.limit_price,
                       intent.time_in_force.value, intent.reduce_only, intent.ts_ns,
                       work.order.quantity, status.value, reason, work.eligible_ns,
                       work.submit_day, work.filled, work.notional, work.fees, work.tried, ts_ns)


def _event(data: Mapping[str, Any]) -> Bar | Quote:
    if "close" in data:
        return Bar(**data)
    return Quote(**data)
