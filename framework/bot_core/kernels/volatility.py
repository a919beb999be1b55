"""Realized volatility of bar returns: EWMA and rolling, batch and incremental.

Both estimators work on the returns of one price series, bar to bar:

* ``log_returns=True``: ``r_t = log(p_t / p_{t-1})``, computed from the exact difference of
  the two prices (see :func:`log_return`), so a return of 1e-7 keeps its digits
  (``log(p_t / p_{t-1})`` would not);
* ``log_returns=False``: ``r_t = (p_t - p_{t-1}) / p_{t-1}`` (simple returns).

A return is missing (NaN) when either price is (the first bar, NaN gaps), as
``np.log(s).diff()`` in pandas.

EWMA (``ewma_vol``): the zero-mean RiskMetrics estimator with pandas' ``adjust=True`` weights,
``var_t = sum_i w_i r_{t-i}^2 / sum_i w_i`` with ``w_i = (1 - alpha)^i`` over the *positions*
``i`` (a missing return still ages the older ones, as ``ignore_na=False``); the same as
``np.sqrt((r ** 2).ewm(alpha=alpha, min_periods=m).mean())``. Both sums decay by the same
factor, so during a gap the estimate holds its last value. Each bar updates each sum with one
fused multiply-add (:func:`~bot_core.kernels._sums.fma`), in the batch kernel and in
:class:`EwmaVol` alike; the recurrence is sequential, so above a million bars only the returns
before it run on a second thread.

Rolling (``rolling_vol``): the sample standard deviation (ddof=1) of the last ``window`` returns,
as ``r.rolling(window, min_periods).std()``, with the accurate O(1) update of
:mod:`bot_core.kernels.rolling`.

The kernels return volatility *per bar*; multiply by ``sqrt(bars per year)`` to annualise (see
:func:`annualization_factor`). Zero variance gives 0.0, never inf; missing gives NaN.
"""

from __future__ import annotations

import math
from queue import Empty, SimpleQueue

import numpy as np
from numba import njit

from bot_core.helpers import helper_pool, in_helper
from bot_core.kernels._segments import (
    ANCHOR,
    check_workers,
    default_workers,
    run_segments,
    segment_count,
)
from bot_core.kernels._sums import fma
from bot_core.kernels.rolling import (
    _C1,
    _C2,
    _K,
    _N,
    _S1,
    _S2,
    BLOCK,
    MODE_STD,
    STATE_SIZE,
    moments_scalars,
    reciprocals,
    rolling_push,
    scan,
    std_from_variance,
)

__all__ = [
    "EwmaVol",
    "RollingVol",
    "alpha_from_halflife",
    "annualization_factor",
    "bar_returns",
    "ewma_vol",
    "log_return",
    "rolling_vol",
]

_SECONDS_PER_YEAR = 365.0 * 24 * 3600


def annualization_factor(bar_seconds: float, days_per_year: float = 365.0) -> float:
    """``sqrt(bars per year)`` for bars of ``bar_seconds`` on a market open ``days_per_year``."""
    if bar_seconds <= 0 or days_per_year <= 0:
        raise ValueError("bar_seconds and days_per_year must be positive")
    return math.sqrt(days_per_year * 24 * 3600 / bar_seconds)


def alpha_from_halflife(halflife_bars: float) -> float:
    """EWMA smoothing factor whose weights halve every ``halflife_bars`` bars (as pandas)."""
    if not halflife_bars > 0:
        raise ValueError(f"halflife must be positive, got {halflife_bars!r}")
    return 1.0 - math.exp(math.log(0.5) / halflife_bars)


# -- returns -----------------------------------------------------------------------------------

_SMALL = 1.0 / 32.0
"""``|s|`` below which :func:`log_return` uses its series: prices within about 6 % of each
other, i.e. nearly every bar-to-bar move."""


@njit(cache=True, nogil=True, error_model="numpy")
def _atanh2_series(s: float) -> float:
    """``2 atanh(s)`` for ``|s| < 1/32``.

    ``s**2 < 1e-3``, so seven terms leave a truncation error below 1e-21 and the result is
    within a few ulps of the true value. Plain arithmetic, so it runs in vector registers
    (a call to the C library's ``log1p`` does not).
    """
    z = s * s
    p = ((((((z * (1.0 / 13.0) + 1.0 / 11.0) * z + 1.0 / 9.0) * z + 1.0 / 7.0) * z + 1.0 / 5.0)
          * z + 1.0 / 3.0) * z + 1.0)
    return (s + s) * p


