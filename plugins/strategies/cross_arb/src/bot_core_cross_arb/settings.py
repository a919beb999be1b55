"""Settings of the cross-exchange arbitrage strategy: every field with unit and range."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from bot_core.strategy import StrategySettings

__all__ = ["CrossArbSettings"]


class CrossArbSettings(StrategySettings):
    """Two-venue top-of-book arbitrage; see docs/strategies/cross_arb.md.

    "Venue A" and "venue B" are the first and second venue of the strategy's ``venues`` list.
    """

    taker_fee_bps_a: float = Field(
        5.0, ge=0, le=100,
        description="Taker fee on venue A (first listed venue), basis points of notional, "
        "[0, 100].",
    )
    taker_fee_bps_b: float = Field(
        5.0, ge=0, le=100,
        description="Taker fee on venue B (second listed venue), basis points, [0, 100].",
    )
    slippage_bps: float = Field(
        2.0, ge=0, le=100,
        description="Expected slippage of both legs together, basis points, [0, 100]. Each "
        "leg's limit price allows half of it beyond the quote.",
    )
    min_edge_bps: float = Field(
        5.0, ge=0, le=1000,
        description="Profit required beyond fees and slippage, basis points, [0, 1000].",
    )
    max_order_notional: float = Field(
        10_000.0, gt=0, le=1e9,
        description="Largest notional of one leg, quote currency, (0, 1e9].",
    )
    min_order_notional: float = Field(
        10.0, ge=0, le=1e6,
        description="Smaller legs (and imbalances) are not traded, quote currency, [0, 1e6].",
    )
    max_inventory_notional: float = Field(
        50_000.0, gt=0, le=1e10,
        description="Largest absolute base inventory per venue and instrument, valued at the "
        "mid price, quote currency, (0, 1e10].",
    )
    rebalance_threshold_pct: float = Field(
        50.0, ge=0, le=100,
        description="Rebalance a venue whose inventory exceeds this share of "
        "max_inventory_notional, percent, [0, 100].",
    )
    max_rebalance_cost_bps: float = Field(
        15.0, ge=0, le=1000,
        description="Rebalance only when crossing back costs at most this (spread + fees + "
        "slippage), basis points, [0, 1000].",
    )
    max_quote_age_ms: float = Field(
        2_000.0, ge=1, le=600_000,
        description="Largest time between the two venues' quotes for them to be compared, "
        "milliseconds, [1, 600000].",
    )
    leg_timeout_ms: float = Field(
        5_000.0, ge=1, le=600_000,
        description="A leg without a final report after this long is taken as final with what "
        "has filled, milliseconds, [1, 600000].",
    )
    leg_failure_action: Literal["hedge", "unwind"] = Field(
        "unwind",
        description="After a failed or partial leg: hedge (complete the missing leg at market "
        "on its venue) or unwind (reverse the excess on the venue that filled).",
    )
    max_hedge_attempts: int = Field(
        2, ge=0, le=10,
        description="Hedge orders tried before falling back to unwinding, [0, 10].",
    )
    max_unwind_attempts: int = Field(
        3, ge=1, le=10,
        description="Unwind orders tried before the instrument is halted for this strategy "
        "(fail closed), [1, 10].",
    )

    # A leg moves the bot's net position in the instrument until its pair fills, so one leg
    # must fit in the room the bar strategies leave under the preset's risk.max_position_pct
    # (with them, at most 95 % of it at the demo's 100,000 equity). Inventory per venue and
    # instrument counts twice in gross exposure (long on one venue, short on the other): four
    # inventories at the limit stay within what risk.max_total_position_pct leaves after the
    # bar strategies. See docs/strategies/cross_arb.md, "Defaults per preset".
    profile_defaults = {
        "conservative": {"min_edge_bps": 10.0, "max_order_notional": 2_000.0,
                         "max_inventory_notional": 5_000.0, "leg_failure_action": "unwind"},
        "balanced": {"min_edge_bps": 5.0, "max_order_notional": 3_000.0,
                     "max_inventory_notional": 10_000.0, "leg_failure_action": "hedge"},
        "aggressive": {"min_edge_bps": 2.0, "max_order_notional": 5_000.0,
                       "max_inventory_notional": 20_000.0, "leg_failure_action": "hedge"},
    }

    @model_validator(mode="after")
    def _consistent(self) -> CrossArbSettings:
        if self.min_order_notional > self.max_order_notional:
            raise ValueError(f"min_order_notional ({self.min_order_notional}) exceeds "
                             f"max_order_notional ({self.max_order_notional})")
        if self.max_order_notional > self.max_inventory_notional:
            raise ValueError(f"max_order_notional ({self.max_order_notional}) exceeds "
                             f"max_inventory_notional ({self.max_inventory_notional})")
        return self

    @property
    def threshold_bps(self) -> float:
        """Gross edge an opportunity must exceed: both fees + slippage + minimum edge."""
        return self.taker_fee_bps_a + self.taker_fee_bps_b + self.slippage_bps + self.min_edge_bps
