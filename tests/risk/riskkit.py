"""Shared builders for the risk, portfolio and pipeline tests (real components only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot_core.config import BotConfig, resolve_config
from bot_core.orders import Fill, OrderIntent, OrderType, Side

T0 = 1_700_000_000 * 1_000_000_000
"""2023-11-14 22:13:20 UTC, in nanoseconds."""
SECOND = 1_000_000_000
MINUTE = 60 * SECOND


def make_config(*, timezone: str = "UTC", day_start: dt.time = dt.time(0, 0),
                checks: list[str] | None = None, check_settings: dict[str, Any] | None = None,
                initial_equity: float = 100_000.0, **risk: Any) -> BotConfig:
    """The balanced preset with overrides, validated like a user's config."""
    data = resolve_config(preset="balanced", universe="demo", environ={}).config.model_dump(mode="python")
    data["runtime"].update(timezone=timezone, trading_day_start=day_start,
                           initial_equity=initial_equity)
    data["risk"].update(risk)
    if checks is not None:
        data["risk"]["checks"] = checks
    if check_settings is not None:
        data["risk"]["check_settings"] = check_settings
    return BotConfig.model_validate(data)


def intent(side: Side, qty: float, *, cid: str, strategy: str = "s1", venue: str = "venue_a",
           instrument: str = "BTC/USDT", reduce_only: bool = False,
           limit: float | None = None) -> OrderIntent:
    return OrderIntent(strategy, venue, instrument, side, qty, cid,
                       order_type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
                       limit_price=limit, reduce_only=reduce_only)


def fill(side: Side, qty: float, price: float, *, tid: str, strategy: str = "s1",
         venue: str = "venue_a", instrument: str = "BTC/USDT", fee: float = 0.0,
         ts: int = T0, cid: str = "") -> Fill:
    return Fill(tid, cid or f"c-{tid}", venue, instrument, side, qty, price, fee, ts,
                strategy_id=strategy)
