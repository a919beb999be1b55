"""The volatility-targeting rule as one compiled step, shared by the live and batch paths.

Importing this module imports numba.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["HOLD", "REASONS", "decide", "leverage_path", "pack_params", "target_path"]

_TARGET_VOL, _FLOOR, _MAX_LEV, _BAND = range(4)
HOLD, REBALANCE, WARMING, MISSING = range(4)
REASONS = ("hold", "rebalance", "warming_up", "vol_missing")


def pack_params(settings: object) -> np.ndarray:
    """Settings as the float64 vector the compiled rule reads (fractions, not percent)."""
    s = settings
    return np.array([
        s.target_vol_pct / 100.0,  # type: ignore[attr-defined]
        s.vol_floor_pct / 100.0,  # type: ignore[attr-defined]
        s.max_leverage,  # type: ignore[attr-defined]
        s.rebalance_band_pct / 100.0,  # type: ignore[attr-defined]
    ], dtype=np.float64)


@njit(cache=True, nogil=True, error_model="numpy")
def decide(position: float, vol_annual: float, close: float, equity: float, params: np.ndarray,
           ever_valid: bool) -> tuple[float, int]:
    """New position from the current one: ``(target, reason code)``.

    ``target = min(target_vol / max(vol, floor), max_leverage) * equity / close``; the position
    moves to it only when ``|target - position| * close >= band * equity``. Missing volatility
    (or price) holds the position, and before the first valid estimate the position is flat.
    """
    if not (close > 0.0 and close < math.inf and equity > 0.0):
        return position, MISSING
    if vol_annual != vol_annual:
        return (position, MISSING) if ever_valid else (0.0, WARMING)
    vol = max(vol_annual, params[_FLOOR])
    leverage = min(params[_TARGET_VOL] / vol, params[_MAX_LEV])
    target = leverage * equity / close
    if abs(target - position) * close >= params[_BAND] * equity and target != position:
        return target, REBALANCE
    return position, HOLD


@njit(cache=True, nogil=True, error_model="numpy")
def target_path(vol_annual: np.ndarray, close: np.ndarray, params: np.ndarray, equity: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Position and reason code of every bar from flat: the batch form of ``decide``."""
    size = close.shape[0]
    out = np.empty(size)
    reasons = np.empty(size, dtype=np.int8)
    position = 0.0
    ever_valid = False
    for i in range(size):
        if vol_annual[i] == vol_annual[i]:
            ever_valid = True
        position, reason = decide(position, vol_annual[i], close[i], equity, params, ever_valid)
        out[i] = position
        reasons[i] = reason
    return out, reasons


def leverage_path(vol_annual: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, float]:
    """The target of every bar as a fraction of equity (``target * close / equity`` of
    :func:`decide`), NaN where the volatility is missing (``decide`` holds there, and is flat
    before the first estimate, which a run from flat also is), with the same operations as
    ``decide``, element by element; and the rebalancing band, a share of equity."""
    with np.errstate(divide="ignore", invalid="ignore"):
        vol = np.maximum(vol_annual, params[_FLOOR])  # NaN stays NaN
        fractions: np.ndarray = np.minimum(params[_TARGET_VOL] / vol, params[_MAX_LEV])
    return fractions, float(params[_BAND])
