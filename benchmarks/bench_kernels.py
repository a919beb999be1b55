"""Benchmark of the signal kernels of :mod:`bot_core.kernels` (not a test).

Each kernel runs on the same 10M float64 points as the pandas expression a user would write
for it and as a numpy copy of the same 80 MB, all measured in this run (best of several
repetitions, after warming the JIT), and prints the ratios:

* ``vs pandas``: pandas time / kernel time (target: >= 20x faster);
* ``vs copy``: kernel time / copy time (target: <= 3x; a copy is the floor of any pass that
  reads and writes the array).

Usage::

    python benchmarks/bench_kernels.py [--points N] [--window W] [--repeat R]

The figures recorded in docs/performance.md ("Signal kernels") come from this script.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from numba import njit

from bot_core.kernels import (
    alpha_from_halflife,
    ewma_vol,
    rolling_mean_std,
    rolling_vol,
    rolling_zscore,
)


@njit(cache=True)
def _running_sum(x: np.ndarray) -> np.ndarray:
    """The simplest sequential kernel: one dependent addition per element (a floor for any
    scan whose state carries from one bar to the next)."""
    out = np.empty_like(x)
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i]
        out[i] = s
    return out


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Fastest wall time of ``repeat`` runs, seconds (the least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n, w, rep = args.points, args.window, args.repeat

    rng = np.random.default_rng(0)
    prices = 60_000.0 * np.exp(np.cumsum(rng.normal(0.0, 5e-4, n)))
    series = pd.Series(prices)
    alpha = alpha_from_halflife(60)

    cases: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        ("rolling_zscore", lambda: rolling_zscore(prices, w),
         lambda: (series - series.rolling(w).mean()) / series.rolling(w).std()),
        ("rolling_mean_std", lambda: rolling_mean_std(prices, w),
         lambda: (series.rolling(w).mean(), series.rolling(w).std())),
        ("rolling_vol (log)", lambda: rolling_vol(prices, w),
         lambda: np.log(series).diff().rolling(w).std()),
        ("rolling_vol (simple)", lambda: rolling_vol(prices, w, log_returns=False),
         lambda: series.pct_change().rolling(w).std()),
        ("ewma_vol (log)", lambda: ewma_vol(prices, alpha),
         lambda: np.sqrt((np.log(series).diff() ** 2).ewm(alpha=alpha).mean())),
        ("ewma_vol (simple)", lambda: ewma_vol(prices, alpha, log_returns=False),
         lambda: np.sqrt((series.pct_change() ** 2).ewm(alpha=alpha).mean())),
    ]

    # warm the JIT (compile or load the cache) outside the timings
    small = prices[:1000]
    rolling_zscore(small, w)
    rolling_mean_std(small, w)
    rolling_vol(small, w)
    rolling_vol(small, w, log_returns=False)
    ewma_vol(small, alpha)
    ewma_vol(small, alpha, log_returns=False)

    print(f"bot-core signal kernels: {n:,} points, window {w}, best of {rep}; "
          f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
          f"{os.cpu_count()} cpus")
    print(f"{'kernel':<22}{'kernel ms':>10}{'pandas ms':>11}{'copy ms':>9}"
          f"{'vs pandas':>11}{'vs copy':>9}  targets (>=20x, <=3x)")
    _running_sum(small)
    floor_s = best_of(lambda: _running_sum(prices), rep)
    copy_s = best_of(lambda: prices.copy(), rep)
    print(f"{'(floor: running sum)':<22}{floor_s * 1e3:>10.1f}{'':>11}{copy_s * 1e3:>9.1f}"
          f"{'':>11}{floor_s / copy_s:>8.2f}x  one dependent add per element")
    for name, kernel, expression in cases:
        copy_s = best_of(lambda: prices.copy(), rep)
        kernel_s = best_of(kernel, rep)
        pandas_s = best_of(expression, max(2, rep // 2))
        copy_s = min(copy_s, best_of(lambda: prices.copy(), rep))
        speedup = pandas_s / kernel_s
        vs_copy = kernel_s / copy_s
        verdict = ("ok" if speedup >= 20 else "MISS") + "/" + ("ok" if vs_copy <= 3 else "MISS")
        print(f"{name:<22}{kernel_s * 1e3:>10.1f}{pandas_s * 1e3:>11.1f}{copy_s * 1e3:>9.1f}"
              f"{speedup:>10.1f}x{vs_copy:>8.2f}x  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
