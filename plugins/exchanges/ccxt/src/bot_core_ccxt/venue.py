"""The ``ccxt`` exchange adapter: a live venue over ccxt's REST API.

Orders go out rounded to the venue's grid and checked against its minimums (a refusal is a
``REJECTED`` report naming the limit, nothing is sent). Our client order id travels as the
venue's client id, so every order can be found again by it; an order whose answer was lost
(timeout, dropped connection, 5xx) is looked up by that id before anything is sent again, and
sent again only once the venue can no longer execute the lost request (its recvWindow has
passed) and still does not know it: an order is never placed twice. What cannot be settled
within the deadline stays ``ACCEPTED`` (reason ``unconfirmed``) and :meth:`CcxtVenue.poll`
settles it later.

It implements the host's reconciliation queries (:meth:`CcxtVenue.open_orders`,
:meth:`CcxtVenue.order_status`, :meth:`CcxtVenue.fills_since`, :meth:`CcxtVenue.positions`)
and adds :meth:`CcxtVenue.account_balances`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ccxt

from bot_core import (
    ExchangeAdapter,
    ExecutionReport,
    Fill,
    FillsPage,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    VenueAuthenticationError,
    VenueError,
    VenueInsufficientFundsError,
    VenueInvalidOrderError,
    VenueOrder,
    VenueRateLimitedError,
    VenueUnavailableError,
)
from bot_core_ccxt.client import ClockRejectedError, OrderNotFoundError, VenueClient, is_transient
from bot_core_ccxt.credentials import Credentials, load_credentials
from bot_core_ccxt.mapping import FillCursor, fill_from_trade, order_status, venue_order
from bot_core_ccxt.markets import MarketRules, check_order, rules_from_market
from bot_core_ccxt.settings import CcxtSettings

__all__ = ["AccountBalance", "CcxtVenue"]

log = logging.getLogger("bot_core_ccxt")

_SETTLE_MARGIN_MS = 1_000
"""Added to the recvWindow before a lost request is taken as never executed (clock error)."""

_TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """One asset of the account: ``free`` to trade, ``used`` by open orders, ``total``."""

    asset: str
    free: float
    used: float
    total: float


@dataclass(slots=True)
class _Tracked:
    """What the adapter knows of one of our orders."""

    client_order_id: str
    venue_client_id: str
    instrument: str
    side: Side
    amount: float
    venue_order_id: str | None = None
    status: OrderStatus = OrderStatus.ACCEPTED
    filled: float = 0.0
    sent_ms: int | None = None
    """Venue time of the last create whose outcome is unknown (None when settled)."""


class _Unsettled(Exception):
    """Whether a lost order exists could not be decided within the deadline."""


class CcxtVenue(ExchangeAdapter):
    """A live venue (any ccxt exchange id; Binance spot is the tested reference)."""

    id = "ccxt"
    Settings = CcxtSettings
    simulated = False

    def __init__(self, settings: CcxtSettings | None = None, *, name: str | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        super().__init__(settings, name=name)
        self.settings: CcxtSettings = self.settings  # narrowed for type checkers
        # a closure, not the mapping: no repr of the adapter can show the environment
        self._read_credentials: Callable[[], Credentials] = lambda: load_credentials(
            self.settings.credentials, self.name, environ)
        self._client: VenueClient | None = None
        self._rules: dict[str, MarketRules] = {}
        self._markets_at = -math.inf
        self._orders: dict[str, _Tracked] = {}
        self._ours: dict[str, str] = {}
        """Venue client id -> our client order id."""
        self._by_venue_id: dict[tuple[str, str], str] = {}
        self._seen_trades: set[str] = set()
        self._cursor = FillCursor()
        self._connected_ms = 0

    # -- lifecycle ----------------------------------------------------------------------------

    def connect(self) -> None:
        """Read the credentials, load the markets and check the key with one private call.

        :raises VenueAuthenticationError: one line when the key is missing or rejected.
        :raises VenueError: the venue cannot be reached within the deadline.
        """
        if self._client is not None:
            return
        credentials = self._read_credentials()
        client = VenueClient(self.settings, self.name, credentials)
        try:
            client.call("read the venue's clock", client.resync_clock)
            self._load_markets(client)
            client.call("check the API key", client.exchange.fetch_balance)
        except VenueAuthenticationError as exc:
            client.close()
            raise VenueAuthenticationError(
                f"venue {self.name}: the API key ({credentials.source}) was rejected by "
                f"{self.settings.exchange}: {exc.venue_message}", venue=self.name,
                venue_message=exc.venue_message) from None
        except VenueError:
            client.close()
            raise
        self._client = client
        self._connected_ms = client.now_ms() - 5_000
        log.info("venue %s: connected to %s%s, %d markets", self.name, self.settings.exchange,
                 " (testnet)" if self.settings.sandbox else "", len(self._rules))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def client(self) -> VenueClient:
        if self._client is None:
            self.connect()
        assert self._client is not None
        return self._client

    # -- markets ------------------------------------------------------------------------------

    def _load_markets(self, client: VenueClient) -> None:
        exchange = client.exchange
        markets = client.call("load markets", lambda: exchange.load_markets(reload=True))
        wanted = self.settings.market_type
        self._rules = {symbol: rules_from_market(market, exchange.precisionMode)
                       for symbol, market in markets.items() if market.get("type") == wanted}
        self._markets_at = time.monotonic()

    def rules(self, instrument: str) -> MarketRules:
        """The venue's rules for ``instrument``, markets reloaded when older than
        ``markets_refresh_s`` (the old ones are kept if the venue cannot be reached).

        :raises VenueInvalidOrderError: the venue does not list the instrument.
        """
        client = self.client
        if time.monotonic() - self._markets_at > self.settings.markets_refresh_s:
            try:
                self._load_markets(client)
            except VenueError as exc:
                if not self._rules:
                    raise
                log.warning("venue %s: markets not refreshed, keeping the previous ones: %s",
                            self.name, exc)
        rules = self._rules.get(instrument)
        if rules is None:
            raise VenueInvalidOrderError(
                f"venue {self.name}: {instrument} is not a {self.settings.market_type} market of "
                f"{self.settings.exchange}", venue=self.name)
        return rules

    def _touch(self, rules: MarketRules, side: Side) -> float | None:
        """The price a market order would take now: the ask for a buy, the bid for a sell."""
        exchange = self.client.exchange
        symbol = rules.instrument
        if exchange.has.get("fetchBidsAsks"):
            book = self.client.call("read the top of book",
                                    lambda: exchange.fetch_bids_asks([symbol]))[symbol]
            price = book.get("ask") if side is Side.BUY else book.get("bid")
        else:
            levels = self.client.call("read the order book", lambda: exchange.fetch_order_book(symbol, 5))
            top = levels["asks" if side is Side.BUY else "bids"]
            price = top[0][0] if top else None
        return float(price) if price else None

    # -- orders -------------------------------------------------------------------------------

    def submit(self, order: Order) -> Sequence[ExecutionReport]:
        intent = order.intent
        cid = intent.client_order_id
        now_ns = time.time_ns()

        def rejected(reason: str) -> list[ExecutionReport]:
            log.info("venue %s: order %s rejected before sending: %s", self.name, cid, reason)
            return [ExecutionReport(cid, OrderStatus.REJECTED, now_ns, reason=reason)]

        if cid in self._orders:
            return rejected(f"duplicate_client_order_id: {cid} was already sent to this venue")
        limit = intent.order_type is OrderType.LIMIT
        if limit and intent.time_in_force not in _TIF:
            return rejected(f"unsupported_time_in_force: {intent.time_in_force.value} orders are "
                            f"not supported by {self.settings.exchange} (gtc, ioc, fok are)")
        if limit and intent.limit_price is None:
            return rejected("invalid_order: a limit order needs a limit price")
        try:
            rules = self.rules(intent.instrument)
            quantity = order.quantity
            if intent.reduce_only:
                quantity, why = self._reduce_only_quantity(rules, intent.side, quantity)
                if why:
                    return rejected(why)
            reference = None
            if not limit and rules.min_notional is not None:
                reference = self._touch(rules, intent.side)
        except VenueError as exc:
            return rejected(f"{_reason_code(exc)}: {exc}")
        check = check_order(rules, intent.side, quantity, intent.limit_price, reference)
        if not check.ok:
            return rejected(check.reason)
        tracked = _Tracked(cid, self.client.profile.venue_client_id(cid), rules.instrument,
                           intent.side, check.amount)
        self._orders[cid] = tracked
        self._ours[tracked.venue_client_id] = cid
        params: dict[str, Any] = {self.client.profile.client_id_param: tracked.venue_client_id}
        if limit:
            params["timeInForce"] = _TIF[intent.time_in_force]
        try:
            placed = self._create(tracked, "limit" if limit else "market", check.amount,
                                  check.price, params)
        except VenueError as exc:
            tracked.status = OrderStatus.REJECTED
            return [ExecutionReport(cid, OrderStatus.REJECTED, time.time_ns(),
                                    reason=f"{_reason_code(exc)}: {exc.venue_message or exc}")]
        if placed is None:
            return [ExecutionReport(cid, OrderStatus.ACCEPTED, time.time_ns(),
                                    reason="unconfirmed: the venue's answer was lost; the order "
                                    "is looked up by its client id at the next poll")]
        return [ExecutionReport(cid, OrderStatus.ACCEPTED, time.time_ns(),
                                extra={"venue_order_id": placed.get("id")}),
                *self._reports_for(tracked, placed)]

    def _reduce_only_quantity(self, rules: MarketRules, side: Side,
                              quantity: float) -> tuple[float, str]:
        """Spot has no reduce-only flag: a reduce-only sell is capped to the base asset held,
        a reduce-only buy has nothing to reduce (spot holds no short)."""
        if side is Side.BUY:
            return quantity, (f"reduce_only: a buy on the spot market {rules.instrument} cannot "
                              "reduce a position (spot holds no short)")
        free = self.account_balances().get(rules.base)
        held = free.free if free else 0.0
        if held <= 0:
            return quantity, f"reduce_only: no {rules.base} held to sell"
        return min(quantity, held), ""

    def _create(self, tracked: _Tracked, kind: str, amount: float, price: float | None,
                params: dict[str, Any]) -> dict[str, Any] | None:
        """Place the order; None when its fate could not be settled within the deadline.

        :raises VenueError: the venue refused it (nothing was placed).
        """
        client = self.client
        exchange = client.exchange
        deadline = client.deadline()
        side = "buy" if tracked.side is Side.BUY else "sell"
        attempt = 0
        while True:
            tracked.sent_ms = client.now_ms()
            try:
                placed: dict[str, Any] = exchange.create_order(
                    tracked.instrument, kind, side, amount, price, dict(params))
                tracked.sent_ms = None
                return placed
            except ccxt.BaseError as exc:
                error = client.classify(exc)
            attempt += 1
            if isinstance(error, ClockRejectedError):
                tracked.sent_ms = None  # refused before execution: safe to send again
                if not client.wait(client.backoff(attempt), deadline):
                    raise error
                client.call("read the venue's clock", client.resync_clock, deadline=deadline)
                continue
            if not is_transient(error):
                tracked.sent_ms = None
                raise error
            log.warning("venue %s: order %s: answer lost (%s); looking it up by client id "
                        "before anything is sent again", self.name, tracked.client_order_id,
                        type(error).__name__)
            try:
                found = self._settle(tracked, deadline)
            except _Unsettled:
                return None
            if found is not None:
                return found
            if not client.wait(client.backoff(attempt), deadline):
                tracked.sent_ms = None
                raise VenueUnavailableError(
                    f"venue {self.name}: order {tracked.client_order_id} not placed: the venue "
                    f"did not answer within {self.settings.deadline_ms} ms ({error})",
                    venue=self.name, venue_message=error.venue_message)

    def _settle(self, tracked: _Tracked, deadline: float) -> dict[str, Any] | None:
        """Whether a create whose answer was lost reached the venue: the order if it did, None
        once it provably did not (the request's validity window has passed and the venue still
        does not know the id).

        :raises _Unsettled: neither could be established before the deadline.
        """
        client = self.client
        assert tracked.sent_ms is not None
        window = self.settings.recv_window_ms if client.profile.recv_window else \
            max(self.settings.recv_window_ms, self.settings.request_timeout_ms)
        settled_at = tracked.sent_ms + window + _SETTLE_MARGIN_MS
        while True:
            try:
                found = self._lookup(tracked, deadline)
            except VenueError as exc:
                raise _Unsettled from exc
            if found is not None:
                tracked.sent_ms = None
                return found
            wait_s = (settled_at - client.now_ms()) / 1000.0
            if wait_s <= 0:
                tracked.sent_ms = None
                return None
            if not client.wait(wait_s, deadline):
                raise _Unsettled

    def _lookup(self, tracked: _Tracked, deadline: float | None = None) -> dict[str, Any] | None:
        """The venue's order with our client id, or None when the venue does not know it."""
        client = self.client
        exchange = client.exchange
        params = {"clientOrderId": tracked.venue_client_id}
        try:
            order: dict[str, Any] = client.call(
                f"look up order {tracked.client_order_id}",
                lambda: exchange.fetch_order(None, tracked.instrument, dict(params)),
                deadline=deadline)
        except OrderNotFoundError:
            return None
        except VenueInvalidOrderError:  # the venue cannot fetch by client id: search the lists
            candidates = client.call("list open orders",
                                     lambda: exchange.fetch_open_orders(tracked.instrument),
                                     deadline=deadline)
            if exchange.has.get("fetchClosedOrders"):
                candidates += client.call("list closed orders",
                                          lambda: exchange.fetch_closed_orders(tracked.instrument),
                                          deadline=deadline)
            matches = [o for o in candidates if o.get("clientOrderId") == tracked.venue_client_id]
            return matches[-1] if matches else None
        return order

    def _reports_for(self, tracked: _Tracked, order: Mapping[str, Any],
                     trades: Sequence[Mapping[str, Any]] | None = None) -> list[ExecutionReport]:
        """Reports for what is new in ``order``: its unseen fills, then its status when final.

        The trades come from the order itself (a create's answer), or are fetched when it has
        fills the adapter has not reported yet.
        """
        venue_id = str(order.get("id") or "")
        if venue_id:
            tracked.venue_order_id = venue_id
            self._by_venue_id[(tracked.instrument, venue_id)] = tracked.client_order_id
        filled = float(order.get("filled") or 0.0)
        if trades is None:
            trades = order.get("trades") or []
            if filled > tracked.filled + 1e-12 and sum(float(t.get("amount") or 0) for t in trades) \
                    < filled - tracked.filled - 1e-12:
                trades = self._order_trades(tracked, venue_id)
        rules = self._rules.get(tracked.instrument)
        base, quote = (rules.base, rules.quote) if rules else tracked.instrument.split("/")
        ts_ms = order.get("lastTradeTimestamp") or order.get("timestamp")
        status = order_status(order.get("status"), filled)
        reports: list[ExecutionReport] = []
        for trade in trades:
            fill = fill_from_trade(trade, venue=self.name, client_order_id=tracked.client_order_id,
                                   base=base, quote=quote, side=tracked.side, ts_ms=ts_ms)
            if fill.trade_id in self._seen_trades:
                continue
            self._seen_trades.add(fill.trade_id)
            tracked.filled += fill.quantity
            done = status is OrderStatus.FILLED and tracked.filled >= filled - 1e-12
            tracked.status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
            reports.append(ExecutionReport(tracked.client_order_id, tracked.status, fill.ts_ns,
                                           fill=fill))
        if status.is_final and tracked.status is not status:
            tracked.status = status
            reports.append(ExecutionReport(tracked.client_order_id, status, _ns(ts_ms),
                                           reason=f"venue: {order.get('status')}"))
        return reports

    def _order_trades(self, tracked: _Tracked, venue_id: str) -> list[dict[str, Any]]:
        client = self.client
        exchange = client.exchange
        if exchange.has.get("fetchOrderTrades"):
            return list(client.call(f"fetch the fills of order {tracked.client_order_id}",
                                    lambda: exchange.fetch_order_trades(venue_id, tracked.instrument)))
        trades = client.call("fetch my trades", lambda: exchange.fetch_my_trades(tracked.instrument))
        return [t for t in trades if str(t.get("order")) == venue_id]

    def cancel(self, client_order_id: str) -> Sequence[ExecutionReport]:
        tracked = self._orders.get(client_order_id)
        now_ns = time.time_ns()
        if tracked is None:
            return [ExecutionReport(client_order_id, OrderStatus.REJECTED, now_ns,
                                    reason=f"unknown_order: {client_order_id} was not sent to "
                                    f"venue {self.name}")]
        if tracked.status.is_final:
            return []
        client = self.client
        exchange = client.exchange
        params = {"clientOrderId": tracked.venue_client_id}
        try:
            cancelled = client.call(
                f"cancel order {client_order_id}",
                lambda: exchange.cancel_order(tracked.venue_order_id, tracked.instrument, dict(params)))
        except OrderNotFoundError:
            # already gone (filled, expired, cancelled) or never placed: ask what it became
            try:
                found = self._lookup(tracked)
            except VenueError as exc:
                log.warning("venue %s: cancel of %s: %s", self.name, client_order_id, exc)
                return []
            if found is None:
                if tracked.sent_ms is not None:
                    return []  # still unsettled: poll decides
                tracked.status = OrderStatus.REJECTED
                return [ExecutionReport(client_order_id, OrderStatus.REJECTED, now_ns,
                                        reason="unknown_order: the venue does not know this order")]
            return self._reports_for(tracked, found)
        except VenueError as exc:
            # the order's fate did not change: it stays open, the cancel may be asked again
            log.warning("venue %s: cancel of %s failed: %s", self.name, client_order_id, exc)
            return []
        return self._reports_for(tracked, cancelled)

    def balances(self) -> Mapping[str, float]:
        """Free balance per asset (assets with a non-zero total)."""
        return {asset: b.free for asset, b in self.account_balances().items()}

    # -- polling ------------------------------------------------------------------------------

    def poll(self) -> Sequence[ExecutionReport]:
        """Fills and status changes of our open orders since the last poll.

        Per instrument with open orders: new trades (from the fills cursor), then the final
        status of orders no longer open. Orders whose creation was unconfirmed are looked up
        first. A venue failure is logged and the next poll tries again: nothing is lost.
        """
        live = [t for t in self._orders.values() if not t.status.is_final]
        if not live:
            return []
        reports: list[ExecutionReport] = []
        try:
            for tracked in [t for t in live if t.sent_ms is not None]:
                reports += self._poll_unsettled(tracked)
            instruments = sorted({t.instrument for t in live if not t.status.is_final})
            for instrument in instruments:
                self._cursor.since_ms.setdefault(instrument, self._connected_ms)
            fills, self._cursor = self._fills_since(self._cursor, instruments, known_only=True)
            for fill in fills:
                tracked = self._orders[fill.client_order_id]
                if fill.trade_id in self._seen_trades:
                    continue
                self._seen_trades.add(fill.trade_id)
                tracked.filled += fill.quantity
                tracked.status = OrderStatus.PARTIALLY_FILLED
                reports.append(ExecutionReport(tracked.client_order_id, tracked.status,
                                               fill.ts_ns, fill=fill))
            for instrument in instruments:
                still_open = {str(o.get("clientOrderId")) for o in self._open_raw(instrument)}
                for tracked in [t for t in live if t.instrument == instrument]:
                    if tracked.sent_ms is None and tracked.venue_client_id not in still_open \
                            and not tracked.status.is_final:
                        found = self._lookup(tracked)
                        if found is not None:
                            reports += self._reports_for(tracked, found)
        except VenueError as exc:
            log.warning("venue %s: poll incomplete, retried at the next poll: %s", self.name, exc)
        return reports

    def _poll_unsettled(self, tracked: _Tracked) -> list[ExecutionReport]:
        client = self.client
        try:
            # one look, no waiting: a poll must stay short; the next poll looks again
            found = self._settle(tracked, client.deadline(self.settings.request_timeout_ms))
        except _Unsettled:
            return []
        if found is None:
            tracked.status = OrderStatus.REJECTED
            return [ExecutionReport(tracked.client_order_id, OrderStatus.REJECTED, time.time_ns(),
                                    reason="venue_unavailable: the order never reached the venue")]
        return self._reports_for(tracked, found)

    # -- reconciliation queries ---------------------------------------------------------------

    def _open_raw(self, instrument: str | None) -> list[dict[str, Any]]:
        exchange = self.client.exchange
        return list(self.client.call("list open orders",
                                     lambda: exchange.fetch_open_orders(instrument)))

    def open_orders(self, instrument: str | None = None) -> Sequence[VenueOrder]:
        """Every open order of the account at the venue (of ``instrument``, or all), ours and
        others'; ours carry our client order id once the adapter knows them (sent, or looked
        up with :meth:`order_status`), others the venue's client id."""
        return [venue_order(o, self._ours) for o in self._open_raw(instrument)]

    def order_status(self, client_order_id: str, instrument: str) -> VenueOrder | None:
        """The venue's view of one of our orders (open or final), or None when the venue never
        received it; the order is tracked from now on, so that :meth:`poll` reports its later
        fills and final status (the adoption of an order known from before a restart)."""
        tracked = self._orders.get(client_order_id) or _Tracked(
            client_order_id, self.client.profile.venue_client_id(client_order_id), instrument,
            Side.BUY, 0.0)
        found = self._lookup(tracked)
        if found is None:
            return None
        order = venue_order(found, {tracked.venue_client_id: client_order_id})
        if client_order_id not in self._orders:
            tracked.side, tracked.amount = order.side, order.quantity
            tracked.status, tracked.filled = order.status, order.filled_quantity
            if order.filled_quantity > 0:  # its fills so far are fills_since's to report
                for trade in self._order_trades(tracked, order.venue_order_id):
                    self._seen_trades.add(f"{trade.get('symbol')}:{trade.get('id')}")
            self._orders[client_order_id] = tracked
        tracked.venue_order_id = order.venue_order_id
        self._ours[tracked.venue_client_id] = client_order_id
        self._by_venue_id[(instrument, order.venue_order_id)] = client_order_id
        return order

    def fills_since(self, cursor: Mapping[str, Any] | None,
                    instruments: Sequence[str]) -> FillsPage:
        """Every fill of the account on ``instruments`` after ``cursor`` (None: the venue's
        recent history), oldest first, with ``<instrument>:<venue trade id>`` trade ids and our
        client order ids (the venue's where the order is not ours), and the next cursor
        (JSON-able, see :class:`~bot_core_ccxt.mapping.FillCursor`)."""
        start = FillCursor.from_json(cursor) if cursor else FillCursor()
        fills, after = self._fills_since(start, instruments)
        return FillsPage(fills, after.to_json())

    def positions(self) -> Mapping[str, float]:
        """Spot: the total holding of each traded instrument's base asset (instruments of the
        orders this adapter sent or tracked), which is what the account's trading built up
        when it started from quote cash only."""
        instruments = sorted({t.instrument for t in self._orders.values()})
        if not instruments:
            return {}
        balances = self.account_balances()
        held: dict[str, float] = {}
        for instrument in instruments:
            rules = self._rules.get(instrument)
            if rules is not None:
                held[instrument] = balances[rules.base].total if rules.base in balances else 0.0
        return held

    def _fills_since(self, cursor: FillCursor, instruments: Sequence[str], *,
                     known_only: bool = False) -> tuple[list[Fill], FillCursor]:
        client = self.client
        cursor = FillCursor.from_json(cursor.to_json())
        fills: list[Fill] = []
        for instrument in instruments:
            rules = self.rules(instrument)
            while True:
                params: dict[str, Any] = {}
                since = cursor.since_ms.get(instrument)
                last = cursor.last_id.get(instrument)
                param = client.profile.trade_cursor_param
                if param and last is not None and last.isdigit():
                    params[param] = int(last) + 1
                    since = None
                trades = self._my_trades(instrument, since, params)
                fresh = 0
                for trade in sorted(trades, key=lambda t: (t.get("timestamp") or 0, str(t.get("id")))):
                    trade_id, ts_ms = str(trade.get("id")), int(trade.get("timestamp") or 0)
                    if cursor.seen(instrument, trade_id, ts_ms):
                        continue
                    fresh += 1
                    cursor.advance(instrument, trade_id, ts_ms)
                    venue_order_id = str(trade.get("order"))
                    cid = self._by_venue_id.get((instrument, venue_order_id))
                    if cid is None and not known_only:
                        cid = self._client_id_of(instrument, venue_order_id)
                    if cid is None or (known_only and cid not in self._orders):
                        continue
                    fills.append(fill_from_trade(trade, venue=self.name, client_order_id=cid,
                                                 base=rules.base, quote=rules.quote))
                if fresh == 0 and last is None:
                    # nothing since ``since``: move it up to a minute ago, so that the query
                    # stays within the venue's history window on quiet instruments
                    floor = client.now_ms() - 60_000
                    if cursor.since_ms.get(instrument, floor) < floor:
                        cursor.since_ms[instrument] = floor
                        cursor.ids_at_since[instrument] = []
                if fresh == 0 or len(trades) < 500:
                    break
        return fills, cursor

    def _my_trades(self, instrument: str, since: int | None,
                   params: dict[str, Any]) -> list[dict[str, Any]]:
        exchange = self.client.exchange
        return list(self.client.call(f"fetch my trades on {instrument}",
                                     lambda: exchange.fetch_my_trades(instrument, since, 500, params)))

    def _client_id_of(self, instrument: str, venue_order_id: str) -> str | None:
        known = self._by_venue_id.get((instrument, venue_order_id))
        if known is not None:
            return known
        exchange = self.client.exchange
        try:
            order = self.client.call(f"look up venue order {venue_order_id}",
                                     lambda: exchange.fetch_order(venue_order_id, instrument))
        except OrderNotFoundError:
            return None
        venue_cid = str(order.get("clientOrderId") or "")
        cid = self._ours.get(venue_cid, venue_cid)
        self._by_venue_id[(instrument, venue_order_id)] = cid
        return cid

    def account_balances(self) -> dict[str, AccountBalance]:
        """Free, used (by open orders) and total balance of every asset with a non-zero total;
        on spot these are the positions."""
        balance = self.client.call("fetch balances", self.client.exchange.fetch_balance)
        totals: dict[str, Any] = balance.get("total") or {}
        return {asset: AccountBalance(asset, float((balance.get("free") or {}).get(asset) or 0.0),
                                      float((balance.get("used") or {}).get(asset) or 0.0),
                                      float(total or 0.0))
                for asset, total in totals.items() if total}


def _ns(timestamp_ms: Any) -> int:
    return int(timestamp_ms) * 1_000_000 if timestamp_ms else time.time_ns()


def _reason_code(error: VenueError) -> str:
    """The reason code a REJECTED report starts with, from the error's type."""
    for cls, code in ((VenueAuthenticationError, "authentication"),
                      (VenueInsufficientFundsError, "insufficient_funds"),
                      (VenueRateLimitedError, "rate_limited"),
                      (VenueUnavailableError, "venue_unavailable"),
                      (VenueInvalidOrderError, "invalid_order")):
        if isinstance(error, cls):
            return code
    return "venue_error"
