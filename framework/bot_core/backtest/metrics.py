"""Performance metrics of a backtest, from its equity curve and its round-trip trades.

Conventions (stated because every tool picks different ones):

* returns are simple returns of the equity curve, sampled at every step when all datasets of
  the run have one bar length, else at the close of every trading day (``runtime.timezone``,
  ``runtime.trading_day_start``) that has data: a daily stock and an hourly FX dataset give
  daily returns (:func:`return_sampling`);
* Sharpe and Sortino are annualized with the square root of the returns a year holds,
  observed from the data's own calendar (:func:`bot_core.annualization.periods_per_year`: ~252
  for a stock exchange's daily bars, 525,960 for 1-minute bars around the clock), risk-free
  rate 0; the result states it (:class:`Annualization`);
* Sortino's downside deviation is the root mean square of the negative returns over *all* bars;
* max drawdown is the largest fall from a running equity peak, as a positive fraction;
* a ratio whose denominator is zero (flat equity, no losing bar) is reported as 0.0, so JSON
  output never holds NaN or infinity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from bot_core.annualization import YEAR_NS, per_year, periods_per_year, return_periods

if TYPE_CHECKING:
    from bot_core.backtest.trades import RoundTrip
    from bot_core.market import FeedSpec
    from bot_core.risk.tradingday import TradingCalendar

__all__ = ["Annualization", "CurveMetrics", "Metrics", "ReturnSampling", "compute_metrics",
           "curve_metrics", "drawdown_series", "periods_per_year", "return_sampling"]

_NS_PER_YEAR = YEAR_NS


@dataclass(frozen=True, slots=True)
class ReturnSampling:
    """Which returns of the equity curve the ratios are computed from."""

    every: Literal["bar", "day"] = "bar"
    """``bar``: every step of the curve; ``day``: the last step of every trading day."""
    why: str = ""
    """What was sampled, in words (the bar length, or why daily)."""
    calendar: TradingCalendar | None = None
    """Trading days of ``day`` sampling (default: UTC days)."""


@dataclass(frozen=True, slots=True)
class Annualization:
    """How Sharpe and Sortino were annualized (the result JSON's ``annualization``)."""

    periods_per_year: float
    """Returns a year, observed from the data's own calendar."""
    returns: Literal["bar", "day"]
    """Returns of every step of the equity curve, or of every trading day."""
    basis: str
    """In words: what was counted over how long."""

    def as_dict(self) -> dict[str, float | str]:
        return {"periods_per_year": self.periods_per_year, "returns": self.returns,
                "basis": self.basis}


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
    annualization: Annualization | None = None
    """How ``sharpe`` and ``sortino`` were annualized."""

    def as_dict(self) -> dict[str, float | int]:
        """The figures (``annualization`` is reported on its own: :meth:`Annualization.as_dict`)."""
        return {k: v for k, v in asdict(self).items() if k != "annualization"}


def return_sampling(feeds: Sequence[FeedSpec], calendar: TradingCalendar | None = None
                    ) -> ReturnSampling:
    """Every step of the equity curve when every feed has the same bar length (its steps are
    then that length apart, but for the data's own pauses); else, or when a feed has no fixed
    bar length (irregular quotes), the close of every trading day of ``calendar``."""
    lengths = {f.bar_seconds for f in feeds}
    if len(lengths) == 1 and None not in lengths:
        spec = feeds[0]
        return ReturnSampling("bar", f"every {spec.timeframe or f'{spec.bar_seconds:g} s'} bar")
    kinds = sorted({f.timeframe or "irregular" for f in feeds})
    return ReturnSampling("day", f"daily, because the datasets' bar lengths differ "
                          f"({', '.join(kinds)})", calendar)


def _day_closes(ts: np.ndarray, calendar: TradingCalendar | None) -> np.ndarray:
    """Index of the last step of every trading day that has one."""
    if calendar is None:
        from bot_core.risk.tradingday import TradingCalendar

        calendar = TradingCalendar()
    day = calendar.day_of(int(ts[0]))
    boundaries = []
    boundary = calendar.next_boundary_ns(day)
    last = int(ts[-1])
    while boundary <= last:
        boundaries.append(boundary)
        day = calendar.day_of(int(ts[int(np.searchsorted(ts, boundary, side="left"))]))
        boundary = calendar.next_boundary_ns(day)
    day_of_step = np.searchsorted(np.asarray(boundaries, dtype=np.int64), ts, side="right")
    closes: np.ndarray = np.flatnonzero(np.diff(day_of_step, append=day_of_step[-1] + 1))
    return closes


def _sampled(ts: np.ndarray, equity: np.ndarray, sampling: ReturnSampling
             ) -> tuple[np.ndarray, np.ndarray]:
    if sampling.every == "bar" or len(ts) == 0:
        return ts, equity
    closes = _day_closes(ts, sampling.calendar)
    return ts[closes], equity[closes]


def drawdown_series(equity: np.ndarray) -> np.ndarray:
    """Drawdown from the running peak at every bar, as a positive fraction
    (:func:`bot_core.backtest.curve.drawdowns`)."""
    from bot_core.backtest.curve import drawdowns  # numba's import only when it is needed

    return drawdowns(np.ascontiguousarray(equity, dtype=np.float64))


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else 0.0


@dataclass(frozen=True, slots=True)
class CurveMetrics:
    """The metrics read from the equity curve alone (:func:`curve_metrics`)."""

    final_equity: float
    total_return: float
    cagr: float
    sharpe: float
    sortino: float
    max_drawdown: float
    mean_equity: float
    """The mean of the curve, the initial equity included (turnover's denominator)."""
    annualization: Annualization


def curve_metrics(ts_ns: np.ndarray, equity: np.ndarray, *, initial_equity: float,
                  sampling: ReturnSampling | None = None) -> CurveMetrics:
    """The metrics of :func:`compute_metrics` that need only the equity curve (the compiled
    replay computes them on a second thread while it judges its orders)."""
    equity = np.ascontiguousarray(equity, dtype=np.float64)
    final = float(equity[-1]) if len(equity) else float(initial_equity)
    total_return = final / initial_equity - 1.0
    ts = np.asarray(ts_ns, dtype=np.int64)
    years = (float(ts[-1] - ts[0]) / _NS_PER_YEAR) if len(ts) > 1 else 0.0
    if years > 0 and final > 0:
        try:
            cagr = (final / initial_equity) ** (1.0 / years) - 1.0
        except OverflowError:  # a gain over hours, compounded for a year: beyond a float
            cagr = math.inf
    else:
        cagr = -1.0 if final <= 0 else 0.0
    sampling = sampling or ReturnSampling()
    sampled_ts, sampled_equity = _sampled(ts, equity, sampling)
    from bot_core.backtest.curve import max_drawdown, return_moments  # numba: when needed

    # the curve starts at the initial equity: returns and drawdowns are taken from there
    count, mean, std, downside = return_moments(float(initial_equity), sampled_equity)
    returns, covered = return_periods(sampled_ts)
    ppy = per_year(returns, covered)
    sharpe = sortino = 0.0
    if count > 1 and ppy > 0:
        sharpe = mean / std * math.sqrt(ppy) if std > 0 else 0.0
        sortino = mean / downside * math.sqrt(ppy) if downside > 0 else 0.0
    return CurveMetrics(
        final_equity=final, total_return=_finite(total_return), cagr=_finite(cagr),
        sharpe=_finite(sharpe), sortino=_finite(sortino),
        max_drawdown=_finite(max_drawdown(float(initial_equity), equity)),
        mean_equity=(float(initial_equity) + float(equity.sum())) / (len(equity) + 1),
        annualization=_annualization(returns, ppy, sampling))


def compute_metrics(
    ts_ns: np.ndarray,
    equity: np.ndarray,
    *,
    initial_equity: float,
    trades: Sequence[RoundTrip] = (),
    fees: float = 0.0,
    traded_notional: float = 0.0,
    in_market: np.ndarray | None = None,
    sampling: ReturnSampling | None = None,
    curve: CurveMetrics | None = None,
) -> Metrics:
    """Metrics of one run.

    :param ts_ns: bar timestamps (UTC ns), increasing.
    :param equity: equity after each bar, quote currency (same length).
    :param initial_equity: equity before the first bar.
    :param trades: round trips; only closed ones count for the win rate.
    :param fees: total fees paid.
    :param traded_notional: sum of |quantity x price| over all fills.
    :param in_market: per bar, whether any position was open (for ``exposure``).
    :param sampling: which returns Sharpe and Sortino are computed from (default: every step;
        see :func:`return_sampling`).
    :param curve: :func:`curve_metrics` of the same curve, when already computed.
    """
    from bot_core.backtest.trades import RoundTrips  # numba's import only when it is needed

    if curve is None:
        curve = curve_metrics(ts_ns, equity, initial_equity=initial_equity, sampling=sampling)
    closed_pnl = RoundTrips.of(trades).closed_pnl()
    wins = int(np.count_nonzero(closed_pnl > 0))
    exposure = float(np.mean(in_market)) if in_market is not None and len(in_market) else 0.0
    mean_equity = curve.mean_equity
    return Metrics(
        initial_equity=float(initial_equity),
        final_equity=curve.final_equity,
        total_return=curve.total_return,
        cagr=curve.cagr,
        sharpe=curve.sharpe,
        sortino=curve.sortino,
        max_drawdown=curve.max_drawdown,
        win_rate=wins / len(closed_pnl) if len(closed_pnl) else 0.0,
        exposure=exposure,
        turnover=_finite(traded_notional / mean_equity) if mean_equity > 0 else 0.0,
        fees=float(fees),
        n_trades=len(closed_pnl),
        annualization=curve.annualization,
    )


def _annualization(returns: int, ppy: float, sampling: ReturnSampling) -> Annualization:
    if ppy <= 0:
        return Annualization(0.0, sampling.every, f"{sampling.why or 'every step'}: too few "
                             "returns to observe a rate (Sharpe and Sortino are 0)")
    years = returns / ppy
    return Annualization(ppy, sampling.every, f"{sampling.why or 'every step'}: {ppy:,.2f} "
                         f"returns a year observed in the data ({returns:,} over {years:.2f} "
                         "years)")
