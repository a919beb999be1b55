"""The compiled mean-reversion rule, bar by bar, on hand-made z-score paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot_core_mean_reversion import MeanReversionSettings
from bot_core_mean_reversion.rules import REASONS, pack_params, target_path

NAN = math.nan


def run(z: list[float], close: list[float] | float = 100.0, equity: float = 10_000.0,
        **overrides: object) -> tuple[list[float], list[str]]:
    settings = MeanReversionSettings(**{"entry_z": 2.0, "exit_z": 0.0, **overrides})
    closes = close if isinstance(close, list) else [close] * len(z)
    targets, reasons = target_path(np.array(z, dtype=float), np.array(closes, dtype=float),
                                   pack_params(settings), equity)
    return targets.tolist(), [REASONS[r] for r in reasons]


def test_enters_long_at_minus_entry_z_and_exits_at_exit_z() -> None:
    targets, reasons = run([NAN, -1.0, -2.0, -1.5, -0.1, 0.0, 0.5], equity_pct=10.0)
    qty = 0.10 * 10_000.0 / 100.0
    assert targets == [0, 0, qty, qty, qty, 0, 0]
    assert reasons == ["hold", "hold", "entry_long", "hold", "hold", "exit_z", "hold"]


def test_no_short_unless_allowed() -> None:
    assert run([2.5, 3.0, 0.0])[0] == [0, 0, 0]
    targets, reasons = run([2.5, 1.0, 0.1, 0.0], allow_short=True, equity_pct=10.0)
    assert targets == [-10, -10, -10, 0]
    assert reasons[0] == "entry_short" and reasons[3] == "exit_z"


def test_reversal_on_the_same_bar() -> None:
    targets, reasons = run([-2.0, 2.0], allow_short=True, equity_pct=10.0)
    assert targets == [10, -10]
    assert reasons == ["entry_long", "entry_short"]


def test_positive_exit_z_holds_longer() -> None:
    targets, _ = run([-2.0, 0.0, 0.4, 0.5], exit_z=0.5, equity_pct=10.0)
    assert targets == [10, 10, 10, 0]


def test_stop_loss_exits_and_blocks_re_entry_until_the_signal_resets() -> None:
    z = [-2.0, -2.5, -3.0, -3.0, -1.0, 0.2, -2.2]
    close = [100.0, 99.0, 97.9, 97.0, 98.0, 99.0, 98.5]
    targets, reasons = run(z, close, stop_loss_pct=2.0, equity_pct=10.0)
    assert reasons[:3] == ["entry_long", "hold", "stop_loss"]
    assert targets[2:6] == [0, 0, 0, 0]  # z <= -entry_z again at bar 3, but blocked
    assert reasons[6] == "entry_long" and targets[6] == pytest.approx(1000 / 98.5)


def test_short_stop_uses_price_above_entry() -> None:
    targets, reasons = run([2.0, 2.0, 2.5], [100.0, 101.0, 102.0], allow_short=True,
                           stop_loss_pct=2.0, equity_pct=10.0)
    assert reasons == ["entry_short", "hold", "stop_loss"]
    assert targets[2] == 0


def test_max_holding_period() -> None:
    targets, reasons = run([-2.0, -1.0, -1.0, -1.0, -2.5], max_holding_bars=3, equity_pct=10.0)
    assert reasons[:4] == ["entry_long", "hold", "hold", "max_holding"]
    assert targets[:4] == [10, 10, 10, 0]
    assert targets[4] == 0  # still blocked: z has not been back to exit_z


def test_missing_z_neither_enters_nor_exits_but_stop_still_applies() -> None:
    targets, reasons = run([-2.0, NAN, NAN, NAN], [100.0, 100.0, 99.0, 90.0],
                           stop_loss_pct=5.0, equity_pct=10.0)
    assert targets == [10, 10, 10, 0]
    assert reasons[3] == "stop_loss"
    assert run([NAN, -5.0], [100.0, NAN])[0] == [0, 0]  # missing close: no entry


def test_fixed_quantity_sizing() -> None:
    targets, _ = run([-2.0, 0.0], sizing="fixed_quantity", quantity=0.25)
    assert targets == [0.25, 0]


def test_equity_pct_sizing_uses_entry_close_and_keeps_size_while_held() -> None:
    targets, _ = run([-2.0, -1.0], [50.0, 10.0], equity=20_000.0, equity_pct=5.0)
    assert targets == [20.0, 20.0]
