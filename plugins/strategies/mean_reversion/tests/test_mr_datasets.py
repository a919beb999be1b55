"""The strategy produces signals on the shipped demo datasets."""

from __future__ import annotations

import numpy as np
import pytest

from bot_core.data import load_dataset
from bot_core.testing import run_bars
from bot_core_mean_reversion import MeanReversionSettings, MeanReversionStrategy

DATASETS = ["demo-btc-usdt-1m", "demo-eth-usdt-1m", "demo-sol-usdt-1m", "demo-ada-usdt-1m"]


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("profile", ["conservative", "balanced", "aggressive"])
def test_signals_on_shipped_data(dataset: str, profile: str) -> None:
    frame = load_dataset(dataset)
    settings = MeanReversionSettings(**MeanReversionSettings.profile_defaults[profile])
    strategy = MeanReversionStrategy(settings, instruments=["X/USDT"], venues=["venue_a"])
    decisions = strategy.decisions(frame, 100_000.0)
    counts = decisions["reason"].value_counts()
    assert counts.get("entry_long", 0) >= 10 and counts.get("exit_z", 0) >= 10
    if settings.allow_short:
        assert counts.get("entry_short", 0) >= 10
    assert np.isfinite(decisions["target"]).all()


def test_live_equals_batch_on_shipped_data() -> None:
    frame = load_dataset("demo-btc-usdt-1m").iloc[:4000]
    values = MeanReversionSettings.profile_defaults["aggressive"]
    live, intents = run_bars(
        MeanReversionStrategy(MeanReversionSettings(**values), venues=["venue_a"]), frame)
    batch = MeanReversionStrategy(MeanReversionSettings(**values)).target_positions(
        frame, 100_000.0)
    assert len(intents) > 20
    np.testing.assert_allclose(live, batch, rtol=1e-12, atol=0.0)
