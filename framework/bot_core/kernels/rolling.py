"""Rolling mean, sample standard deviation (ddof=1) and z-score over a window of bars.

One algorithm serves the batch kernels (a whole array at once, for backtests) and the
incremental :class:`RollingMoments` (one bar at a time, for live trading). Both run the same
compiled step on the same state, so their results are bit-for-bit identical; the batch kernels
are only organised differently (see "Why it is fast").

Why it is accurate and O(1) per bar
-----------------------------------
The state keeps the count ``n`` of valid values in the window and two compensated sums (see
:mod:`bot_core.kernels._sums`) of ``d = x - K`` and ``d * d`` for a *shift* ``K`` near the data.
Each bar adds the new value and removes the one that leaves the window as one exact difference
per sum; the squared deviation that is removed is bit-for-bit the one that was added, so nothing
drifts over millions of bars.

``M2 = S2 - S1**2 / n`` would lose digits when the window's mean has moved far from ``K``
(prices around 1e5 with a variance of 1e-10, a jump followed by a flat stretch). When
``M2 <= REBUILD_TOLERANCE * S2`` the sums are *rebuilt* from the window with a two-pass
algorithm and ``K`` set to the window mean; that bounds the relative error of the variance by
about ``5 * 2**-53 / REBUILD_TOLERANCE`` (~ 6e-11) and makes a constant window exactly zero.
Rebuilds cost O(window) and happen only after the mean drifted hundreds of standard deviations
from ``K``, so the update is amortised O(1).

The sums are also rebuilt on every bar whose index (counted from the first bar, 0-based) is a
multiple of :data:`ANCHOR`. That costs one window every 65,536 bars, and it makes the state at
those bars a function of the window alone: a batch kernel can start a segment there without
running the bars before it, which is what lets it use several cores and still equal the
incremental result bit for bit.

Why it is fast
--------------
A batch kernel processes a segment in blocks of :data:`BLOCK` bars. Where a block has no
missing value, no anchor and a full window, it runs three loops: the exact differences of all
its bars (independent of the running sums, so vectorised), the running sums themselves (one
:func:`~bot_core.kernels._sums.accumulate` per sum and bar: the only sequential part), then the
rebuild test and the outputs (vectorised again: the square roots and divisions run four or eight
at a time). A rebuild found in the third loop restarts the block after the rebuilt bar. Blocks
with gaps, warm-up bars and anchors take the scalar step that :class:`RollingMoments` runs.
Outputs are allocated by numpy (which asks the kernel for huge pages) and filled in place.

Semantics (as pandas' ``rolling(window, min_periods).mean()/.std()`` where they are defined)
-------------------------------------------------------------------------------------------
* The window at bar ``t`` holds bars ``t - window + 1 .. t`` (it includes the current bar).
* NaN values are missing: they do not count. ``mean`` needs ``n >= min_periods`` valid values,
  ``std`` and ``zscore`` need ``n >= max(min_periods, 2)``; otherwise the output is NaN.
* ``zscore = (x - mean) / std``; NaN when ``x`` itself is NaN; **0.0 when the window has zero
  variance** (pandas gives NaN or inf there: a flat market is "at its mean", not infinitely far).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from bot_core.kernels._segments import ANCHOR, ANCHOR_BITS, run_segments, segment_count
from bot_core.kernels._sums import accumulate, exact_difference, two_sum_add

__all__ = [
    "ANCHOR",
    "BLOCK",
    "REBUILD_TOLERANCE",
    "RollingMoments",
    "new_rolling_state",
    "rolling_mean_std",
    "rolling_push",
    "rolling_zscore",
]

REBUILD_TOLERANCE = 1e-5
"""Rebuild the sums when ``M2 <= REBUILD_TOLERANCE * S2`` (digits would cancel otherwise)."""

BLOCK = 128
"""Bars per block of a batch kernel: the block's buffers stay in the L1 cache."""

_ANCHOR_MASK = ANCHOR - 1

# Layout of the float64 state vector; _I is the index of the next bar (for the anchors).
_K, _S1, _C1, _S2, _C2, _N, _POS, _I = 0, 1, 2, 3, 4, 5, 6, 7
STATE_SIZE = 8

# What a batch scan writes: z-scores; mean and std; std alone (rolling volatility).
MODE_ZSCORE, MODE_MEAN_STD, MODE_STD = 0, 1, 2


