"""Realized volatility of bar returns: EWMA and rolling, batch and incremental.

Both estimators work on the returns of one price series, bar to bar:

* ``log_returns=True``: ``r_t = log(p_t / p_{t-1})``, computed as
  ``log1p((p_t - p_{t-1}) / p_{t-1})``: the difference of two nearby prices is exact, so a
  return of 1e-7 keeps its digits (``log(p_t / p_{t-1})`` would not);
* ``log_returns=False``: ``r_t = (p_t - p_{t-1}) / p_{t-1}`` (simple returns).

A return is missing (NaN) when either price is (the first bar, NaN gaps), as
``np.log(s).diff()`` in pandas.

EWMA (``ewma_vol``): the zero-mean RiskMetrics estimator with pandas' ``adjust=True`` weights,
``var_t = sum_i w_i r_{t-i}^2 / sum_i w_i`` with ``w_i = (1 - alpha)^i`` over the *positions*
``i`` (a missing return still ages the older ones, as ``ignore_na=False``); the same as
``np.sqrt((r ** 2).ewm(alpha=alpha, min_periods=m).mean())``. Both sums decay by the same
factor, so during a gap the estimate holds its last value.

Rolling (``rolling_vol``): the sample standard deviation (ddof=1) of the last ``window`` returns,
as ``r.rolling(window, min_periods).std()``, with the accurate O(1) update of
:mod:`bot_core.kernels.rolling`.

The kernels return volatility *per bar*; multiply by ``sqrt(bars per year)`` to annualise (see
:func:`annualization_factor`). Zero variance gives 0.0, never inf; missing gives NaN.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from bot_core.kernels.rolling import (
    STATE_SIZE,
    moments_scalars,
    needs_rebuild,
    push_scalars,
    rebuild_scalars,
    reciprocals,
    rolling_push,
    std_from_variance,
)

__all__ = [
    "EwmaVol",
    "RollingVol",
    "alpha_from_halflife",
    "annualization_factor",
    "bar_returns",
    "ewma_vol",
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


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def bar_return(previous: float, price: float, log_returns: bool) -> float:
    """Return from ``previous`` to ``price`` (NaN when either is missing)."""
    simple = (price - previous) / previous
    return math.log1p(simple) if log_returns else simple


@njit(cache=True, nogil=True, error_model="numpy")
def _bar_returns(prices: np.ndarray, log_returns: bool) -> np.ndarray:
    out = np.empty(prices.shape[0])
    if prices.shape[0]:
        out[0] = math.nan
    for i in range(1, prices.shape[0]):
        out[i] = bar_return(prices[i - 1], prices[i], log_returns)
    return out


def bar_returns(prices: object, log_returns: bool = True) -> np.ndarray:
    """Bar-to-bar returns of ``prices`` (first element NaN), as the kernels compute them."""
    return _bar_returns(np.ascontiguousarray(prices, dtype=np.float64), bool(log_returns))


# -- EWMA --------------------------------------------------------------------------------------

@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def ewma_step(num: float, den: float, count: float, r: float, decay: float
              ) -> tuple[float, float, float]:
    """One bar of the EWMA of squared returns: both sums decay, a valid return is added."""
    num *= decay
    den *= decay
    if r == r:
        num += r * r
        den += 1.0
        count += 1.0
    return num, den, count


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def ewma_output(num: float, den: float, count: float, min_periods: int) -> float:
    if count < min_periods or not den > 0.0:
        return math.nan
    return math.sqrt(num / den)


@njit(cache=True, nogil=True, error_model="numpy")
def _ewma_vol(prices: np.ndarray, alpha: float, min_periods: int, log_returns: bool
              ) -> np.ndarray:
    size = prices.shape[0]
    out = np.empty(size)
    decay = 1.0 - alpha
    num = den = count = 0.0
    previous = math.nan
    for i in range(size):
        price = prices[i]
        num, den, count = ewma_step(num, den, count, bar_return(previous, price, log_returns),
                                    decay)
        previous = price
        out[i] = ewma_output(num, den, count, min_periods)
    return out


def _check_alpha(alpha: float, min_periods: int) -> None:
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    if int(min_periods) != min_periods or min_periods < 1:
        raise ValueError(f"min_periods must be a whole number >= 1, got {min_periods!r}")


def ewma_vol(prices: object, alpha: float, min_periods: int = 1, log_returns: bool = True
             ) -> np.ndarray:
    """EWMA volatility per bar of the returns of ``prices`` (see the module docstring).

    ``min_periods`` counts valid returns; before that the output is NaN.
    """
    _check_alpha(alpha, min_periods)
    arr = np.ascontiguousarray(prices, dtype=np.float64)
    return _ewma_vol(arr, float(alpha), int(min_periods), bool(log_returns))


@njit(cache=True, nogil=True, error_model="numpy")
def _ewma_update(state: np.ndarray, price: float, decay: float, min_periods: int,
                 log_returns: bool) -> float:
    num, den, count = ewma_step(state[0], state[1], state[2],
                                bar_return(state[3], price, log_returns), decay)
    state[0] = num
    state[1] = den
    state[2] = count
    state[3] = price
    return ewma_output(num, den, count, min_periods)


class EwmaVol:
    """Incremental EWMA volatility per bar: O(1) per price, equal to :func:`ewma_vol`."""

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

@njit(cache=True, nogil=True, error_model="numpy")
def _rolling_vol(prices: np.ndarray, window: int, min_periods: int, log_returns: bool
                 ) -> np.ndarray:
    size = prices.shape[0]
    out = np.empty(size)
    ring = np.full(window, math.nan)
    pos = 0
    k = math.nan
    n = s1 = c1 = s2 = c2 = 0.0
    n_seen = -1.0
    inv_n = inv_dof = math.nan
    previous = math.nan
    for i in range(size):
        price = prices[i]
        r = bar_return(previous, price, log_returns)
        previous = price
        old = ring[pos]
        ring[pos] = r
        pos += 1
        if pos == window:
            pos = 0
        k, n, s1, c1, s2, c2 = push_scalars(k, n, s1, c1, s2, c2, old, r)
        if n != n_seen:
            inv_n, inv_dof = reciprocals(n)
            n_seen = n
        if needs_rebuild(n, inv_n, s1, c1, s2, c2):
            k, s1, c1, s2, c2 = rebuild_scalars(ring, pos, window)
        _, _, variance = moments_scalars(k, n, inv_n, inv_dof, s1, c1, s2, c2, min_periods)
        out[i] = std_from_variance(variance)
    return out


def _check_window(window: int, min_periods: int | None) -> int:
    if int(window) != window or window < 2:
        raise ValueError(f"window must be a whole number of bars >= 2, got {window!r}")
    minp = int(window) if min_periods is None else int(min_periods)
    if not 2 <= minp <= window:
        raise ValueError(f"min_periods must be between 2 and window ({window}), got {min_periods!r}")
    return minp


def rolling_vol(prices: object, window: int, min_periods: int | None = None,
                log_returns: bool = True) -> np.ndarray:
    """Rolling volatility per bar: sample std (ddof=1) of the last ``window`` returns."""
    minp = _check_window(window, min_periods)
    arr = np.ascontiguousarray(prices, dtype=np.float64)
    return _rolling_vol(arr, int(window), minp, bool(log_returns))


@njit(cache=True, nogil=True, error_model="numpy")
def _rolling_vol_update(state: np.ndarray, ring: np.ndarray, price: float, min_periods: int,
                        log_returns: bool) -> float:
    r = bar_return(state[STATE_SIZE], price, log_returns)
    state[STATE_SIZE] = price
    rolling_push(state, ring, r)
    inv_n, inv_dof = reciprocals(state[5])
    _, _, variance = moments_scalars(state[0], state[5], inv_n, inv_dof, state[1], state[2],
                                     state[3], state[4], min_periods)
    return std_from_variance(variance)


class RollingVol:
    """Incremental rolling volatility per bar: O(1) amortised per price, equal to
    :func:`rolling_vol`."""

    __slots__ = ("_ring", "_state", "log_returns", "min_periods", "value", "window")

    def __init__(self, window: int, min_periods: int | None = None,
                 log_returns: bool = True) -> None:
        self.min_periods = _check_window(window, min_periods)
        self.window = int(window)
        self.log_returns = bool(log_returns)
        self._state = np.zeros(STATE_SIZE + 1)
        self._state[0] = math.nan  # shift k: unset
        self._state[STATE_SIZE] = math.nan  # previous price
        self._ring = np.full(self.window, math.nan)
        self.value = math.nan

    def update(self, price: float) -> float:
        """Add the newest price (NaN = missing bar); return the volatility per bar."""
        self.value = float(_rolling_vol_update(self._state, self._ring, float(price),
                                               self.min_periods, self.log_returns))
        return self.value