@njit(cache=True, nogil=True, error_model="numpy")
def log_return(previous: float, price: float) -> float:
    """``log(price / previous)`` (NaN when either is missing).

    As ``2 atanh(s)`` with ``s = (price - previous) / (price + previous)``: the difference of
    two nearby prices is exact, so a return of 1e-7 keeps its digits, and it takes one
    division. Far moves (``|s| >= 1/32``) use ``log1p((price - previous) / previous)``.
    """
    s = (price - previous) / (price + previous)
    if abs(s) < _SMALL:
        return _atanh2_series(s)
    return math.log1p((price - previous) / previous)


@njit(cache=True, nogil=True, error_model="numpy")
def bar_return(previous: float, price: float, log_returns: bool) -> float:
    """Return from ``previous`` to ``price`` (NaN when either is missing)."""
    if log_returns:
        return log_return(previous, price)
    return (price - previous) / previous


@njit(cache=True, nogil=True, error_model="numpy")
def returns_into(prices: np.ndarray, lo: int, hi: int, log_returns: bool, out: np.ndarray,
                 base: int) -> None:
    """Returns of bars ``lo .. hi - 1`` into ``out[i - base]``; bar 0 has none (NaN).

    Equal to :func:`bar_return` bar by bar: the series runs over all of them in vector
    registers, then the few far or missing returns are redone with the scalar call.
    """
    start = lo
    if lo == 0 and hi > 0:
        out[-base] = math.nan
        start = 1
    if hi <= start:
        return
    # views indexed from 0, so that LLVM vectorises the loops (see rolling.scan)
    prices_now = prices[start:hi]
    prices_before = prices[start - 1:hi - 1]
    dst = out[start - base:hi - base]
    m = hi - start
    if not log_returns:
        for j in range(m):
            previous = prices_before[j]
            dst[j] = (prices_now[j] - previous) / previous
        return
    others = 0
    for j in range(m):
        price = prices_now[j]
        previous = prices_before[j]
        s = (price - previous) / (price + previous)
        others += not abs(s) < _SMALL
        dst[j] = _atanh2_series(s)
    if others:
        for j in range(m):
            price = prices_now[j]
            previous = prices_before[j]
            if not abs((price - previous) / (price + previous)) < _SMALL:
                dst[j] = log_return(previous, price)


def bar_returns(prices: object, log_returns: bool = True) -> np.ndarray:
    """Bar-to-bar returns of ``prices`` (first element NaN), as the kernels compute them."""
    arr = np.ascontiguousarray(prices, dtype=np.float64)
    out = np.empty(arr.shape[0])
    returns_into(arr, 0, arr.shape[0], bool(log_returns), out, 0)
    return out


# -- EWMA --------------------------------------------------------------------------------------

@njit(cache=True, nogil=True, error_model="numpy")
def ewma_terms(sq: float) -> tuple[float, float]:
    """What a squared return ``r * r`` adds to the two sums: ``(r * r, 1)``, or ``(0, 0)`` when
    the return is missing (NaN)."""
    return (sq, 1.0) if sq == sq else (0.0, 0.0)


@njit(cache=True, nogil=True, error_model="numpy")
def ewma_output(num: float, den: float, count: float, min_periods: int) -> float:
    return math.sqrt(num / den) if count >= min_periods and den > 0.0 else math.nan


# The threaded EWMA: a helper thread computes the squared returns of the chunks ahead; the
# calling thread runs the recurrence and the outputs over them (the returns are a third of the
# work; the recurrence cannot be split).
_CHUNK = 1 << 20
_SPAN = 4096
"""Bars per span of the one-thread EWMA: 32 KB of squared returns, still in cache when read."""


@njit(cache=True, nogil=True, error_model="numpy")
def _squared_returns(prices: np.ndarray, lo: int, hi: int, log_returns: bool,
                     out: np.ndarray) -> None:
    """``out[i] = r_i ** 2`` (NaN where the return is missing) for bars ``lo .. hi - 1``."""
    returns_into(prices, lo, hi, log_returns, out, 0)
    sq = out[lo:hi]
    for j in range(hi - lo):
        sq[j] = sq[j] * sq[j]