def new_rolling_state(window: int) -> tuple[np.ndarray, np.ndarray]:
    """A fresh ``(state, ring)`` pair for a window of ``window`` bars (ring filled with NaN)."""
    if window < 1:
        raise ValueError(f"window must be at least 1 bar, got {window}")
    state = np.zeros(STATE_SIZE, dtype=np.float64)
    state[_K] = math.nan
    return state, np.full(window, math.nan, dtype=np.float64)


# -- the scalar step, shared by every path --------------------------------------------------------

@njit(cache=True, nogil=True, error_model="numpy")
def rebuild_scalars(buf: np.ndarray, start: int, count: int
                    ) -> tuple[float, float, float, float, float, float]:
    """Two-pass recomputation of ``(k, n, s1, c1, s2, c2)`` from ``count`` values, oldest first.

    The values are ``buf[start], buf[start + 1], ...`` wrapping around at the end of ``buf`` (a
    ring buffer); batch kernels pass their input and the window's first index. The shift ``k``
    becomes the window mean, so the sums are as small as they can be. No valid value: ``k`` is
    NaN and the sums are zero (the next valid value restarts them).
    """
    size = buf.shape[0]
    pivot = math.nan
    n = 0
    acc = 0.0
    for j in range(count):
        idx = start + j
        if idx >= size:
            idx -= size
        v = buf[idx]
        if v == v:
            if n == 0:
                pivot = v
            acc += v - pivot
            n += 1
    if n == 0:
        return math.nan, 0.0, 0.0, 0.0, 0.0, 0.0
    k = pivot + acc / n
    s1 = c1 = s2 = c2 = 0.0
    for j in range(count):
        idx = start + j
        if idx >= size:
            idx -= size
        v = buf[idx]
        if v == v:
            d = v - k
            s1, c1 = two_sum_add(s1, c1, d)
            s2, c2 = two_sum_add(s2, c2, d * d)
    return k, float(n), s1, c1, s2, c2


@njit(cache=True, nogil=True, error_model="numpy")
def window_terms(x: float, old: float, k: float) -> tuple[float, float, float, float]:
    """What one bar changes in the two sums, as exact ``(a1, e1, a2, e2)`` pairs.

    ``x`` enters the window and ``old`` leaves it (either may be NaN = missing); the deviations
    from ``k`` and their squares are rounded exactly as when they were added, and each pair's
    difference is exact (``a + e``).
    """
    dn = x - k if x == x else 0.0
    do = old - k if old == old else 0.0
    a1, e1 = exact_difference(dn, do)
    a2, e2 = exact_difference(dn * dn, do * do)
    return a1, e1, a2, e2


@njit(cache=True, nogil=True, error_model="numpy")
def step_scalars(
    k: float, n: float, s1: float, c1: float, s2: float, c2: float, old: float, x: float
) -> tuple[float, float, float, float, float, float]:
    """One bar on the unpacked state: ``x`` enters, ``old`` leaves; the new state.

    When no valid value would be left after ``old`` leaves, the sums restart at ``x`` (which
    becomes the shift). The caller then applies the rebuild rule (:func:`needs_rebuild`).
    """
    vo = 1.0 if old == old else 0.0
    if n - vo == 0.0:
        if x == x:
            return x, 1.0, 0.0, 0.0, 0.0, 0.0
        return k, 0.0, 0.0, 0.0, 0.0, 0.0
    a1, e1, a2, e2 = window_terms(x, old, k)
    s1, c1 = accumulate(s1, c1, a1, e1)
    s2, c2 = accumulate(s2, c2, a2, e2)
    return k, n - vo + (1.0 if x == x else 0.0), s1, c1, s2, c2


@njit(cache=True, nogil=True, error_model="numpy")
def cancels(t1: float, t2: float, inv_n: float) -> bool:
    """True when ``M2 = t2 - t1**2 / n`` lost too many digits (``t = s + c``, ``n >= 2``)."""
    return t2 > 0.0 and t2 - t1 * t1 * inv_n <= REBUILD_TOLERANCE * t2


@njit(cache=True, nogil=True, error_model="numpy")
def needs_rebuild(index: int, n: float, inv_n: float, s1: float, c1: float, s2: float,
                  c2: float) -> bool:
    """The rebuild rule after bar ``index``: an anchor bar, or cancellation in ``M2``."""
    if index & _ANCHOR_MASK == 0:
        return True
    return n >= 2.0 and cancels(s1 + c1, s2 + c2, inv_n)


