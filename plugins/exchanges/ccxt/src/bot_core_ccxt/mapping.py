"""ccxt's unified orders and trades as the host's types, and the cursor of "fills since".

Trade ids are unique per venue only together with the instrument (Binance numbers trades per
symbol), so a :class:`~bot_core.Fill`'s ``trade_id`` is ``<instrument>:<venue trade id>``.
Fees are booked in the quote asset: a fee the venue took in the base asset is valued at the
fill's price; a fee in a third asset (BNB) is not part of the fill's ``fee`` and is logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot_core import Fill, OrderStatus, OrderType, Side, TimeInForce, VenueOrder

__all__ = ["FillCursor", "fill_from_trade", "order_status", "venue_order"]

log = logging.getLogger("bot_core_ccxt")

_STATUS = {"closed": OrderStatus.FILLED, "canceled": OrderStatus.CANCELLED,
           "cancelled": OrderStatus.CANCELLED, "expired": OrderStatus.EXPIRED,
           "rejected": OrderStatus.REJECTED}


def order_status(status: str | None, filled: float) -> OrderStatus:
    """The host's status of a ccxt order status (``open`` with fills is partially filled)."""
    if status in _STATUS:
        return _STATUS[status]
    return OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.ACCEPTED


def _ns(timestamp_ms: Any) -> int:
    return int(timestamp_ms) * 1_000_000 if timestamp_ms is not None else time.time_ns()


def _float(value: Any) -> float:
    return float(value) if value is not None else 0.0


_TIF = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}


def venue_order(order: Mapping[str, Any], client_ids: Mapping[str, str]) -> VenueOrder:
    """The host's :class:`~bot_core.VenueOrder` of a ccxt order; ``client_ids`` maps venue
    client ids to ours (an id it lacks is kept as the venue has it)."""
    venue_cid = str(order.get("clientOrderId") or "")
    filled = _float(order.get("filled"))
    kind = OrderType.LIMIT if order.get("type") == "limit" else OrderType.MARKET
    price = order.get("price")
    return VenueOrder(
        client_order_id=client_ids.get(venue_cid, venue_cid),
        instrument=str(order.get("symbol") or ""),
        side=Side.BUY if order.get("side") == "buy" else Side.SELL,
        status=order_status(order.get("status"), filled), quantity=_float(order.get("amount")),
        filled_quantity=filled, average_price=_float(order.get("average")), order_type=kind,
        limit_price=float(price) if kind is OrderType.LIMIT and price is not None else None,
        time_in_force=_TIF.get(str(order.get("timeInForce")), TimeInForce.GTC),
        reduce_only=bool(order.get("reduceOnly")), venue_order_id=str(order.get("id") or ""),
        ts_ns=_ns(order.get("timestamp")))


def fill_from_trade(trade: Mapping[str, Any], *, venue: str, client_order_id: str,
                    base: str, quote: str, side: Side | None = None,
                    ts_ms: int | None = None) -> Fill:
    """The host's fill of a ccxt trade (``side`` and ``ts_ms`` when the trade lacks them, as the
    trades inside an order response do)."""
    price = _float(trade.get("price"))
    amount = _float(trade.get("amount"))
    fee = 0.0
    for item in trade.get("fees") or ([trade["fee"]] if trade.get("fee") else []):
        cost, currency = _float(item.get("cost")), item.get("currency")
        if currency == quote or currency is None:
            fee += cost
        elif currency == base:
            fee += cost * price
        elif cost:
            log.warning("venue %s: trade %s paid a fee of %s %s, not counted in the fill's fee "
                        "(only %s and %s fees are)", venue, trade.get("id"), cost, currency,
                        base, quote)
    trade_side = trade.get("side")
    resolved = side if trade_side not in ("buy", "sell") else (
        Side.BUY if trade_side == "buy" else Side.SELL)
    if resolved is None:
        raise ValueError(f"trade {trade.get('id')} has no side")
    return Fill(trade_id=f"{trade.get('symbol')}:{trade.get('id')}",
                client_order_id=client_order_id, venue=venue,
                instrument=str(trade.get("symbol")), side=resolved, quantity=amount,
                price=price, fee=fee,
                ts_ns=_ns(trade.get("timestamp") if trade.get("timestamp") is not None else ts_ms),
                liquidity=str(trade.get("takerOrMaker") or "taker"))


@dataclass(slots=True)
class FillCursor:
    """Where "fills since" stopped, per instrument: JSON-able for the state store.

    ``since_ms`` is the time of the last trade seen, ``last_id`` its venue trade id and
    ``ids_at_since`` every trade id seen at exactly ``since_ms`` (trades sharing a millisecond
    are not reported twice when the next query starts at it).
    """

    since_ms: dict[str, int] = field(default_factory=dict)
    last_id: dict[str, str] = field(default_factory=dict)
    ids_at_since: dict[str, list[str]] = field(default_factory=dict)

    def advance(self, instrument: str, trade_id: str, ts_ms: int) -> None:
        if ts_ms > self.since_ms.get(instrument, -1):
            self.since_ms[instrument] = ts_ms
            self.ids_at_since[instrument] = []
        if ts_ms == self.since_ms[instrument]:
            self.ids_at_since[instrument].append(trade_id)
        self.last_id[instrument] = trade_id

    def seen(self, instrument: str, trade_id: str, ts_ms: int) -> bool:
        if ts_ms < self.since_ms.get(instrument, -1):
            return True
        return trade_id in self.ids_at_since.get(instrument, ())

    def to_json(self) -> dict[str, Any]:
        return {"since_ms": dict(self.since_ms), "last_id": dict(self.last_id),
                "ids_at_since": {k: list(v) for k, v in self.ids_at_since.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FillCursor:
        return cls({k: int(v) for k, v in data.get("since_ms", {}).items()},
                   {k: str(v) for k, v in data.get("last_id", {}).items()},
                   {k: [str(i) for i in v] for k, v in data.get("ids_at_since", {}).items()})
