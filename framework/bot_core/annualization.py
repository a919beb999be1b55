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

__all__ = ["HOLE_NS", "YEAR_NS", "YEAR_S", "hole_ns", "per_year", "periods_per_year",
           "return_periods"]

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


def return_periods(ts_ns: np.ndarray) -> tuple[int, float]:
    """``(returns, nanoseconds they cover)`` of increasing UTC nanosecond timestamps: the steps
    shorter than a hole (:func:`hole_ns`), and their sum."""
    import numpy as np

    ts = np.asarray(ts_ns, dtype=np.int64)
    if ts.shape[0] < 2:
        return 0, 0.0
    if _no_hole(ts):  # every step counts
        return int(ts.shape[0] - 1), float(ts[-1] - ts[0])
    steps = np.diff(ts)
    kept = steps[(steps > 0) & (steps < hole_ns(steps))]
    return int(kept.shape[0]), float(kept.sum())


_BLOCK = 1 << 16
"""Steps per block of :func:`_no_hole` (its temporaries stay small)."""


def _no_hole(ts: np.ndarray) -> bool:
    """True when every step is positive and shorter than any hole can be (``HOLE_NS /
    HOLE_STEPS``), looked at a block at a time: no temporary the length of the series."""
    import numpy as np

    limit = HOLE_NS / HOLE_STEPS
    for lo in range(0, ts.shape[0] - 1, _BLOCK):
        steps = np.diff(ts[lo:lo + _BLOCK + 1])
        if steps.min() <= 0 or steps.max() >= limit:
            return False
    return True


def per_year(returns: int, covered_ns: float) -> float:
    """Return periods a year from :func:`return_periods` (0.0 when nothing is covered)."""
    return float(returns) * YEAR_NS / covered_ns if covered_ns > 0 else 0.0


def periods_per_year(ts_ns: np.ndarray) -> float:
    """Return periods per year of increasing UTC nanosecond timestamps (0.0 when fewer than two
    timestamps, or no step shorter than :data:`HOLE_NS`, leave nothing to count)."""
    return per_year(*return_periods(ts_ns))