@njit(cache=True, nogil=True, error_model="numpy")
def variance_of(t1: float, t2: float, inv_n: float, inv_dof: float) -> float:
    """Sample variance (ddof=1) from ``t1 = s1 + c1`` and ``t2 = s2 + c2``."""
    return (t2 - t1 * t1 * inv_n) * inv_dof


@njit(cache=True, nogil=True, error_model="numpy")
def moments_scalars(k: float, n: float, inv_n: float, inv_dof: float, s1: float, c1: float,
                    s2: float, c2: float, min_periods: int) -> tuple[float, float, float]:
    """``(mean, offset, variance)`` of the window from its state.

    ``offset = mean - k`` (so ``x - mean`` is computed as ``(x - k) - offset`` without
    cancellation). ``mean`` is NaN below ``min_periods`` valid values, ``variance`` (ddof=1) is
    NaN below ``max(min_periods, 2)``; a variance ``<= 0`` means a flat window.
    ``inv_n = 1 / n`` and ``inv_dof = 1 / (n - 1)``.
    """
    if n < min_periods or n == 0.0:
        return math.nan, math.nan, math.nan
    t1 = s1 + c1
    offset = t1 * inv_n
    if n < 2.0:
        return k + offset, offset, math.nan
    return k + offset, offset, variance_of(t1, s2 + c2, inv_n, inv_dof)


@njit(cache=True, nogil=True, error_model="numpy")
def std_from_variance(variance: float) -> float:
    """Sample standard deviation from the variance: 0.0 for a flat window, NaN stays NaN."""
    return math.sqrt(variance) if variance > 0.0 else variance * 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def zscore_from(deviation: float, variance: float) -> float:
    """``deviation / std``: 0.0 for a flat window (never inf), NaN when either is NaN."""
    return deviation / math.sqrt(variance) if variance > 0.0 else deviation * 0.0 + variance * 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def reciprocals(n: float) -> tuple[float, float]:
    """``(1 / n, 1 / (n - 1))``, NaN where undefined."""
    inv_n = 1.0 / n if n > 0.0 else math.nan
    inv_dof = 1.0 / (n - 1.0) if n > 1.0 else math.nan
    return inv_n, inv_dof


@njit(cache=True, nogil=True, error_model="numpy")
def rolling_push(state: np.ndarray, ring: np.ndarray, x: float) -> None:
    """Push one value (NaN = missing) into the window; the oldest value leaves it. O(1) amortised."""
    pos = int(state[_POS])
    old = ring[pos]
    ring[pos] = x
    pos += 1
    if pos == ring.shape[0]:
        pos = 0
    state[_POS] = pos
    index = int(state[_I])
    state[_I] = index + 1
    k, n, s1, c1, s2, c2 = step_scalars(
        state[_K], state[_N], state[_S1], state[_C1], state[_S2], state[_C2], old, x
    )
    inv_n, _ = reciprocals(n)
    if needs_rebuild(index, n, inv_n, s1, c1, s2, c2):
        k, n, s1, c1, s2, c2 = rebuild_scalars(ring, pos, ring.shape[0])
    state[_K] = k
    state[_N] = n
    state[_S1] = s1
    state[_C1] = c1
    state[_S2] = s2
    state[_C2] = c2


# -- batch scan ------------------------------------------------------------------------------------

@njit(cache=True, nogil=True, error_model="numpy")
def _emit(mode: int, i: int, xi: float, k: float, n: float, s1: float, c1: float, s2: float,
          c2: float, min_periods: int, out_a: np.ndarray, out_b: np.ndarray) -> None:
    """Write bar ``i``'s outputs from the state (the scalar path; same arithmetic as blocks)."""
    inv_n, inv_dof = reciprocals(n)
    mean, offset, variance = moments_scalars(k, n, inv_n, inv_dof, s1, c1, s2, c2, min_periods)
    if mode == MODE_ZSCORE:
        out_a[i] = zscore_from((xi - k) - offset, variance)
    elif mode == MODE_MEAN_STD:
        out_a[i] = mean
        out_b[i] = std_from_variance(variance)
    else:
        out_a[i] = std_from_variance(variance)


