"""A local HTTP simulator of the reference venue's spot REST API (Binance spot, ``/api/v3``).

Unmodified ccxt talks to it once the scheme and host of every entry of the exchange's
``urls['api']`` point at :attr:`ExchangeSimulator.url` (the adapter's ``api_base_url`` setting
does exactly that). It serves the endpoints the adapter uses with the venue's response shapes,
verifies HMAC-SHA256 request signatures and the ``timestamp`` / ``recvWindow`` window like the
venue, and injects faults on demand (:meth:`ExchangeSimulator.inject`).

It binds to 127.0.0.1 on an ephemeral port; :meth:`ExchangeSimulator.stop` (or leaving the
``with`` block) shuts it down and wakes every request a fault is holding.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot_core_ccxt.testing.engine import (
    SimOrder,
    SimTrade,
    VenueReject,
    VenueState,
    missing_param,
)

__all__ = ["ExchangeSimulator", "Fault"]

_INTERVAL_MS = {"1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000,
                "30m": 1_800_000, "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000,
                "1d": 86_400_000}
_SIGNED = {"/api/v3/account", "/api/v3/order", "/api/v3/openOrders", "/api/v3/myTrades"}


class Fault(enum.Enum):
    """What the simulator does to the next matching requests."""

    TIMEOUT = "timeout"
    """Hold the request ``seconds`` without processing it, then drop the connection."""
    RESPONSE_LOST = "response_lost"
    """Process the request (an order is placed), then drop the connection unanswered."""
    SLOW = "slow"
    """Hold the request ``seconds``, then process it (checking its recvWindow again, as the
    venue's matching engine does) and answer a client that has usually given up."""
    RATE_LIMIT = "rate_limit"
    """HTTP 429 with the venue's -1003 body and a Retry-After header."""
    BAN = "ban"
    """HTTP 418 (IP banned) with the venue's -1003 body and a Retry-After header."""
    SERVER_ERROR = "server_error"
    """HTTP ``status`` (5xx) from the gateway with a non-JSON body; with ``processed`` the
    request was executed first (the venue documents a 5xx's outcome as unknown)."""
    REJECT = "reject"
    """Answer HTTP ``status`` with the venue error ``code`` and ``msg`` instead of processing."""


@dataclass(slots=True)
class _Injected:
    fault: Fault
    method: str
    path: str
    times: int
    seconds: float
    status: int
    code: int
    msg: str
    processed: bool
    retry_after_s: int


def _num(value: Decimal) -> str:
    return f"{value:.8f}"


class ExchangeSimulator:
    """The simulated venue over HTTP on loopback.

    :param api_key: the one API key the venue knows.
    :param api_secret: its secret (HMAC-SHA256 signing key).
    :param venue_kwargs: passed to :class:`~bot_core_ccxt.testing.engine.VenueState`
        (``balances``, ``base_prices``, ``taker_fee``, ``maker_fee``, ``half_spread_bps``).
    """

    def __init__(self, *, api_key: str = "sim-api-key", api_secret: str = "sim-api-secret",
                 **venue_kwargs: Any) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.venue = VenueState(**venue_kwargs)
        self.clock_skew_ms = 0
        """Added to the wall clock to give the venue's time (inject clock skew with it)."""
        self.requests: list[tuple[str, str]] = []
        """Every request received, as (method, path), faults included."""
        self.lock = threading.Lock()
        self._faults: list[_Injected] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> ExchangeSimulator:
        handler = _handler_for(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="exchange-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ExchangeSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: give it to the adapter as ``api_base_url``."""
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def now_ms(self) -> int:
        """The venue's clock: the wall clock plus the injected skew."""
        return int(time.time() * 1000) + self.clock_skew_ms

    # -- test controls ------------------------------------------------------------------------

    def inject(self, fault: Fault, *, method: str = "", path: str = "", times: int = 1,
               seconds: float = 0.0, status: int = 0, code: int = 0, msg: str = "",
               processed: bool = False, retry_after_s: int = 1) -> None:
        """Apply ``fault`` to the next ``times`` requests whose method and path match (empty
        matches any), in the order faults were injected."""
        default_status = {Fault.RATE_LIMIT: 429, Fault.BAN: 418, Fault.SERVER_ERROR: 503,
                          Fault.REJECT: 400}.get(fault, 0)
        with self.lock:
            self._faults.append(_Injected(fault, method.upper(), path, times, seconds,
                                          status or default_status, code, msg, processed,
                                          retry_after_s))

    def set_price(self, symbol: str, price: float | None) -> None:
        """Pin the symbol's price (None: back to the scripted path)."""
        with self.lock:
            if price is None:
                self.venue.price_overrides.pop(symbol, None)
            else:
                self.venue.price_overrides[symbol] = price

    def set_liquidity(self, symbol: str, quantity: float | None) -> None:
        """Cap what one match fills (None: unlimited): partial fills on demand."""
        with self.lock:
            if quantity is None:
                self.venue.liquidity.pop(symbol, None)
            else:
                self.venue.liquidity[symbol] = Decimal(repr(quantity))

    def orders_placed(self, symbol: str | None = None) -> list[SimOrder]:
        """Every order the venue accepted, oldest first."""
        with self.lock:
            return [o for o in self.venue.orders.values() if symbol in (None, o.symbol)]

    def balance(self, asset: str) -> float:
        with self.lock:
            return float(self.venue.balances.get(asset, Decimal(0)))

    def requested(self, method: str, path: str) -> int:
        """How many requests with this method and path arrived."""
        return sum(1 for m, p in list(self.requests) if m == method and p == path)

    # -- request handling (called by the handler thread) ---------------------------------------

    def _take_fault(self, method: str, path: str) -> _Injected | None:
        with self.lock:
            for fault in self._faults:
                if fault.method in ("", method) and fault.path in ("", path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _check_signed(self, headers: Any, raw_query: str, raw_body: str,
                      params: dict[str, str]) -> None:
        key = headers.get("X-MBX-APIKEY")
        if not key:
            raise VenueReject(401, -2014, "API-key format invalid.")
        if not hmac.compare_digest(key, self.api_key):
            raise VenueReject(401, -2015, "Invalid API-key, IP, or permissions for action.")
        total = "&".join(p for p in (raw_query, raw_body) if p)
        signature = params.get("signature", "")
        signed = "&".join(p for p in total.split("&") if not p.startswith("signature="))
        expected = hmac.new(self.api_secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, expected):
            raise VenueReject(400, -1022, "Signature for this request is not valid.")
        self._check_window(params)

    def _check_window(self, params: dict[str, str]) -> None:
        if "timestamp" not in params:
            raise VenueReject(400, -1102, missing_param("timestamp"))
        timestamp = int(params["timestamp"])
        window = int(params.get("recvWindow", "5000"))
        if window > 60_000:
            raise VenueReject(400, -1131, "recvWindow must be less than 60000")
        now = self.now_ms()
        if timestamp > now + 1000:
            raise VenueReject(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - timestamp > window:
            raise VenueReject(400, -1021, "Timestamp for this request is outside of the recvWindow.")

    def _dispatch(self, method: str, path: str, params: dict[str, str]) -> Any:
        venue = self.venue
        now = self.now_ms()
        with self.lock:
            venue.match_resting(now)
            route: Callable[[dict[str, str], int], Any] | None = self._routes.get((method, path))
            if route is None:
                raise VenueReject(404, -1, f"no route {method} {path} on the simulator")
            return route(params, now)

    @property
    def _routes(self) -> dict[tuple[str, str], Callable[[dict[str, str], int], Any]]:
        return {
            ("GET", "/api/v3/ping"): lambda p, now: {},
            ("GET", "/api/v3/time"): lambda p, now: {"serverTime": now},
            ("GET", "/api/v3/exchangeInfo"): self._exchange_info,
            ("GET", "/api/v3/klines"): self._klines,
            ("GET", "/api/v3/ticker/bookTicker"): self._book_ticker,
            ("GET", "/api/v3/depth"): self._depth,
            ("GET", "/api/v3/account"): self._account,
            ("POST", "/api/v3/order"): self._new_order,
            ("GET", "/api/v3/order"): self._get_order,
            ("DELETE", "/api/v3/order"): self._cancel_order,
            ("GET", "/api/v3/openOrders"): self._open_orders,
            ("GET", "/api/v3/myTrades"): self._my_trades,
        }

    # -- endpoints ----------------------------------------------------------------------------

    def _exchange_info(self, params: dict[str, str], now: int) -> Any:
        info = dict(self.venue.exchange_info, serverTime=now)
        wanted = params.get("symbol")
        if wanted:
            self.venue.spec(wanted)
            info["symbols"] = [s for s in info["symbols"] if s["symbol"] == wanted]
        return info

    def _klines(self, params: dict[str, str], now: int) -> Any:
        symbol = params.get("symbol", "")
        self.venue.spec(symbol)
        interval_ms = _INTERVAL_MS.get(params.get("interval", ""))
        if interval_ms is None:
            raise VenueReject(400, -1120, "Invalid interval.")
        limit = min(int(params.get("limit", "500")), 1000)
        end = min(int(params.get("endTime", str(now))), now)
        last_open = end // interval_ms * interval_ms
        if "startTime" in params:
            first = -(-int(params["startTime"]) // interval_ms) * interval_ms
            opens = list(range(first, last_open + 1, interval_ms))[:limit]
        else:
            opens = list(range(last_open - (limit - 1) * interval_ms, last_open + 1, interval_ms))
        rows = []
        spec = self.venue.specs[symbol]
        for open_ms in opens:
            o, h, lo, c, v = self.venue.kline(symbol, open_ms, interval_ms)
            # the venue's last row is the bar still open: its close is the latest price
            if open_ms + interval_ms > now:
                c = self.venue.price(symbol, now)
            prices = [_num(spec.to_tick(x)) for x in (o, h, lo, c)]
            rows.append([open_ms, *prices, f"{v:.8f}", open_ms + interval_ms - 1,
                         f"{v * c:.8f}", 42, f"{v / 2:.8f}", f"{v * c / 2:.8f}", "0"])
        return rows

    def _book_ticker(self, params: dict[str, str], now: int) -> Any:
        symbols = [params["symbol"]] if "symbol" in params else \
            json.loads(params["symbols"]) if "symbols" in params else sorted(self.venue.specs)
        rows = []
        for symbol in symbols:
            bid, ask = self.venue.book(symbol, now)
            qty = _num(self.venue.book_qty(symbol))
            rows.append({"symbol": symbol, "bidPrice": _num(bid), "bidQty": qty,
                         "askPrice": _num(ask), "askQty": qty})
        return rows[0] if "symbol" in params else rows

    def _depth(self, params: dict[str, str], now: int) -> Any:
        symbol = params.get("symbol", "")
        bid, ask = self.venue.book(symbol, now)
        tick = self.venue.specs[symbol].tick_size
        qty = _num(self.venue.book_qty(symbol))
        levels = min(int(params.get("limit", "100")), 5)
        return {"lastUpdateId": now,
                "bids": [[_num(bid - k * tick), qty] for k in range(levels)],
                "asks": [[_num(ask + k * tick), qty] for k in range(levels)]}

    def _account(self, params: dict[str, str], now: int) -> Any:
        venue = self.venue
        assets = sorted(set(venue.balances) | set(venue.locked))
        return {"makerCommission": 10, "takerCommission": 10, "buyerCommission": 0,
                "sellerCommission": 0,
                "commissionRates": {"maker": _num(venue.maker_fee), "taker": _num(venue.taker_fee),
                                    "buyer": "0.00000000", "seller": "0.00000000"},
                "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
                "requireSelfTradePrevention": False, "preventSor": False, "updateTime": now,
                "accountType": "SPOT",
                "balances": [{"asset": a, "free": _num(venue.balances.get(a, Decimal(0))),
                              "locked": _num(venue.locked.get(a, Decimal(0)))} for a in assets],
                "permissions": ["SPOT"], "uid": 354937868}

    def _new_order(self, params: dict[str, str], now: int) -> Any:
        client_id = params.get("newClientOrderId") or f"sim-{now}"
        order = self.venue.place(symbol=params.get("symbol", ""), side=params.get("side", ""),
                                 type_=params.get("type", ""), quantity=params.get("quantity"),
                                 price=params.get("price"), time_in_force=params.get("timeInForce"),
                                 client_order_id=client_id, now_ms=now)
        body = _order_json(order, with_times=False)
        body.pop("stopPrice"), body.pop("icebergQty"), body.pop("isWorking")
        body.update(transactTime=order.time_ms, workingTime=order.time_ms)
        if params.get("newOrderRespType", "FULL") == "FULL":
            body["fills"] = [{"price": _num(t.price), "qty": _num(t.qty),
                              "commission": _num(t.commission),
                              "commissionAsset": t.commission_asset, "tradeId": t.trade_id}
                             for t in order.fills]
        return body

    def _lookup(self, params: dict[str, str]) -> SimOrder:
        order_id = params.get("orderId")
        client_id = params.get("origClientOrderId")
        if order_id is None and client_id is None:
            raise VenueReject(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, "
                              "but both were empty/null!")
        return self.venue.find(params.get("symbol", ""), order_id, client_id)

    def _get_order(self, params: dict[str, str], now: int) -> Any:
        return _order_json(self._lookup(params), with_times=True)

    def _cancel_order(self, params: dict[str, str], now: int) -> Any:
        try:
            order = self._lookup(params)
        except VenueReject as exc:
            raise VenueReject(400, -2011, "Unknown order sent.") from exc
        self.venue.cancel(order, now)
        body = _order_json(order, with_times=False)
        for key in ("stopPrice", "icebergQty", "isWorking", "workingTime"):
            body.pop(key, None)
        body.update(origClientOrderId=order.client_order_id, clientOrderId=f"cancel-{now}",
                    transactTime=now)
        return body

    def _open_orders(self, params: dict[str, str], now: int) -> Any:
        symbol = params.get("symbol")
        return [_order_json(o, with_times=True) for o in self.venue.orders.values()
                if o.is_open and symbol in (None, o.symbol)]

    def _my_trades(self, params: dict[str, str], now: int) -> Any:
        symbol = params.get("symbol", "")
        self.venue.spec(symbol)
        trades = [t for t in self.venue.trades if t.symbol == symbol]
        if "orderId" in params:
            trades = [t for t in trades if str(t.order_id) == params["orderId"]]
        if "fromId" in params:
            trades = [t for t in trades if t.trade_id >= int(params["fromId"])]
        elif "startTime" in params or "endTime" in params:
            start = int(params.get("startTime", "0"))
            end = int(params.get("endTime", str(start + 86_400_000)))
            if end - start > 86_400_000:
                raise VenueReject(400, -1127, "More than 24 hours between startTime and endTime.")
            trades = [t for t in trades if start <= t.time_ms <= end]
        else:
            trades = trades[-int(params.get("limit", "500")):]
        return [_trade_json(t) for t in trades[: min(int(params.get("limit", "500")), 1000)]]


def _order_json(order: SimOrder, *, with_times: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "symbol": order.symbol, "orderId": order.order_id, "orderListId": -1,
        "clientOrderId": order.client_order_id, "price": _num(order.price),
        "origQty": _num(order.orig_qty), "executedQty": _num(order.executed_qty),
        "cummulativeQuoteQty": _num(order.cumulative_quote), "status": order.status,
        "timeInForce": order.time_in_force, "type": order.type, "side": order.side,
        "stopPrice": "0.00000000", "icebergQty": "0.00000000", "isWorking": True,
        "workingTime": order.time_ms, "origQuoteOrderQty": "0.00000000",
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }
    if with_times:
        body.update(time=order.time_ms, updateTime=order.update_ms)
    return body


def _trade_json(trade: SimTrade) -> dict[str, Any]:
    return {"symbol": trade.symbol, "id": trade.trade_id, "orderId": trade.order_id,
            "orderListId": -1, "price": _num(trade.price), "qty": _num(trade.qty),
            "quoteQty": _num(trade.price * trade.qty), "commission": _num(trade.commission),
            "commissionAsset": trade.commission_asset, "time": trade.time_ms,
            "isBuyer": trade.is_buyer, "isMaker": trade.is_maker, "isBestMatch": True}


def _handler_for(sim: ExchangeSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``sim.requests`` instead of a log on stderr."""

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

        def _handle(self, method: str) -> None:
            split = urlsplit(self.path)
            path = split.path
            length = int(self.headers.get("Content-Length") or 0)
            raw_body = self.rfile.read(length).decode() if length else ""
            params = dict(parse_qsl(split.query, keep_blank_values=True))
            params.update(parse_qsl(raw_body, keep_blank_values=True))
            with sim.lock:
                sim.requests.append((method, path))
            fault = sim._take_fault(method, path)
            if fault is not None and fault.fault is Fault.TIMEOUT:
                sim._stopping.wait(fault.seconds)
                self.close_connection = True
                return
            if fault is not None and fault.fault in (Fault.RATE_LIMIT, Fault.BAN):
                text = ("Too many requests; current limit of IP(127.0.0.1) is 6000 requests per "
                        "minute." if fault.fault is Fault.RATE_LIMIT else
                        f"Way too many requests; IP(127.0.0.1) banned until "
                        f"{sim.now_ms() + fault.retry_after_s * 1000}.")
                self._send(fault.status, {"code": -1003, "msg": text},
                           {"Retry-After": str(fault.retry_after_s)})
                return
            if fault is not None and fault.fault is Fault.REJECT:
                self._send(fault.status, {"code": fault.code, "msg": fault.msg})
                return
            if fault is not None and fault.fault is Fault.SERVER_ERROR and not fault.processed:
                self._send_text(fault.status, "<html><body><h1>503 Service Unavailable</h1></body></html>")
                return
            try:
                if path in _SIGNED:
                    sim._check_signed(self.headers, split.query, raw_body, params)
                if fault is not None and fault.fault is Fault.SLOW:
                    sim._stopping.wait(fault.seconds)
                    sim._check_window(params)  # the matching engine's own recvWindow check
                body = sim._dispatch(method, path, params)
            except VenueReject as exc:
                body, status = {"code": exc.code, "msg": exc.msg}, exc.status
            else:
                status = 200
            if fault is not None and fault.fault is Fault.RESPONSE_LOST:
                self.close_connection = True
                return
            if fault is not None and fault.fault is Fault.SERVER_ERROR:
                self._send_text(fault.status, "<html><body><h1>502 Bad Gateway</h1></body></html>")
                return
            self._send(status, body)

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-MBX-USED-WEIGHT-1M", "1")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (timeout): nothing to tell

        def _send_text(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
