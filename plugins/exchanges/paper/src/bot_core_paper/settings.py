"""Settings of the paper venue: every cost and delay of the simulation, with units and ranges."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["PaperSettings"]


class PaperSettings(BaseModel):
    """How the simulated venue fills orders. Frozen; unknown fields are rejected.

    The defaults are those of a liquid crypto spot venue with a margin account: 2 bps maker,
    5 bps taker, 1 bp slippage, fills up to a quarter of each bar's volume. For bars whose
    volume is not tradable size (FX tick volume, data without volume), set ``volume_cap =
    false``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    maker_fee_bps: float = Field(
        2.0, ge=-100, le=1000,
        description="Fee on resting (maker) fills, basis points of notional, [-100, 1000]; "
        "negative values are rebates.",
    )
    taker_fee_bps: float = Field(
        5.0, ge=0, le=1000,
        description="Fee on aggressive (taker) fills, bps of notional, [0, 1000].",
    )
    slippage_bps: float = Field(
        1.0, ge=0, le=1000,
        description="Fixed adverse price move on every taker fill, bps of the reference price "
        "(bar open/close or quoted bid/ask), [0, 1000].",
    )
    volume_impact_bps: float = Field(
        0.0, ge=0, le=10_000,
        description="Extra adverse move for market impact, bps per 100% participation: a fill of "
        "10% of the bar's volume moves the price 0.1 x this, [0, 10000]. Bars only.",
    )
    participation_rate: float = Field(
        0.25, gt=0, le=1,
        description="Largest share of one bar's volume the venue fills across all orders on "
        "that bar, (0, 1]; the rest of an order waits for later bars (GTC) or is cancelled. "
        "Applies only with volume_cap = true.",
    )
    volume_cap: bool = Field(
        True,
        description="Bound the fills of each bar by participation_rate x the bar's volume. "
        "false: a bar fills any quantity, whatever its volume: for data whose volume is not "
        "tradable size (FX tick volume, bars without volume: 0 or NaN), where the cap would "
        "spread orders over many bars or fill nothing. volume_impact_bps still reads the "
        "bar's volume (a bar without volume counts as 100% participation): keep it 0 for such "
        "data. Quotes are always bounded by their quoted size.",
    )
    latency_ms: float = Field(
        0.0, ge=0, le=3_600_000,
        description="Delay between submit and the order reaching the book, milliseconds, "
        "[0, 3600000]. An order only fills against market data stamped at or after "
        "submit time + latency; with bars, the submit time is the deciding bar's close.",
    )
    fill_on_close: bool = Field(
        False,
        description="Fill market orders at the close of the bar they were decided on instead of "
        "the next bar's open. Optimistic (the close is known only once the bar is over); "
        "requires latency_ms = 0.",
    )
    account: Literal["margin", "spot"] = Field(
        "margin",
        description="margin: balances may go negative (borrowing, shorting) up to max_leverage; "
        "spot: buys need quote cash, sells need the base asset.",
    )
    max_leverage: float = Field(
        3.0, gt=0, le=100,
        description="Margin accounts: largest gross exposure / account equity after a fill, "
        "(0, 100]. Orders beyond it are rejected for insufficient balance.",
    )
    state_file: Path | None = Field(
        None,
        description="File in which the simulated exchange keeps its book (balances, orders, "
        "fills) across restarts of the bot, as a real exchange would. `bot-core run` sets it "
        "to <BOT_CORE_HOME>/state/<bot>/<mode>/venues/<venue>.sqlite; leave it unset. None: "
        "nothing is kept (backtests). An existing file wins over initial_balances.",
    )
    initial_balances: dict[str, float] = Field(
        default_factory=lambda: {"USDT": 100_000.0},
        description="Starting free balance per asset (asset -> amount, each >= 0).",
    )

    @field_validator("initial_balances")
    @classmethod
    def _finite_non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for asset, amount in value.items():
            if not asset or not asset.isalnum() or not asset.isupper():
                raise ValueError(f"asset {asset!r} must be upper-case letters and digits")
            if not math.isfinite(amount) or amount < 0:
                raise ValueError(f"balance of {asset} must be a finite number >= 0, got {amount}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PaperSettings:
        if self.fill_on_close and self.latency_ms > 0:
            raise ValueError(
                f"fill_on_close fills at the deciding bar's close, which contradicts "
                f"latency_ms = {self.latency_ms:g}; set one of them only"
            )
        return self