@njit(cache=True, nogil=True, error_model="numpy")
def _ewma_from_squares(out: np.ndarray, lo: int, hi: int, decay: float, min_periods: int,
                       state: np.ndarray) -> None:
    """Bars ``lo .. hi - 1``: the squared returns in ``out`` become the volatility. ``state``
    carries ``(num, den, count)`` from chunk to chunk."""
    nums = np.empty(BLOCK)
    dens = np.empty(BLOCK)
    counts = np.empty(BLOCK)
    num, den, count = state[0], state[1], state[2]
    for start in range(lo, hi, BLOCK):
        m = min(BLOCK, hi - start)
        dst = out[start:start + m]
        for j in range(m):
            sq, valid = ewma_terms(dst[j])
            num = fma(num, decay, sq)
            den = fma(den, decay, valid)
            count += valid
            nums[j] = num
            dens[j] = den
            counts[j] = count
        for j in range(m):
            dst[j] = ewma_output(nums[j], dens[j], counts[j], min_periods)
    state[0], state[1], state[2] = num, den, count


@njit(cache=True, nogil=True, error_model="numpy")
def _ewma_vol(prices: np.ndarray, decay: float, min_periods: int, log_returns: bool,
              out: np.ndarray) -> None:
    """One thread, spans of _SPAN bars: the squared returns (vectorised), then
    :func:`_ewma_from_squares` on them while they are in cache."""
    state = np.zeros(3)
    for lo in range(0, prices.shape[0], _SPAN):
        hi = min(prices.shape[0], lo + _SPAN)
        _squared_returns(prices, lo, hi, log_returns, out)
        _ewma_from_squares(out, lo, hi, decay, min_periods, state)


def _ewma_vol_threaded(prices: np.ndarray, decay: float, min_periods: int, log_returns: bool,
                       out: np.ndarray) -> None:
    """The squared returns on one helper thread, chunk after chunk, while this thread runs
    the recurrence on the chunks done (one helper: more would only compete with the
    recurrence for the cores)."""
    if in_helper():  # already on a helper thread: queuing would wait on the pool itself
        _ewma_vol(prices, decay, min_periods, log_returns, out)
        return
    size = prices.shape[0]
    chunks = [(lo, min(size, lo + _CHUNK)) for lo in range(0, size, _CHUNK)]
    ready: SimpleQueue[int] = SimpleQueue()

    def prepare() -> None:
        for c, (lo, hi) in enumerate(chunks):
            _squared_returns(prices, lo, hi, log_returns, out)
            ready.put(c)

    prepared = helper_pool().submit(prepare)
    state = np.zeros(3)
    for lo, hi in chunks:
        while True:  # this chunk's squares, or the helper's error once it has ended
            try:
                ready.get(timeout=0.1)
                break
            except Empty:
                if prepared.done():
                    prepared.result()  # raises what stopped it
        _ewma_from_squares(out, lo, hi, decay, min_periods, state)


def _check_alpha(alpha: float, min_periods: int) -> None:
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    if int(min_periods) != min_periods or min_periods < 1:
        raise ValueError(f"min_periods must be a whole number >= 1, got {min_periods!r}")


def ewma_vol(prices: object, alpha: float, min_periods: int = 1, log_returns: bool = True, *,
             workers: int | None = None) -> np.ndarray:
    """EWMA volatility per bar of the returns of ``prices`` (see the module docstring).

    ``min_periods`` counts valid returns; before that the output is NaN. The recurrence is
    sequential; with ``workers`` > 1 (default: one below a million bars, else the CPUs this
    process may use) a second thread computes the returns ahead of it, chunk by chunk. The
    result does not depend on ``workers``.
    """
    _check_alpha(alpha, min_periods)
    arr = np.ascontiguousarray(prices, dtype=np.float64)
    out = np.empty(arr.shape[0])
    decay, minp, log = 1.0 - float(alpha), int(min_periods), bool(log_returns)
    threads = (default_workers(segment_count(arr.shape[0])) if workers is None
               else check_workers(workers))
    if threads > 1 and arr.shape[0] > _CHUNK:
        _ewma_vol_threaded(arr, decay, minp, log, out)
    else:
        _ewma_vol(arr, decay, minp, log, out)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _ewma_update(state: np.ndarray, price: float, decay: float, min_periods: int,
                 log_returns: bool) -> float:
    r = bar_return(state[3], price, log_returns)
    sq, valid = ewma_terms(r * r)
    state[0] = fma(state[0], decay, sq)
    state[1] = fma(state[1], decay, valid)
    state[2] += valid
    state[3] = price
    return ewma_output(state[0], state[1], state[2], min_periods)


