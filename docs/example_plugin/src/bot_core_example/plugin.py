"""Entry-point module of the example plugin: declares the API it supports and its hooks."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

import bot_core
from bot_core import OrderIntent, RiskCheck, RiskContext, Verdict

BOT_CORE_API = ">=1.0,<2"


class MaxOrderQuantitySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_quantity: float = Field(1000.0, gt=0, description="Largest order quantity, base units (>0).")


class MaxOrderQuantity(RiskCheck):
    """Reduce any order above ``max_quantity`` to it."""

    id = "max_order_quantity"
    Settings = MaxOrderQuantitySettings

    def check(self, intent: OrderIntent, ctx: RiskContext) -> Verdict:
        limit = self.settings.max_quantity  # type: ignore[attr-defined]
        if not intent.quantity <= limit:  # also rejects NaN
            if intent.quantity != intent.quantity:
                return Verdict.reject("invalid_quantity", "quantity is NaN")
            return Verdict.reduce(limit, "max_order_quantity", f"capped at {limit:g}")
        return Verdict.approve()


@bot_core.hookimpl
def bot_core_register_risk_checks(register: Callable[[type[RiskCheck]], None]) -> None:
    register(MaxOrderQuantity)
