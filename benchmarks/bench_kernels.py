"""Benchmark of the signal kernels of :mod:`bot_core.kernels` (not a test).

Each kernel runs on the same 10M float64 points as the pandas expression a user would write
for it and as a numpy copy of the same 80 MB, all measured in this run (best of several
repetitions, after warming the JIT), and prints the ratios:

* ``vs pandas``: pandas time / kernel time (target: >= 20x faster);
* ``vs copy``: kernel time / copy time (target: <= 3x; a copy is the floor of any pass that
  reads and writes the array).

Kernels run with their default thread count (one below a million bars, else the CPU count: the
rolling kernels split the series at their anchors; the EWMA recurrence is sequential, a second
thread computes the returns ahead of it) and again on one thread (``1 thread``). Three floors,
measured in the same run, say what no implementation can beat here: a numpy copy; filling a
fresh output array from all cores (the memory floor of any kernel that returns a new array);
and the sequential recurrences themselves (one dependent addition per element, and the EWMA's
one fused multiply-add per element, whose latency bounds any exact EWMA: every bar's value
depends on the previous one).

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
from concurrent.futures import ThreadPoolExecutor

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
from bot_core.kernels._sums import fma


@njit(cache=True, nogil=True)
def _running_sum(x: np.ndarray, out: np.ndarray) -> None:
    """One dependent addition per element: the floor of a scan carrying one sum per bar."""
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i]
        out[i] = s


@njit(cache=True, nogil=True)
def _fma_chain(x: np.ndarray, out: np.ndarray, decay: float) -> None:
    """``y = y * decay + x`` per element through one fused multiply-add: an EWMA's recurrence
    with nothing else (no returns, no second sum, no square root)."""
    y = 0.0
    for i in range(x.shape[0]):
        y = fma(y, decay, x[i])
        out[i] = y


@njit(cache=True, nogil=True)
def _fill(x: np.ndarray, out: np.ndarray, lo: int, hi: int) -> None:
    for i in range(lo, hi):
        out[i] = x[i]


def fresh_output_floor(x: np.ndarray) -> np.ndarray:
    """A fresh array filled from ``x`` by every core: what returning a new array costs at least."""
    out = np.empty_like(x)
    workers = os.cpu_count() or 1
    bounds = [x.shape[0] * t // workers for t in range(workers + 1)]
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda t: _fill(x, out, bounds[t], bounds[t + 1]), range(workers)))
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

    one = {"workers": 1}
    cases: list[tuple[str, int, Callable[..., object], Callable[[], object]]] = [
        ("rolling_zscore", 1, lambda **kw: rolling_zscore(prices, w, **kw),
         lambda: (series - series.rolling(w).mean()) / series.rolling(w).std()),
        ("rolling_mean_std", 2, lambda **kw: rolling_mean_std(prices, w, **kw),
         lambda: (series.rolling(w).mean(), series.rolling(w).std())),
        ("rolling_vol (log)", 1, lambda **kw: rolling_vol(prices, w, **kw),
         lambda: np.log(series).diff().rolling(w).std()),
        ("rolling_vol (simple)", 1, lambda **kw: rolling_vol(prices, w, log_returns=False, **kw),
         lambda: series.pct_change().rolling(w).std()),
        ("ewma_vol (log)", 1, lambda **kw: ewma_vol(prices, alpha, **kw),
         lambda: np.sqrt((np.log(series).diff() ** 2).ewm(alpha=alpha).mean())),
        ("ewma_vol (simple)", 1, lambda **kw: ewma_vol(prices, alpha, log_returns=False, **kw),
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
    scratch = np.empty(1000)
    _running_sum(small, scratch)
    _fma_chain(small, scratch, 1.0 - alpha)
    fresh_output_floor(small)

    print(f"bot-core signal kernels: {n:,} points, window {w}, best of {rep}; "
          f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
          f"{os.cpu_count()} cpus")
    copy_s = best_of(lambda: prices.copy(), rep)
    fill_s = best_of(lambda: fresh_output_floor(prices), rep)
    out = np.empty_like(prices)
    sum_s = best_of(lambda: _running_sum(prices, out), rep)
    chain_s = best_of(lambda: _fma_chain(prices, out, 1.0 - alpha), rep)
    print(f"floors: numpy copy {copy_s * 1e3:.1f} ms; fresh output from all cores "
          f"{fill_s * 1e3:.1f} ms; one dependent add per element {sum_s * 1e3:.1f} ms; "
          f"one dependent fma per element {chain_s * 1e3:.1f} ms (both into an existing array)")
    print(f"{'kernel':<22}{'kernel ms':>10}{'1 thread':>10}{'pandas ms':>11}{'copy ms':>9}"
          f"{'vs pandas':>11}{'vs copy':>9}{'20x budget':>12}  targets (>=20x, <=3x)")
    for name, outputs, kernel, expression in cases:
        copy_s = best_of(lambda: prices.copy(), rep)
        kernel_s = best_of(kernel, rep)
        single_s = best_of(lambda k=kernel: k(**one), rep)
        pandas_s = best_of(expression, max(2, rep // 2))
        copy_s = min(copy_s, best_of(lambda: prices.copy(), rep))
        speedup = pandas_s / kernel_s
        vs_copy = kernel_s / copy_s
        budget_s = pandas_s / 20
        verdict = ("ok" if speedup >= 20 else "MISS") + "/" + ("ok" if vs_copy <= 3 else "MISS")
        floor_s = max(outputs * fill_s, chain_s if "ewma" in name else 0.0)
        note = "  (20x is below this kernel's floor here)" if budget_s < floor_s else ""
        print(f"{name:<22}{kernel_s * 1e3:>10.1f}{single_s * 1e3:>10.1f}{pandas_s * 1e3:>11.1f}"
              f"{copy_s * 1e3:>9.1f}{speedup:>10.1f}x{vs_copy:>8.2f}x{budget_s * 1e3:>9.1f} ms"
              f"  {verdict}{note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
