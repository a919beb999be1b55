"""The mean-reversion decision rule as one compiled step: the strategy's batch contract.

``decide`` advances the per-instrument state by one bar and returns the target position; the
host calls it from ``on_bar`` and from a backtest's compiled replay, with the same arguments
(``bot_core.kernels.DECIDE_SIGNATURE``), so the two cannot disagree. :func:`target_path` runs it
over a whole series. Importing this module imports numba.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from bot_core.kernels import DECIDE_SIGNATURE, decide_path

if TYPE_CHECKING:
    from bot_core_mean_reversion.settings import MeanReversionSettings

__all__ = ["REASONS", "STATE_SIZE", "decide", "pack_params", "target_path"]

# state vector: side (+1 long, -1 short, 0 flat), entry price, bars held, quantity, blocked side
_SIDE, _ENTRY, _HELD, _QTY, _BLOCKED = 0, 1, 2, 3, 4
STATE_SIZE = 5
# params vector
_ENTRY_Z, _EXIT_Z, _SHORT, _STOP, _MAX_HOLD, _FIXED, _EQUITY_FRAC, _QUANTITY = range(8)

HOLD, ENTRY_LONG, ENTRY_SHORT, EXIT_Z, STOP, MAX_HOLD = range(6)
REASONS = ("hold", "entry_long", "entry_short", "exit_z", "stop_loss", "max_holding")
"""Reason code -> tag of the intent it causes."""


def pack_params(settings: MeanReversionSettings) -> np.ndarray:
    """The settings as the float64 vector the compiled rule reads."""
    s = settings
    return np.array([
        s.entry_z,
        s.exit_z,
        1.0 if s.allow_short else 0.0,
        math.nan if s.stop_loss_pct is None else s.stop_loss_pct / 100.0,
        0.0 if s.max_holding_bars is None else float(s.max_holding_bars),
        1.0 if s.sizing == "fixed_quantity" else 0.0,
        s.equity_pct / 100.0,
        math.nan if s.quantity is None else float(s.quantity),
    ], dtype=np.float64)


@njit(DECIDE_SIGNATURE, cache=True, nogil=True, error_model="numpy")
def decide(signal: np.ndarray, close: float, position: float, equity: float,
           state: np.ndarray, params: np.ndarray) -> tuple[float, int]:
    """One bar (``signal[0]``: its z-score): exits (stop, holding limit, z back at exit level),
    then entries.

    Returns ``(target signed position, reason code)``; the rule keeps its own position in
    ``state`` (what it decided), not ``position``. A NaN z (warm-up, missing bar) neither
    enters nor exits on the signal; stops and the holding limit still apply. After a stop or a
    holding-limit exit the same side cannot be re-entered until z crosses its exit level again
    (otherwise the rule would buy straight back into the move that stopped it out).
    """
    z = signal[0]
    side = state[_SIDE]
    reason = HOLD
    exit_z = params[_EXIT_Z]
    if side != 0.0:
        state[_HELD] += 1.0
        stop = params[_STOP]
        if close == close and stop == stop and (
                (side > 0.0 and close <= state[_ENTRY] * (1.0 - stop))
                or (side < 0.0 and close >= state[_ENTRY] * (1.0 + stop))):
            reason = STOP
        elif params[_MAX_HOLD] > 0.0 and state[_HELD] >= params[_MAX_HOLD]:
            reason = MAX_HOLD
        elif z == z and ((side > 0.0 and z >= exit_z) or (side < 0.0 and z <= -exit_z)):
            reason = EXIT_Z
        if reason != HOLD:
            if reason != EXIT_Z:
                state[_BLOCKED] = side
            side = 0.0
            state[_SIDE] = 0.0
            state[_QTY] = 0.0
            state[_HELD] = 0.0
    blocked = state[_BLOCKED]
    if z == z and ((blocked > 0.0 and z >= exit_z) or (blocked < 0.0 and z <= -exit_z)):
        state[_BLOCKED] = 0.0  # the signal has reset: the blocked side may be entered again
    if side == 0.0 and z == z and close == close and close > 0.0:
        new_side = 0.0
        if z <= -params[_ENTRY_Z] and state[_BLOCKED] <= 0.0:
            new_side = 1.0
        elif params[_SHORT] > 0.0 and z >= params[_ENTRY_Z] and state[_BLOCKED] >= 0.0:
            new_side = -1.0
        if new_side != 0.0:
            qty = params[_QUANTITY] if params[_FIXED] > 0.0 else \
                params[_EQUITY_FRAC] * equity / close
            if qty > 0.0 and qty < math.inf:
                side = new_side
                state[_SIDE] = side
                state[_ENTRY] = close
                state[_HELD] = 0.0
                state[_QTY] = qty
                reason = ENTRY_LONG if side > 0.0 else ENTRY_SHORT
    return side * state[_QTY], reason


def target_path(z: np.ndarray, close: np.ndarray, params: np.ndarray, equity: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Target position and reason code of every bar, from flat, every target reached at once
    (``bot_core.kernels.decide_path`` of :func:`decide`)."""
    return decide_path(decide, z, close, equity, STATE_SIZE, params)
