"""How many return periods a year holds, from the data's own timestamps.

One rule for every annualized figure: the backtest's Sharpe and Sortino ratios and a strategy's
annualized volatility (through :class:`bot_core.market.FeedSpec.periods_per_year`). A series of
timestamps holds ``(returns) / (years it covers)`` periods per year, where

* a year is 365.25 days;
* a return is the step between two consecutive timestamps, and the time covered is the sum of
  those steps, leaving out steps of a week or longer: a week without a row is a hole in the
  data (two datasets that do not follow each other, an outage), not the market's calendar.
  For bars of a week or longer (``1w``, ``1M``) a hole is a step of four typical steps or
  more (:func:`hole_ns`).

So the calendar comes with the data: 1-minute bars of a 24/7 market give 525,960 periods a
year, daily bars of a stock exchange about 252 (weekends and holidays have no rows), hourly FX
bars about 6,200 (closed at weekends). Over a few days the weekly pattern cannot show yet: five
weekday bars give 365.25 a year.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["HOLE_NS", "YEAR_NS", "YEAR_S", "hole_ns", "periods_per_year"]

YEAR_S = 365.25 * 86_400
"""A year in seconds (365.25 days)."""
YEAR_NS = YEAR_S * 1e9
"""A year in nanoseconds."""
HOLE_NS = 7 * 86_400 * 1_000_000_000
"""Steps at least this long (a week) are holes in the data, not part of its calendar (for bars
shorter than a week: see :func:`hole_ns`)."""
HOLE_STEPS = 4
"""For bars of a week or longer, steps of this many typical steps are holes."""


def hole_ns(steps_ns: np.ndarray) -> float:
    """The shortest step that is a hole in data with these steps: a week, or four typical
    (median) steps when that is longer (weekly and monthly bars)."""
    import numpy as np

    positive = steps_ns[steps_ns > 0]
    # the median only matters above a week / HOLE_STEPS: when no more than (n - 1) // 2 steps
    # are longer, the median is not either (and counting is cheaper than partitioning)
    longer = int(np.count_nonzero(positive > HOLE_NS / HOLE_STEPS))
    if not positive.size or longer <= (positive.size - 1) // 2:
        return float(HOLE_NS)
    return max(float(HOLE_NS), HOLE_STEPS * float(np.median(positive)))


def periods_per_year(ts_ns: np.ndarray) -> float:
    """Return periods per year of increasing UTC nanosecond timestamps (0.0 when fewer than two
    timestamps, or no step shorter than :data:`HOLE_NS`, leave nothing to count)."""
    import numpy as np

    ts = np.asarray(ts_ns, dtype=np.int64)
    if ts.shape[0] < 2:
        return 0.0
    steps = np.diff(ts)
    if steps.min() > 0 and steps.max() < HOLE_NS / HOLE_STEPS:  # no hole: every step counts
        return float(steps.shape[0]) * YEAR_NS / float(ts[-1] - ts[0])
    kept = steps[(steps > 0) & (steps < hole_ns(steps))]
    covered = float(kept.sum())
    return float(kept.shape[0]) * YEAR_NS / covered if covered > 0 else 0.0
