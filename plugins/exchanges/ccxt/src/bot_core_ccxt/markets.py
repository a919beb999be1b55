"""A venue's trading rules per instrument, from ccxt's markets, and the checks made before an
order is sent.

Rounding never makes an order bigger or its price worse than asked: amounts are cut down to
the venue's step, a buy's limit price down and a sell's up to the tick. An order that is too
small once rounded (below the minimum amount or the minimum notional) is refused here, with
the limit named, instead of being sent for the venue to refuse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from bot_core import Side

__all__ = ["MarketRules", "OrderCheck", "check_order", "rules_from_market"]


def _step(precision: Any, mode: int) -> Decimal | None:
    """The increment a precision stands for: ccxt gives a tick size (TICK_SIZE mode) or a
    number of decimals (DECIMAL_PLACES mode)."""
    from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE

    if precision is None:
        return None
    if mode == TICK_SIZE:
        return Decimal(repr(float(precision)))
    if mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(precision))
    return None


@dataclass(frozen=True, slots=True)
class MarketRules:
    """What the venue accepts for one instrument (None where the venue says nothing)."""

    instrument: str
    venue_symbol: str
    base: str
    quote: str
    active: bool
    amount_step: Decimal | None
    price_tick: Decimal | None
    min_amount: float | None
    max_amount: float | None
    min_notional: float | None
    min_price: float | None
    max_price: float | None

    def round_amount(self, quantity: float) -> float:
        """``quantity`` cut down to the amount step."""
        if self.amount_step is None or self.amount_step <= 0:
            return quantity
        steps = (Decimal(repr(quantity)) / self.amount_step).to_integral_value(ROUND_FLOOR)
        return float(steps * self.amount_step)

    def round_price(self, price: float, side: Side) -> float:
        """A limit price on the tick grid, never worse for us: buys down, sells up."""
        if self.price_tick is None or self.price_tick <= 0:
            return price
        rounding = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
        ticks = (Decimal(repr(price)) / self.price_tick).to_integral_value(rounding)
        return float(ticks * self.price_tick)


def rules_from_market(market: dict[str, Any], precision_mode: int) -> MarketRules:
    limits = market.get("limits") or {}
    precision = market.get("precision") or {}

    def limit(kind: str, bound: str) -> float | None:
        value = (limits.get(kind) or {}).get(bound)
        return float(value) if value is not None and float(value) > 0 else None

    return MarketRules(
        instrument=market["symbol"], venue_symbol=str(market.get("id", "")),
        base=market["base"], quote=market["quote"], active=market.get("active") is not False,
        amount_step=_step(precision.get("amount"), precision_mode),
        price_tick=_step(precision.get("price"), precision_mode),
        min_amount=limit("amount", "min"), max_amount=limit("amount", "max"),
        min_notional=limit("cost", "min"), min_price=limit("price", "min"),
        max_price=limit("price", "max"))


@dataclass(frozen=True, slots=True)
class OrderCheck:
    """The order as it will be sent, or why it is refused (``reason`` = ``code: details``)."""

    amount: float
    price: float | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


def check_order(rules: MarketRules, side: Side, quantity: float, limit_price: float | None,
                reference_price: float | None) -> OrderCheck:
    """Round an order to the venue's grid and enforce its minimums and maximums.

    :param reference_price: the price the notional of a market order is judged at (the touch
        it would take); a limit order uses its own price.
    """
    if not rules.active:
        return OrderCheck(quantity, limit_price, f"market_closed: {rules.instrument} is not "
                          "trading on the venue")
    amount = rules.round_amount(quantity)
    price = rules.round_price(limit_price, side) if limit_price is not None else None
    unit = rules.base
    if amount <= 0 or (rules.min_amount is not None and amount < rules.min_amount):
        return OrderCheck(amount, price, f"min_amount: quantity {quantity:g} {unit} rounds to "
                          f"{amount:g} at the venue's step {rules.amount_step}, below its minimum "
                          f"amount {rules.min_amount or 0:g} {unit}")
    if rules.max_amount is not None and amount > rules.max_amount:
        return OrderCheck(amount, price, f"max_amount: quantity {amount:g} {unit} exceeds the "
                          f"venue's maximum {rules.max_amount:g} {unit}")
    low, high = rules.min_price or 0.0, rules.max_price or math.inf
    if price is not None and (price <= 0 or not low <= price <= high):
        return OrderCheck(amount, price, f"price_limit: limit price {price:g} outside the "
                          f"venue's range [{low:g}, {high:g}]")
    judged_at = price if price is not None else reference_price
    if rules.min_notional is not None:
        if judged_at is None or not math.isfinite(judged_at) or judged_at <= 0:
            return OrderCheck(amount, price, f"min_notional: no price to judge the notional of "
                              f"this order against the venue's minimum {rules.min_notional:g} "
                              f"{rules.quote}")
        notional = amount * judged_at
        if notional < rules.min_notional:
            return OrderCheck(amount, price, f"min_notional: notional {notional:.8g} {rules.quote} "
                              f"({amount:.10g} x {judged_at:.10g}) is below the venue's minimum "
                              f"{rules.min_notional:g} {rules.quote}")
    return OrderCheck(amount, price)
