"""The simulated venue behind the HTTP simulator: symbols, prices, balances, orders, trades.

Prices follow a scripted path (a smooth deterministic function of time, or a price set by the
test). Orders are matched when they arrive and again before every request, against a top of
book around the current price: a market or crossing order takes at the ask (buy) or bid (sell),
a resting limit order fills at its own price once the book crosses it. ``liquidity`` caps what
one match can fill, which is how tests get partial fills. Quantities are ``Decimal`` so that the
venue's filters (step sizes, tick sizes) are checked exactly, as the real venue does.

Everything here is guarded by one lock held by the HTTP layer; nothing in this module blocks.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from importlib import resources
from typing import Any

__all__ = [
    "SimOrder", "SimTrade", "SymbolSpec", "VenueReject", "VenueState", "missing_param",
    "recorded_exchange_info",
]

ZERO = Decimal(0)


def recorded_exchange_info() -> dict[str, Any]:
    """The venue's exchangeInfo: symbol records of the real venue (BTC, ETH and ADA against
    USDT recorded as they were; LTC from its recorded limits; SOL modelled on LTC's record so
    that the shipped demo universe trades on the simulator)."""
    text = resources.files("bot_core_ccxt.testing").joinpath("binance_exchange_info.json").read_text()
    info: dict[str, Any] = json.loads(text)
    return info


def missing_param(name: str) -> str:
    return f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."


class VenueReject(Exception):
    """A request the venue refuses: HTTP status, the venue's error code and message."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """The filters of one symbol that the venue enforces on new orders."""

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    record: dict[str, Any]

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SymbolSpec:
        filters = {f["filterType"]: f for f in record["filters"]}
        price, lot, notional = filters["PRICE_FILTER"], filters["LOT_SIZE"], filters["NOTIONAL"]
        return cls(record["symbol"], record["baseAsset"], record["quoteAsset"],
                   Decimal(price["tickSize"]), Decimal(price["minPrice"]), Decimal(price["maxPrice"]),
                   Decimal(lot["stepSize"]), Decimal(lot["minQty"]), Decimal(lot["maxQty"]),
                   Decimal(notional["minNotional"]), record)

    def to_tick(self, price: float) -> Decimal:
        return (Decimal(repr(price)) / self.tick_size).to_integral_value(ROUND_DOWN) * self.tick_size


@dataclass(slots=True)
class SimTrade:
    trade_id: int
    order_id: int
    symbol: str
    is_buyer: bool
    is_maker: bool
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int


@dataclass(slots=True)
class SimOrder:
    order_id: int
    client_order_id: str
    symbol: str
    side: str  # BUY / SELL
    type: str  # MARKET / LIMIT
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    time_ms: int
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cumulative_quote: Decimal = ZERO
    update_ms: int = 0
    fills: list[SimTrade] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


def _path_price(base: float, t_ms: int) -> float:
    """A smooth, deterministic price path: the same time gives the same price in every run."""
    t = t_ms / 1000.0
    return base * (1.0 + 0.004 * math.sin(t / 37.0) + 0.002 * math.sin(t / 7.3)
                   + 0.001 * math.sin(t / 1.9))