class EwmaVol:
    """Incremental EWMA volatility per bar: O(1) per price, equal bit for bit to
    :func:`ewma_vol`."""

    __slots__ = ("_decay", "_state", "alpha", "log_returns", "min_periods", "value")

    def __init__(self, alpha: float, min_periods: int = 1, log_returns: bool = True) -> None:
        _check_alpha(alpha, min_periods)
        self.alpha = float(alpha)
        self.min_periods = int(min_periods)
        self.log_returns = bool(log_returns)
        self._decay = 1.0 - self.alpha
        self._state = np.array([0.0, 0.0, 0.0, math.nan])
        self.value = math.nan

    def update(self, price: float) -> float:
        """Add the newest price (NaN = missing bar); return the volatility per bar."""
        self.value = float(_ewma_update(self._state, float(price), self._decay,
                                        self.min_periods, self.log_returns))
        return self.value


# -- rolling -----------------------------------------------------------------------------------

def _check_window(window: int, min_periods: int | None) -> int:
    if int(window) != window or window < 2:
        raise ValueError(f"window must be a whole number of bars >= 2, got {window!r}")
    minp = int(window) if min_periods is None else int(min_periods)
    if not 2 <= minp <= window:
        raise ValueError(f"min_periods must be between 2 and window ({window}), got {min_periods!r}")
    return minp


def rolling_vol(prices: object, window: int, min_periods: int | None = None,
                log_returns: bool = True, *, workers: int | None = None) -> np.ndarray:
    """Rolling volatility per bar: sample std (ddof=1) of the last ``window`` returns.

    ``workers``: threads to use (default: one below a million bars, else the CPU count); the
    result does not depend on it.
    """
    minp = _check_window(window, min_periods)
    arr = np.ascontiguousarray(prices, dtype=np.float64)
    out = np.empty(arr.shape[0])
    w, log, size = int(window), bool(log_returns), arr.shape[0]
    unused = np.empty(0)

    # Each segment computes the returns it needs (its bars and the window before them) into a
    # buffer that stays in cache, then runs the rolling scan of bot_core.kernels.rolling. The
    # loop is Python's so that scan is compiled once for all rolling kernels.
    def segments(first: int, last: int) -> None:
        returns = np.empty(min(size, ANCHOR + w))
        for seg in range(first, last):
            lo = seg * ANCHOR
            hi = min(size, lo + ANCHOR)
            base = max(0, lo - w)
            returns_into(arr, base, hi, log, returns, base)
            scan(returns, base, lo, hi, w, minp, MODE_STD, out, unused)

    run_segments(segments, segment_count(arr.shape[0]), workers)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _rolling_vol_update(state: np.ndarray, ring: np.ndarray, price: float, min_periods: int,
                        log_returns: bool) -> float:
    r = bar_return(state[STATE_SIZE], price, log_returns)
    state[STATE_SIZE] = price
    rolling_push(state, ring, r)
    n = state[_N]
    inv_n, inv_dof = reciprocals(n)
    _, _, variance = moments_scalars(state[_K], n, inv_n, inv_dof, state[_S1], state[_C1],
                                     state[_S2], state[_C2], min_periods)
    return std_from_variance(variance)


class RollingVol:
    """Incremental rolling volatility per bar: O(1) amortised per price, equal bit for bit to
    :func:`rolling_vol`."""

    __slots__ = ("_ring", "_state", "log_returns", "min_periods", "value", "window")

    def __init__(self, window: int, min_periods: int | None = None,
                 log_returns: bool = True) -> None:
        self.min_periods = _check_window(window, min_periods)
        self.window = int(window)
        self.log_returns = bool(log_returns)
        self._state = np.zeros(STATE_SIZE + 1)
        self._state[_K] = math.nan  # shift k: unset
        self._state[STATE_SIZE] = math.nan  # previous price
        self._ring = np.full(self.window, math.nan)
        self.value = math.nan

    def update(self, price: float) -> float:
        """Add the newest price (NaN = missing bar); return the volatility per bar."""
        self.value = float(_rolling_vol_update(self._state, self._ring, float(price),
                                               self.min_periods, self.log_returns))
        return self.value