@njit(cache=True, nogil=True, error_model="numpy")
def scan(v: np.ndarray, base: int, lo: int, hi: int, window: int, min_periods: int, mode: int,
         out_a: np.ndarray, out_b: np.ndarray) -> None:
    """Outputs of bars ``lo .. hi - 1`` into ``out_a`` / ``out_b`` (indexed by bar).

    ``v[i - base]`` is the value of bar ``i``; it must hold bars ``max(0, lo - window) .. hi - 1``.
    ``lo`` is 0 or an anchor (a multiple of :data:`ANCHOR`), where the state is a function of
    the window alone.
    """
    a1s = np.empty(BLOCK)
    e1s = np.empty(BLOCK)
    a2s = np.empty(BLOCK)
    e2s = np.empty(BLOCK)
    t1s = np.empty(BLOCK)
    t2s = np.empty(BLOCK)
    k = math.nan
    n = s1 = c1 = s2 = c2 = 0.0
    full = max(min_periods, 2)
    i = lo
    if lo > 0 and lo < hi:
        # the anchor bar: its state is the rebuilt window, as rolling_push leaves it
        first = max(lo - window + 1, 0)
        k, n, s1, c1, s2, c2 = rebuild_scalars(v, first - base, lo + 1 - first)
        _emit(mode, lo, v[lo - base], k, n, s1, c1, s2, c2, min_periods, out_a, out_b)
        i = lo + 1
    while i < hi:
        end = min(hi, i + BLOCK, ((i >> ANCHOR_BITS) + 1) << ANCHOR_BITS)  # no anchor inside
        m = end - i
        off = i - base
        fast = i & _ANCHOR_MASK != 0 and i >= window and n >= full
        # (loops index views from 0: an index Numba cannot prove non-negative gets a
        # wrap-around test, which keeps LLVM from vectorising the loop)
        xs = v[off:off + m]
        if fast:
            olds = v[off - window:off - window + m]
            gaps = 0
            for j in range(m):  # vectorised: no dependence between bars
                xv = xs[j]
                ov = olds[j]
                gaps += (xv != xv) | (ov != ov)
                a1s[j], e1s[j], a2s[j], e2s[j] = window_terms(xv, ov, k)
            fast = gaps == 0
        if not fast:
            # the scalar step, exactly as RollingMoments runs it
            for j in range(i, end):
                xj = v[j - base]
                old = v[j - window - base] if j >= window else math.nan
                k, n, s1, c1, s2, c2 = step_scalars(k, n, s1, c1, s2, c2, old, xj)
                inv_n, _ = reciprocals(n)
                if needs_rebuild(j, n, inv_n, s1, c1, s2, c2):
                    first = max(j - window + 1, 0)
                    k, n, s1, c1, s2, c2 = rebuild_scalars(v, first - base, j + 1 - first)
                _emit(mode, j, xj, k, n, s1, c1, s2, c2, min_periods, out_a, out_b)
            i = end
            continue
        for j in range(m):  # the sequential part
            s1, c1 = accumulate(s1, c1, a1s[j], e1s[j])
            s2, c2 = accumulate(s2, c2, a2s[j], e2s[j])
            t1s[j] = s1 + c1
            t2s[j] = s2 + c2
        inv_n, inv_dof = reciprocals(n)  # n == window all through a fast block
        flags = 0
        oa = out_a[i:end]
        if mode == MODE_ZSCORE:
            for j in range(m):
                t1 = t1s[j]
                flags += cancels(t1, t2s[j], inv_n)
                oa[j] = zscore_from((xs[j] - k) - t1 * inv_n,
                                    variance_of(t1, t2s[j], inv_n, inv_dof))
        elif mode == MODE_MEAN_STD:
            ob = out_b[i:end]
            for j in range(m):
                t1 = t1s[j]
                flags += cancels(t1, t2s[j], inv_n)
                oa[j] = k + t1 * inv_n
                ob[j] = std_from_variance(variance_of(t1, t2s[j], inv_n, inv_dof))
        else:
            for j in range(m):
                t1 = t1s[j]
                flags += cancels(t1, t2s[j], inv_n)
                oa[j] = std_from_variance(variance_of(t1, t2s[j], inv_n, inv_dof))
        if flags == 0:
            i = end
            continue
        # the first bar whose sums cancelled: rebuild there, then go on after it
        j = 0
        while not cancels(t1s[j], t2s[j], inv_n):
            j += 1
        bar = i + j
        first = bar - window + 1
        k, n, s1, c1, s2, c2 = rebuild_scalars(v, first - base, window)
        _emit(mode, bar, v[bar - base], k, n, s1, c1, s2, c2, min_periods, out_a, out_b)
        i = bar + 1