class VenueState:
    """Symbols, prices, balances, orders and trades of one simulated account.

    :param balances: starting free balance per asset.
    :param base_prices: the path's level per symbol (the path wiggles by under 1 % around it).
    :param taker_fee: fee rate of taking fills (0.001 = 10 bps), paid in the asset received.
    :param maker_fee: fee rate of resting fills.
    :param half_spread_bps: distance of the bid and ask from the current price.
    """

    def __init__(self, *, balances: dict[str, float] | None = None,
                 base_prices: dict[str, float] | None = None, taker_fee: float = 0.001,
                 maker_fee: float = 0.001, half_spread_bps: float = 1.0) -> None:
        self.exchange_info = recorded_exchange_info()
        self.specs = {r["symbol"]: SymbolSpec.from_record(r) for r in self.exchange_info["symbols"]}
        self.base_prices = {"BTCUSDT": 30_000.0, "ETHUSDT": 2_000.0, "LTCUSDT": 70.0,
                            "ADAUSDT": 0.4, "SOLUSDT": 100.0}
        self.base_prices.update(base_prices or {})
        self.price_overrides: dict[str, float] = {}
        self.liquidity: dict[str, Decimal] = {}
        """Symbol -> most quantity one match fills (absent: unlimited)."""
        self.balances: dict[str, Decimal] = {}
        self.locked: dict[str, Decimal] = {}
        for asset, amount in (balances or {"USDT": 100_000.0}).items():
            self.balances[asset] = Decimal(repr(amount))
        self.taker_fee = Decimal(repr(taker_fee))
        self.maker_fee = Decimal(repr(maker_fee))
        self.half_spread = half_spread_bps / 10_000.0
        self.orders: dict[int, SimOrder] = {}
        self.trades: list[SimTrade] = []
        self._order_ids = itertools.count(1_000_001)
        self._trade_ids = itertools.count(5_000_001)

    # -- prices -------------------------------------------------------------------------------

    def spec(self, symbol: str) -> SymbolSpec:
        spec = self.specs.get(symbol)
        if spec is None:
            raise VenueReject(400, -1121, "Invalid symbol.")
        return spec

    def price(self, symbol: str, now_ms: int) -> float:
        if symbol in self.price_overrides:
            return self.price_overrides[symbol]
        return _path_price(self.base_prices[symbol], now_ms)

    def book(self, symbol: str, now_ms: int) -> tuple[Decimal, Decimal]:
        """(bid, ask) on the symbol's tick grid, at least one tick apart."""
        spec = self.spec(symbol)
        mid = self.price(symbol, now_ms)
        bid = spec.to_tick(mid * (1.0 - self.half_spread))
        ask = spec.to_tick(mid * (1.0 + self.half_spread)) + spec.tick_size
        return bid, max(ask, bid + spec.tick_size)

    def book_qty(self, symbol: str) -> Decimal:
        return self.liquidity.get(symbol, Decimal(1000))

    def kline(self, symbol: str, open_ms: int, interval_ms: int) -> list[float]:
        """open, high, low, close, volume of the bar starting at ``open_ms`` (sampled path)."""
        samples = [self.price(symbol, open_ms + interval_ms * k // 8) for k in range(9)]
        samples[-1] = self.price(symbol, open_ms + interval_ms - 1)
        volume = 10.0 + (open_ms // interval_ms) % 7
        return [samples[0], max(samples), min(samples), samples[-1], volume]

    # -- orders -------------------------------------------------------------------------------

    def place(self, *, symbol: str, side: str, type_: str, quantity: str | None,
              price: str | None, time_in_force: str | None, client_order_id: str,
              now_ms: int) -> SimOrder:
        """Validate and place a new order, matching it at once; raise :class:`VenueReject`."""
        spec = self.spec(symbol)
        if side not in ("BUY", "SELL"):
            raise VenueReject(400, -1117, "Invalid side.")
        if type_ not in ("MARKET", "LIMIT"):
            raise VenueReject(400, -1116, "Invalid orderType.")
        if quantity is None:
            raise VenueReject(400, -1102, missing_param("quantity"))
        qty = Decimal(quantity)
        if qty.as_tuple().exponent < -8:  # type: ignore[operator]
            raise VenueReject(400, -1111, "Precision is over the maximum defined for this asset.")
        if qty < spec.min_qty or qty > spec.max_qty or qty % spec.step_size != 0:
            raise VenueReject(400, -1013, "Filter failure: LOT_SIZE")
        limit = ZERO
        tif = ""
        if type_ == "LIMIT":
            if price is None:
                raise VenueReject(400, -1102, missing_param("price"))
            if time_in_force not in ("GTC", "IOC", "FOK"):
                raise VenueReject(400, -1102, missing_param("timeInForce"))
            limit, tif = Decimal(price), time_in_force
            if limit < spec.min_price or limit > spec.max_price or limit % spec.tick_size != 0:
                raise VenueReject(400, -1013, "Filter failure: PRICE_FILTER")
        elif time_in_force is not None:
            raise VenueReject(400, -1106, "Parameter 'timeInForce' sent when not required.")
        bid, ask = self.book(symbol, now_ms)
        reference = limit if type_ == "LIMIT" else (ask if side == "BUY" else bid)
        if qty * reference < spec.min_notional:
            raise VenueReject(400, -1013, "Filter failure: NOTIONAL")
        if any(o.client_order_id == client_order_id and o.is_open for o in self.orders.values()):
            raise VenueReject(400, -2010, "Duplicate order sent.")
        # buying power: the quote a buy can cost, the base a sell gives away
        need_asset, need = (spec.quote, qty * reference) if side == "BUY" else (spec.base, qty)
        if self.balances.get(need_asset, ZERO) < need:
            raise VenueReject(400, -2010, "Account has insufficient balance for requested action.")
        order = SimOrder(next(self._order_ids), client_order_id, symbol, side, type_, tif or "GTC",
                         limit, qty, now_ms, update_ms=now_ms)
        self.orders[order.order_id] = order
        self._take(order, spec, bid, ask, now_ms)
        if order.is_open:
            if type_ == "MARKET" or tif == "IOC":
                order.status = "EXPIRED"
            else:
                self._lock(order, spec)
        return order

    def _take(self, order: SimOrder, spec: SymbolSpec, bid: Decimal, ask: Decimal, now_ms: int) -> None:
        """Match an arriving order against the book (taker)."""
        touch = ask if order.side == "BUY" else bid
        if order.type == "LIMIT" and (touch > order.price if order.side == "BUY" else touch < order.price):
            return
        available = self.book_qty(order.symbol)
        if order.time_in_force == "FOK" and order.type == "LIMIT" and available < order.orig_qty:
            order.status = "EXPIRED"
            return
        self._fill(order, spec, min(order.remaining, available), touch, maker=False, now_ms=now_ms)

    def match_resting(self, now_ms: int) -> None:
        """Fill resting limit orders that the book now crosses, at their own price (maker)."""
        for order in list(self.orders.values()):
            if not order.is_open or order.type != "LIMIT":
                continue
            spec = self.specs[order.symbol]
            bid, ask = self.book(order.symbol, now_ms)
            crossed = ask <= order.price if order.side == "BUY" else bid >= order.price
            if crossed:
                self._unlock(order, spec)
                qty = min(order.remaining, self.book_qty(order.symbol))
                self._fill(order, spec, qty, order.price, maker=True, now_ms=now_ms)
                if order.is_open:
                    self._lock(order, spec)

    def _fill(self, order: SimOrder, spec: SymbolSpec, qty: Decimal, price: Decimal, *,
              maker: bool, now_ms: int) -> None:
        if qty <= 0:
            return
        notional = qty * price
        rate = self.maker_fee if maker else self.taker_fee
        if order.side == "BUY":
            fee, fee_asset = (qty * rate).quantize(Decimal("1e-8")), spec.base
            self._add(spec.quote, -notional)
            self._add(spec.base, qty - fee)
        else:
            fee, fee_asset = (notional * rate).quantize(Decimal("1e-8")), spec.quote
            self._add(spec.base, -qty)
            self._add(spec.quote, notional - fee)
        trade = SimTrade(next(self._trade_ids), order.order_id, order.symbol, order.side == "BUY",
                         maker, price, qty, fee, fee_asset, now_ms)
        self.trades.append(trade)
        order.fills.append(trade)
        order.executed_qty += qty
        order.cumulative_quote += notional
        order.update_ms = now_ms
        order.status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"

    def cancel(self, order: SimOrder, now_ms: int) -> None:
        if not order.is_open:
            raise VenueReject(400, -2011, "Unknown order sent.")
        self._unlock(order, self.specs[order.symbol])
        order.status = "CANCELED"
        order.update_ms = now_ms

    def find(self, symbol: str, order_id: str | None, client_id: str | None) -> SimOrder:
        """The order by venue id or by client id (the newest with that id), else -2013."""
        for order in sorted(self.orders.values(), key=lambda o: -o.order_id):
            if order.symbol != symbol:
                continue
            if (order_id is not None and str(order.order_id) == order_id) or \
                    (order_id is None and order.client_order_id == client_id):
                return order
        raise VenueReject(400, -2013, "Order does not exist.")

    # -- balances -----------------------------------------------------------------------------

    def _add(self, asset: str, amount: Decimal) -> None:
        self.balances[asset] = self.balances.get(asset, ZERO) + amount

    def _lock(self, order: SimOrder, spec: SymbolSpec) -> None:
        asset, amount = ((spec.quote, order.remaining * order.price) if order.side == "BUY"
                         else (spec.base, order.remaining))
        self._add(asset, -amount)
        self.locked[asset] = self.locked.get(asset, ZERO) + amount

    def _unlock(self, order: SimOrder, spec: SymbolSpec) -> None:
        asset, amount = ((spec.quote, order.remaining * order.price) if order.side == "BUY"
                         else (spec.base, order.remaining))
        self._add(asset, amount)
        self.locked[asset] = self.locked.get(asset, ZERO) - amount
