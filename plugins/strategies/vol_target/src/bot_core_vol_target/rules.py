"""The volatility-targeting rule as one compiled step: the strategy's batch contract.

``decide`` is called by ``on_bar`` and by a backtest's compiled replay with the same arguments
(``bot_core.kernels.DECIDE_SIGNATURE``): the rebalancing band, measured in the equity of each
bar, is written here once. Importing this module imports numba.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from bot_core.kernels import DECIDE_SIGNATURE, decide_path

if TYPE_CHECKING:
    from bot_core_vol_target.settings import VolTargetSettings

__all__ = ["HOLD", "REASONS", "STATE_SIZE", "decide", "pack_params", "target_path", "with_history"]

_TARGET_VOL, _FLOOR, _MAX_LEV, _BAND = range(4)
HOLD, REBALANCE, WARMING, MISSING = range(4)
REASONS = ("hold", "rebalance", "warming_up", "vol_missing")
STATE_SIZE = 0
"""The rule keeps no state: the position it moves from is the strategy's own."""


def pack_params(settings: VolTargetSettings) -> np.ndarray:
    """Settings as the float64 vector the compiled rule reads (fractions, not percent)."""
    s = settings
    return np.array([s.target_vol_pct / 100.0, s.vol_floor_pct / 100.0, s.max_leverage,
                     s.rebalance_band_pct / 100.0], dtype=np.float64)


@njit(DECIDE_SIGNATURE, cache=True, nogil=True, error_model="numpy")
def decide(signal: np.ndarray, close: float, position: float, equity: float,
           state: np.ndarray, params: np.ndarray) -> tuple[float, int]:
    """New position from the current one: ``(target, reason code)``. ``signal[0]`` is the
    annualized volatility, ``signal[1]`` 1.0 once any estimate was seen (warm-up included).

    ``target = min(target_vol / max(vol, floor), max_leverage) * equity / close``; the position
    moves to it only when ``|target - position| * close >= band * equity``. Missing volatility
    (or price) holds the position, and before the first valid estimate the position is flat.
    """
    vol_annual = signal[0]
    if not (close > 0.0 and close < math.inf and equity > 0.0):
        return position, MISSING
    if vol_annual != vol_annual:
        return (position, MISSING) if signal[1] > 0.0 else (0.0, WARMING)
    vol = max(vol_annual, params[_FLOOR])
    leverage = min(params[_TARGET_VOL] / vol, params[_MAX_LEV])
    target = leverage * equity / close
    if abs(target - position) * close >= params[_BAND] * equity and target != position:
        return target, REBALANCE
    return position, HOLD


def with_history(vol_annual: np.ndarray) -> np.ndarray:
    """The rule's signal from a series of annualized volatilities: ``(bars, 2)``, the
    volatility and whether any estimate was seen up to that bar."""
    seen = np.maximum.accumulate(vol_annual == vol_annual) if len(vol_annual) else \
        np.zeros(0, dtype=bool)
    return np.ascontiguousarray(np.column_stack([vol_annual, seen.astype(np.float64)]))


def target_path(vol_annual: np.ndarray, close: np.ndarray, params: np.ndarray, equity: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Position and reason code of every bar from flat, every target reached at once
    (``bot_core.kernels.decide_path`` of :func:`decide`)."""
    return decide_path(decide, with_history(vol_annual), close, equity, STATE_SIZE, params)