@njit(cache=True, nogil=True, error_model="numpy")
def _rolling_update(state: np.ndarray, ring: np.ndarray, x: float, min_periods: int,
                    out: np.ndarray) -> None:
    rolling_push(state, ring, x)
    inv_n, inv_dof = reciprocals(state[_N])
    mean, offset, variance = moments_scalars(
        state[_K], state[_N], inv_n, inv_dof, state[_S1], state[_C1], state[_S2], state[_C2],
        min_periods,
    )
    out[0] = mean
    out[1] = std_from_variance(variance)
    out[2] = zscore_from((x - state[_K]) - offset, variance)


def _check(x: object, window: int, min_periods: int | None) -> tuple[np.ndarray, int]:
    if int(window) != window or window < 1:
        raise ValueError(f"window must be a whole number of bars >= 1, got {window!r}")
    minp = int(window) if min_periods is None else int(min_periods)
    if not 1 <= minp <= window:
        raise ValueError(f"min_periods must be between 1 and window ({window}), got {min_periods!r}")
    return np.ascontiguousarray(x, dtype=np.float64), minp


def _run(x: object, window: int, min_periods: int | None, mode: int, workers: int | None
         ) -> tuple[np.ndarray, np.ndarray]:
    arr, minp = _check(x, window, min_periods)
    out_a = np.empty(arr.shape[0])
    out_b = np.empty(arr.shape[0] if mode == MODE_MEAN_STD else 0)
    w, size = int(window), arr.shape[0]

    # A Python loop over segments: a compiled one would compile scan into itself a second
    # time (1.6 s of a cold start), and a segment is long enough to hide the call.
    def segments(first: int, last: int) -> None:
        for seg in range(first, last):
            lo = seg * ANCHOR
            scan(arr, 0, lo, min(size, lo + ANCHOR), w, minp, mode, out_a, out_b)

    run_segments(segments, segment_count(arr.shape[0]), workers)
    return out_a, out_b


def rolling_zscore(x: object, window: int, min_periods: int | None = None, *,
                   workers: int | None = None) -> np.ndarray:
    """Rolling z-score of ``x`` over ``window`` bars including the current one (ddof=1).

    ``min_periods`` defaults to ``window`` (as pandas). See the module docstring for NaN and
    zero-variance semantics. ``workers``: threads to use (default: one below a million bars,
    else the CPU count); the result does not depend on it.
    """
    return _run(x, window, min_periods, MODE_ZSCORE, workers)[0]


def rolling_mean_std(
    x: object, window: int, min_periods: int | None = None, *, workers: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rolling mean and sample standard deviation (ddof=1) over ``window`` bars."""
    return _run(x, window, min_periods, MODE_MEAN_STD, workers)


class RollingMoments:
    """Incremental rolling mean / std (ddof=1) / z-score: one O(1) update per bar.

    Equal, bit for bit, to :func:`rolling_mean_std` and :func:`rolling_zscore` on the same
    sequence (the same compiled step runs in both). Keeps ``window`` floats of history.
    """

    __slots__ = ("_out", "_ring", "_state", "min_periods", "window")

    def __init__(self, window: int, min_periods: int | None = None) -> None:
        _, self.min_periods = _check(np.empty(0), window, min_periods)
        self.window = int(window)
        self._state, self._ring = new_rolling_state(self.window)
        self._out = np.full(3, math.nan)

    def update(self, x: float) -> float:
        """Add the newest value (NaN = missing bar); return its z-score."""
        _rolling_update(self._state, self._ring, float(x), self.min_periods, self._out)
        return float(self._out[2])

    @property
    def count(self) -> int:
        """Valid values currently in the window."""
        return int(self._state[_N])

    @property
    def mean(self) -> float:
        return float(self._out[0])

    @property
    def std(self) -> float:
        return float(self._out[1])

    @property
    def zscore(self) -> float:
        return float(self._out[2])
