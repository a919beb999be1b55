"""Rolling mean, sample standard deviation (ddof=1) and z-score over a window of bars.

One algorithm serves the batch kernels (a whole array at once, for backtests) and the
incremental :class:`RollingMoments` (one bar at a time, for live trading): both call the same
compiled :func:`rolling_push` on the same state layout, so their results are identical.

Why it is accurate and O(1) per bar
-----------------------------------
The window is a ring buffer of the last ``window`` values (NaN = missing). The state keeps the
count of valid values and two compensated sums (see :mod:`bot_core.kernels._sums`) of
``d = x - K`` and ``d * d`` for a *shift* ``K`` near the data. Adding the new value and removing
the one that leaves the window are four compensated additions; the squared deviation that is
removed is bit-for-bit the one that was added, so nothing drifts over millions of bars.

``M2 = S2 - S1**2 / n`` would lose digits when the window's mean has moved far from ``K``
(prices around 1e5 with a variance of 1e-10, a jump followed by a flat stretch). When
``M2 <= REBUILD_TOLERANCE * S2`` the sums are *rebuilt* from the ring with a two-pass
algorithm and ``K`` set to the window mean; that bounds the relative error of the variance by
about ``5 * 2**-53 / REBUILD_TOLERANCE`` (~ 6e-11) and makes a constant window exactly zero.
Rebuilds cost O(window) and happen only after the mean drifted hundreds of standard deviations
from ``K``, so the update is amortised O(1).

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

from bot_core.kernels._sums import two_sum_add

__all__ = [
    "REBUILD_TOLERANCE",
    "RollingMoments",
    "new_rolling_state",
    "rolling_mean_std",
    "rolling_push",
    "rolling_zscore",
]

REBUILD_TOLERANCE = 1e-5
"""Rebuild the sums when ``M2 <= REBUILD_TOLERANCE * S2`` (digits would cancel otherwise)."""

# Layout of the float64 state vector.
_K, _S1, _C1, _S2, _C2, _N, _POS = 0, 1, 2, 3, 4, 5, 6
STATE_SIZE = 7


def new_rolling_state(window: int) -> tuple[np.ndarray, np.ndarray]:
    """A fresh ``(state, ring)`` pair for a window of ``window`` bars (ring filled with NaN)."""
    if window < 1:
        raise ValueError(f"window must be at least 1 bar, got {window}")
    state = np.zeros(STATE_SIZE, dtype=np.float64)
    state[_K] = math.nan
    return state, np.full(window, math.nan, dtype=np.float64)


@njit(cache=True, nogil=True, error_model="numpy")
def rebuild_scalars(buf: np.ndarray, start: int, count: int
                    ) -> tuple[float, float, float, float, float]:
    """Two-pass recomputation of ``(k, s1, c1, s2, c2)`` from ``count`` values, oldest first.

    The values are ``buf[start], buf[start + 1], ...`` wrapping around at the end of ``buf`` (a
    ring buffer); batch kernels pass the input array and the window's first index. The shift
    ``k`` becomes the window mean, so the sums are as small as they can be.
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
    return k, s1, c1, s2, c2


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def push_scalars(
    k: float, n: float, s1: float, c1: float, s2: float, c2: float, old: float, x: float
) -> tuple[float, float, float, float, float, float]:
    """The arithmetic of one push on the unpacked state; ``old`` is the value leaving the window.

    Returns the new ``(k, n, s1, c1, s2, c2)``; the caller then asks :func:`needs_rebuild`.
    Batch kernels keep the state in registers; :func:`rolling_push` loads and stores it around
    the same calls, which is why batch and incremental results are identical.
    """
    if old == old:
        d = old - k
        s1, c1 = two_sum_add(s1, c1, -d)
        s2, c2 = two_sum_add(s2, c2, -(d * d))
        n -= 1.0
    if n == 0.0:
        s1 = c1 = s2 = c2 = 0.0
        if x == x:
            k = x
    if x == x:
        d = x - k
        s1, c1 = two_sum_add(s1, c1, d)
        s2, c2 = two_sum_add(s2, c2, d * d)
        n += 1.0
    return k, n, s1, c1, s2, c2


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def needs_rebuild(n: float, inv_n: float, s1: float, c1: float, s2: float, c2: float) -> bool:
    """True when ``M2 = S2 - S1**2 / n`` would have lost too many digits to cancellation.

    ``inv_n`` is ``1.0 / n``: callers compute the reciprocal once per change of ``n`` (a
    division per bar would dominate the kernel's cost).
    """
    if n < 2.0:
        return False
    t1 = s1 + c1
    t2 = s2 + c2
    return t2 > 0.0 and t2 - t1 * t1 * inv_n <= REBUILD_TOLERANCE * t2


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def moments_scalars(k: float, n: float, inv_n: float, inv_dof: float, s1: float, c1: float,
                    s2: float, c2: float, min_periods: int) -> tuple[float, float, float]:
    """``(mean, offset, variance)`` of the window from its state.

    ``offset = mean - k`` (so ``x - mean`` is computed as ``(x - k) - offset`` without
    cancellation). ``mean`` is NaN below ``min_periods`` valid values, ``variance`` (ddof=1) is
    NaN below ``max(min_periods, 2)``; a variance ``<= 0`` means a flat window.
    ``inv_n = 1 / n`` and ``inv_dof = 1 / (n - 1)``: callers compute the reciprocals once per
    change of ``n`` because a division per bar would dominate the kernel's cost.
    """
    if n < min_periods or n == 0.0:
        return math.nan, math.nan, math.nan
    t1 = s1 + c1
    offset = t1 * inv_n
    if n < 2.0:
        return k + offset, offset, math.nan
    return k + offset, offset, ((s2 + c2) - t1 * t1 * inv_n) * inv_dof


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def std_from_variance(variance: float) -> float:
    """Sample standard deviation from the variance: 0.0 for a flat window, NaN stays NaN."""
    return math.sqrt(variance) if variance > 0.0 else variance * 0.0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def zscore_from(deviation: float, variance: float) -> float:
    """``deviation / std``: 0.0 for a flat window (never inf), NaN when either is NaN."""
    return deviation / math.sqrt(variance) if variance > 0.0 else deviation * 0.0 + variance * 0.0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def reciprocals(n: float) -> tuple[float, float]:
    """``(1 / n, 1 / (n - 1))``, NaN where undefined: the only divisions per change of ``n``."""
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
    k, n, s1, c1, s2, c2 = push_scalars(
        state[_K], state[_N], state[_S1], state[_C1], state[_S2], state[_C2], old, x
    )
    inv_n, _ = reciprocals(n)
    if needs_rebuild(n, inv_n, s1, c1, s2, c2):
        k, s1, c1, s2, c2 = rebuild_scalars(ring, pos, ring.shape[0])
    state[_K] = k
    state[_N] = n
    state[_S1] = s1
    state[_C1] = c1
    state[_S2] = s2
    state[_C2] = c2


