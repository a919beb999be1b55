"""Walk-forward: choose each window's parameters on its training period, judge them on its test.

For every window (:mod:`bot_core.sweep.windows`) the grid runs on the training period; the
combination with the best ``--metric`` there (ties: the first in grid order; failed runs never
win) runs alone on the test period, which it has never seen. The test periods' equity curves,
each starting from the initial equity, are chained into one out-of-sample curve: every period
continues from where the previous one ended, so the stitched curve is the equity of a trader
who re-optimised at every window (its return is the product of the periods' returns).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot_core.sweep.results import METRICS

__all__ = ["WindowOutcome", "best_params", "stitch"]


@dataclass(slots=True)
class WindowOutcome:
    """One window's choice and how it did."""

    window: int
    params: dict[str, Any] | None
    """The best training parameters (None: every training run failed)."""
    train: Mapping[str, Any] | None
    """The best training run's row."""
    test: Mapping[str, Any] | None = None
    """The test run's row (None until it ran, or when there was nothing to test)."""


def best_params(rows: Sequence[Mapping[str, Any]], metric: str
                ) -> tuple[dict[str, Any], Mapping[str, Any]] | None:
    """The parameters (and row) of the best successful run of ``rows``, in their order."""
    higher = METRICS[metric]
    best: Mapping[str, Any] | None = None
    for row in rows:
        value = row.get(metric)
        if row.get("error") or value is None:
            continue
        if best is None or (value > best[metric] if higher else value < best[metric]):
            best = row
    if best is None:
        return None
    import json

    return json.loads(best["params"]), best


def stitch(curves: Sequence[tuple[np.ndarray, np.ndarray]], initial_equity: float
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chain test-period curves (each from ``initial_equity``) into one.

    :returns: (times, stitched equity, index of the curve each point comes from)."""
    times, values, which = [], [], []
    level = 1.0
    for n, (ts, equity) in enumerate(curves):
        if len(ts) == 0:
            continue
        times.append(np.asarray(ts, dtype=np.int64))
        values.append(np.asarray(equity, dtype=np.float64) * level)
        which.append(np.full(len(ts), n, dtype=np.int64))
        level *= float(equity[-1]) / initial_equity
    if not times:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    return np.concatenate(times), np.concatenate(values), np.concatenate(which)
