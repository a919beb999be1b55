"""The compiled vol-target rule: sizing, cap, floor, band, missing data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot_core_vol_target import VolTargetSettings
from bot_core_vol_target.rules import REASONS, pack_params, target_path
from bot_core_vol_target.rules import decide as compiled_decide

NAN = math.nan


def decide(position: float, vol: float, close: float, equity: float, params: np.ndarray,
           ever_valid: bool) -> tuple[float, int]:
    """The compiled rule (the batch contract's signature) from plain arguments."""
    signal = np.array([vol, 1.0 if ever_valid else 0.0])
    return compiled_decide(signal, close, position, equity, np.zeros(0), params)


def params(**values: object) -> np.ndarray:
    base = {"target_vol_pct": 20.0, "vol_floor_pct": 5.0, "max_leverage": 2.0,
            "rebalance_band_pct": 2.0}
    return pack_params(VolTargetSettings(**{**base, **values}))


def test_target_is_vol_ratio_times_equity_over_price() -> None:
    target, reason = decide(0.0, 0.40, 100.0, 10_000.0, params(), True)
    assert target == pytest.approx(0.5 * 10_000 / 100)
    assert REASONS[reason] == "rebalance"


def test_leverage_cap_and_vol_floor() -> None:
    capped, _ = decide(0.0, 0.05, 100.0, 10_000.0, params(), True)
    assert capped == pytest.approx(2.0 * 10_000 / 100)  # 20% / 5% = 4x, capped at 2x
    floored, _ = decide(0.0, 0.0, 100.0, 10_000.0, params(max_leverage=10.0), True)
    assert floored == pytest.approx(4.0 * 10_000 / 100)  # zero vol -> the 5% floor, not inf
    assert math.isfinite(floored)


def test_band_suppresses_small_rebalances() -> None:
    p = params(rebalance_band_pct=5.0)
    held, reason = decide(50.0, 0.41, 100.0, 10_000.0, p, True)  # target 48.8: 1.2% of equity
    assert held == 50.0 and REASONS[reason] == "hold"
    moved, reason = decide(50.0, 0.50, 100.0, 10_000.0, p, True)  # target 40: 10% of equity
    assert moved == pytest.approx(40.0) and REASONS[reason] == "rebalance"


def test_missing_vol_holds_and_warm_up_is_flat() -> None:
    assert decide(0.0, NAN, 100.0, 1e4, params(), False) == (0.0, 2)
    assert decide(30.0, NAN, 100.0, 1e4, params(), True) == (30.0, 3)
    assert decide(30.0, 0.2, NAN, 1e4, params(), True) == (30.0, 3)
    assert decide(30.0, 0.2, 100.0, 0.0, params(), True) == (30.0, 3)


def test_target_path_from_flat() -> None:
    vol = np.array([NAN, NAN, 0.4, 0.41, 0.8, NAN, 0.8])
    close = np.full(7, 100.0)
    path, reasons = target_path(vol, close, params(), 10_000.0)
    assert path.tolist() == [0, 0, 50, 50, 25, 25, 25]
    assert [REASONS[r] for r in reasons] == ["warming_up", "warming_up", "rebalance", "hold",
                                             "rebalance", "vol_missing", "hold"]
