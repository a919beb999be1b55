"""Loss gates per order: ``daily_loss`` and ``drawdown``.

The engine itself switches the trading state when a limit is hit (HALTED for the daily loss,
REDUCING for the drawdown) on market data and fills. These checks close the gap in between: a
loss that builds up between two market events (fees, a fill far from the mark) stops new risk
at the very next order. Past the limit, only the part of an order that reduces the open position
at its venue passes; the rest is cut (or the order rejected).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from bot_core import OrderIntent, RiskCheck, RiskContext, Verdict
from bot_core_risk_checks._common import (
    OK,
    finite_positive,
    missing,
    reducible_quantities,
    reducible_quantity,
    verdict_for,
)

if TYPE_CHECKING:
    import numpy as np

    from bot_core import OrderBatch

__all__ = ["DailyLossCheck", "DrawdownCheck"]

_TOLERANCE_PCT = 1e-9
_INF = math.inf


def _only_reducing(intent: OrderIntent, ctx: RiskContext, reason: str, detail: str) -> Verdict:
    return verdict_for(reducible_quantity(intent, ctx), intent, reason, detail)


def _within_limit_batch(batch: OrderBatch, reference: np.ndarray, limit: float) -> np.ndarray:
    """The batch form of both gates: ``reference`` valid, and the loss from it below the limit
    or the order reducing in full."""
    import numpy as np

    equity = batch.equity
    with np.errstate(all="ignore"):
        loss_pct = (reference - equity) / reference * 100.0
    below = loss_pct < limit - _TOLERANCE_PCT
    reducing = reducible_quantities(batch) >= batch.quantity
    approved: np.ndarray = finite_positive(reference) & finite_positive(equity) & (below | reducing)
    return approved


class DailyLossCheck(RiskCheck):
    """Loss since the start of the trading day at or beyond ``risk.daily_loss_limit_pct``:
    no new risk until the next trading day."""

    id: ClassVar[str] = "daily_loss"

    def check(self, intent: OrderIntent, ctx: RiskContext) -> Verdict:
        start, equity = ctx.day_start_equity, ctx.equity
        if not (0.0 < start < _INF and 0.0 < equity < _INF):  # also False for NaN
            return missing("equity", intent)
        loss_pct = (start - equity) / start * 100.0
        limit = ctx.limits.daily_loss_limit_pct
        if loss_pct < limit - _TOLERANCE_PCT:
            return OK
        return _only_reducing(intent, ctx, "daily_loss_limit",
                              f"down {loss_pct:.2f}% today (limit {limit:g}%): only reducing "
                              "orders until the next trading day")

    def check_batch(self, batch: OrderBatch) -> np.ndarray:
        return _within_limit_batch(batch, batch.day_start_equity,
                                   batch.limits.daily_loss_limit_pct)


class DrawdownCheck(RiskCheck):
    """Drawdown from the equity peak at or beyond ``risk.drawdown_liquidation_pct``: only
    reducing orders."""

    id: ClassVar[str] = "drawdown"

    def check(self, intent: OrderIntent, ctx: RiskContext) -> Verdict:
        peak, equity = ctx.equity_peak, ctx.equity
        if not (0.0 < peak < _INF and 0.0 < equity < _INF):  # also False for NaN
            return missing("equity", intent)
        drawdown_pct = (peak - equity) / peak * 100.0
        limit = ctx.limits.drawdown_liquidation_pct
        if drawdown_pct < limit - _TOLERANCE_PCT:
            return OK
        return _only_reducing(intent, ctx, "drawdown_limit",
                              f"drawdown {drawdown_pct:.2f}% from the peak (limit {limit:g}%): "
                              "only reducing orders")

    def check_batch(self, batch: OrderBatch) -> np.ndarray:
        return _within_limit_batch(batch, batch.equity_peak,
                                   batch.limits.drawdown_liquidation_pct)
