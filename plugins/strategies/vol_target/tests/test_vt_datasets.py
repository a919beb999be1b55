"""The strategy produces signals on the shipped demo datasets."""

from __future__ import annotations

import numpy as np
import pytest

from bot_core.data import load_dataset
from bot_core.testing import run_bars
from bot_core_vol_target import VolTargetSettings, VolTargetStrategy

DATASETS = ["demo-btc-usdt-1m", "demo-eth-usdt-1m", "demo-sol-usdt-1m", "demo-ada-usdt-1m"]


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("profile", ["conservative", "balanced", "aggressive"])
def test_signals_on_shipped_data(dataset: str, profile: str) -> None:
    frame = load_dataset(dataset)
    settings = VolTargetSettings(**VolTargetSettings.profile_defaults[profile])
    decisions = VolTargetStrategy(settings).decisions(frame, 100_000.0)
    rebalances = (decisions["reason"] == "rebalance").sum()
    assert rebalances >= (1 if profile == "conservative" else 20)
    vol = decisions["vol_annual"].dropna()
    assert ((vol > 0.01) & (vol < 10)).all()  # annualized, plausible for crypto minute bars
    # the position is set at most max_leverage x equity and left alone while the price moves
    # it by less than the rebalance band: that sum bounds its notional
    notional = (decisions["target"] * frame["close"]).abs().max()
    bound = (settings.max_leverage + settings.rebalance_band_pct / 100.0) * 100_000.0
    assert notional <= bound * (1 + 1e-12)


def test_live_equals_batch_on_shipped_data() -> None:
    frame = load_dataset("demo-eth-usdt-1m").iloc[:10_000]
    values = VolTargetSettings.profile_defaults["aggressive"]
    live, intents = run_bars(VolTargetStrategy(VolTargetSettings(**values)), frame)
    batch = VolTargetStrategy(VolTargetSettings(**values)).target_positions(frame, 100_000.0)
    assert len(intents) > 20
    np.testing.assert_allclose(live, batch, rtol=1e-12, atol=0.0)
