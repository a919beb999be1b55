"""Performance metrics of a backtest, from its equity curve and its round-trip trades.

Conventions (stated because every tool picks different ones):

* returns are simple per-bar returns of the equity curve; Sharpe and Sortino are annualized with
  the number of bars in a 365.25-day year (crypto trades every day), risk-free rate 0;
* Sortino's downside deviation is the root mean square of the negative returns over *all* bars;
* max drawdown is the largest fall from a running equity peak, as a positive fraction;
* a ratio whose denominator is zero (flat equity, no losing bar) is reported as 0.0, so JSON
  output never holds NaN or infinity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bot_core.backtest.trades import RoundTrip

__all__ = ["Metrics", "compute_metrics", "drawdown_series", "periods_per_year"]

_NS_PER_YEAR = 365.25 * 86_400 * 1e9


@dataclass(frozen=True, slots=True)
class Metrics:
    initial_equity: float
    final_equity: float
    total_return: float
    """final / initial - 1."""
    cagr: float
    """Compound annual growth rate over the curve's time span."""
    sharpe: float
    sortino: float
    max_drawdown: float
    """Largest peak-to-trough fall, fraction of the peak (0.25 = 25 %)."""
    win_rate: float
    """Share of closed round trips with a positive net PnL (0 when there are none)."""
    exposure: float
    """Share of bars with an open position."""
    turnover: float
    """Traded notional / mean equity."""
    fees: float
    """Fees paid, quote currency."""
    n_trades: int
    """Closed round trips."""

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def periods_per_year(ts_ns: np.ndarray) -> float:
    """Bars per year from the median spacing of the timestamps (0 when it cannot be known)."""
    if len(ts_ns) < 2:
        return 0.0
    step = float(np.median(np.diff(ts_ns.astype(np.int64))))
    return _NS_PER_YEAR / step if step > 0 else 0.0


def drawdown_series(equity: np.ndarray) -> np.ndarray:
    """Drawdown from the running peak at every bar, as a positive fraction."""
    if len(equity) == 0:
        return np.zeros(0)
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, 1.0 - equity / peak, 0.0)
    return np.asarray(dd, dtype=np.float64)


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else 0.0


def compute_metrics(
    ts_ns: np.ndarray,
    equity: np.ndarray,
    *,
    initial_equity: float,
    trades: Sequence[RoundTrip] = (),
    fees: float = 0.0,
    traded_notional: float = 0.0,
    in_market: np.ndarray | None = None,
) -> Metrics:
    """Metrics of one run.

    :param ts_ns: bar timestamps (UTC ns), increasing.
    :param equity: equity after each bar, quote currency (same length).
    :param initial_equity: equity before the first bar.
    :param trades: round trips; only closed ones count for the win rate.
    :param fees: total fees paid.
    :param traded_notional: sum of |quantity x price| over all fills.
    :param in_market: per bar, whether any position was open (for ``exposure``).
    """
    equity = np.asarray(equity, dtype=np.float64)
    final = float(equity[-1]) if len(equity) else float(initial_equity)
    total_return = final / initial_equity - 1.0
    ts = np.asarray(ts_ns, dtype=np.int64)
    years = (float(ts[-1] - ts[0]) / _NS_PER_YEAR) if len(ts) > 1 else 0.0
    if years > 0 and final > 0:
        cagr = (final / initial_equity) ** (1.0 / years) - 1.0
    else:
        cagr = -1.0 if final <= 0 else 0.0
    path = np.concatenate(([initial_equity], equity))
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.diff(path) / path[:-1]
    returns = returns[np.isfinite(returns)]
    ppy = periods_per_year(ts)
    sharpe = sortino = 0.0
    if len(returns) > 1 and ppy > 0:
        mean = float(returns.mean())
        std = float(returns.std(ddof=1))
        sharpe = mean / std * math.sqrt(ppy) if std > 0 else 0.0
        downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
        sortino = mean / downside * math.sqrt(ppy) if downside > 0 else 0.0
    closed = [t for t in trades if t.exit_ns is not None]
    wins = sum(1 for t in closed if t.pnl > 0)
    mean_equity = float(np.mean(path)) if len(path) else initial_equity
    exposure = float(np.mean(in_market)) if in_market is not None and len(in_market) else 0.0
    return Metrics(
        initial_equity=float(initial_equity),
        final_equity=final,
        total_return=_finite(total_return),
        cagr=_finite(cagr),
        sharpe=_finite(sharpe),
        sortino=_finite(sortino),
        max_drawdown=_finite(float(drawdown_series(path).max()) if len(path) else 0.0),
        win_rate=wins / len(closed) if closed else 0.0,
        exposure=exposure,
        turnover=_finite(traded_notional / mean_equity) if mean_equity > 0 else 0.0,
        fees=float(fees),
        n_trades=len(closed),
    )