@njit(cache=True, nogil=True, error_model="numpy")
def _rolling_kernel(x: np.ndarray, window: int, min_periods: int, want_z: bool
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Batch scan: z-scores in ``a`` (``want_z``), else the mean in ``a`` and the std in ``b``."""
    size = x.shape[0]
    a = np.empty(size)
    b = np.empty(0 if want_z else size)
    k = math.nan
    n = s1 = c1 = s2 = c2 = 0.0
    n_seen = -1.0
    inv_n = inv_dof = math.nan
    for i in range(size):
        xi = x[i]
        old = x[i - window] if i >= window else math.nan
        k, n, s1, c1, s2, c2 = push_scalars(k, n, s1, c1, s2, c2, old, xi)
        if n != n_seen:
            inv_n, inv_dof = reciprocals(n)
            n_seen = n
        if needs_rebuild(n, inv_n, s1, c1, s2, c2):
            first = i - window + 1 if i >= window - 1 else 0
            k, s1, c1, s2, c2 = rebuild_scalars(x, first, i + 1 - first)
        mean, offset, variance = moments_scalars(k, n, inv_n, inv_dof, s1, c1, s2, c2,
                                                 min_periods)
        if want_z:
            a[i] = zscore_from((xi - k) - offset, variance)
        else:
            a[i] = mean
            b[i] = std_from_variance(variance)
    return a, b


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


def rolling_zscore(x: object, window: int, min_periods: int | None = None) -> np.ndarray:
    """Rolling z-score of ``x`` over ``window`` bars including the current one (ddof=1).

    ``min_periods`` defaults to ``window`` (as pandas). See the module docstring for NaN and
    zero-variance semantics.
    """
    arr, minp = _check(x, window, min_periods)
    return _rolling_kernel(arr, int(window), minp, True)[0]


def rolling_mean_std(
    x: object, window: int, min_periods: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rolling mean and sample standard deviation (ddof=1) over ``window`` bars."""
    arr, minp = _check(x, window, min_periods)
    return _rolling_kernel(arr, int(window), minp, False)


class RollingMoments:
    """Incremental rolling mean / std (ddof=1) / z-score: one O(1) update per bar.

    Equal to :func:`rolling_mean_std` and :func:`rolling_zscore` on the same sequence (the
    same compiled step runs in both). Keeps ``window`` floats of history.
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
