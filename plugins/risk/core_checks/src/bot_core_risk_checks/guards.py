"""Input-quality gates: ``fat_finger`` (price band and notional caps) and ``stale_data``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from bot_core import OrderIntent, OrderType, RiskCheck, RiskContext, Verdict, is_finite_positive
from bot_core_risk_checks._common import (
    OK,
    finite_positive,
    missing,
    reducible_quantities,
    reducible_quantity,
)

if TYPE_CHECKING:
    import numpy as np

    from bot_core import OrderBatch

__all__ = ["FatFingerCheck", "FatFingerSettings", "StaleDataCheck", "StaleDataSettings"]


class FatFingerSettings(BaseModel):
    """Settings of ``fat_finger``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_price_deviation_pct: float = Field(
        10.0, gt=0, le=100,
        description="A limit price further than this from the last price is rejected, % (0-100].",
    )
    max_notional_pct_of_equity: float = Field(
        100.0, gt=0, le=10_000,
        description="One order's notional above this share of equity is rejected, % (0-10000].",
    )
    max_notional: float | None = Field(
        None, gt=0,
        description="Absolute cap on one order's notional, quote currency (> 0); none by default.",
    )


class FatFingerCheck(RiskCheck[FatFingerSettings]):
    """Rejects (never shrinks: a fat finger is a mistake, not a size to trim) an order whose
    limit price is too far from the last price, or whose notional is over a cap. The notional
    caps do not apply to orders that only reduce the open position at their venue."""

    id: ClassVar[str] = "fat_finger"
    Settings: ClassVar[type[BaseModel]] = FatFingerSettings

    def __init__(self, settings: FatFingerSettings | None = None) -> None:
        super().__init__(settings)
        s = self.settings
        self._band = s.max_price_deviation_pct / 100.0
        self._equity_share = s.max_notional_pct_of_equity / 100.0
        self._max_notional = s.max_notional if s.max_notional is not None else math.inf

    def check(self, intent: OrderIntent, ctx: RiskContext) -> Verdict:
        last = ctx.last_price(intent.instrument, intent.venue)
        if not 0.0 < last < math.inf:  # also False for NaN
            return missing("price", intent)
        price = last
        if intent.order_type is OrderType.LIMIT:
            limit = intent.limit_price
            if limit is None or not is_finite_positive(limit):
                return Verdict.reject("invalid_limit_price", f"limit price {limit!r}")
            if abs(limit - last) > self._band * last:
                return Verdict.reject(
                    "fat_finger_price",
                    f"limit {limit:g} is more than {self._band * 100:g}% from the last price "
                    f"{last:g}")
            price = max(limit, last)
        qty = intent.quantity
        if reducible_quantity(intent, ctx) >= qty:
            return OK
        notional = qty * price
        if notional > self._max_notional:
            return Verdict.reject("fat_finger_notional",
                                  f"notional {notional:,.2f} is over the cap "
                                  f"{self._max_notional:,.2f}")
        equity = ctx.equity
        if not is_finite_positive(equity):
            return missing("equity", intent)
        if notional > self._equity_share * equity:
            return Verdict.reject(
                "fat_finger_notional",
                f"notional {notional:,.2f} is over {self._equity_share * 100:g}% of equity "
                f"{equity:,.2f}")
        return OK

    def check_batch(self, batch: OrderBatch) -> np.ndarray:
        # market orders only (an OrderBatch has no limit prices): the notional caps alone
        import numpy as np

        last, qty, equity = batch.price, batch.quantity, batch.equity
        with np.errstate(all="ignore"):
            notional = qty * last
            over = ((notional > self._max_notional) | ~finite_positive(equity)
                    | (notional > self._equity_share * equity))
        approved: np.ndarray = finite_positive(last) & ((reducible_quantities(batch) >= qty) | ~over)
        return approved


class StaleDataSettings(BaseModel):
    """Settings of ``stale_data``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_age_s: float = Field(
        300.0, gt=0, le=86_400 * 7,
        description="Market data older than this (event time) blocks orders, seconds (0-604800]. "
        "Set it above the bar length for bars longer than 5 minutes.",
    )


class StaleDataCheck(RiskCheck[StaleDataSettings]):
    """Rejects orders on instruments whose market data at the venue (or, failing that, anywhere)
    is older than ``max_age_s`` or never arrived: a price that old cannot size an order."""

    id: ClassVar[str] = "stale_data"
    Settings: ClassVar[type[BaseModel]] = StaleDataSettings

    def __init__(self, settings: StaleDataSettings | None = None) -> None:
        super().__init__(settings)
        self._max_age_ns = int(self.settings.max_age_s * 1e9)

    def check(self, intent: OrderIntent, ctx: RiskContext) -> Verdict:
        last_ns = ctx.last_update_ns(intent.instrument, intent.venue)
        if last_ns <= 0:
            return Verdict.reject("no_market_data",
                                  f"no market data for {intent.instrument} on {intent.venue} yet")
        age_ns = ctx.now_ns - last_ns
        if age_ns > self._max_age_ns:
            return Verdict.reject(
                "stale_market_data",
                f"market data for {intent.instrument} on {intent.venue} is {age_ns / 1e9:.1f} s "
                f"old (max {self._max_age_ns / 1e9:g} s)")
        return OK

    def check_batch(self, batch: OrderBatch) -> np.ndarray:
        last_ns = batch.last_update_ns
        approved: np.ndarray = (last_ns > 0) & (batch.now_ns - last_ns <= self._max_age_ns)
        return approved
