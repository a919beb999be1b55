"""The installed distribution registers ``mean_reversion`` with the host."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import bot_core
from bot_core_mean_reversion import MeanReversionSettings, MeanReversionStrategy


def test_discovered_by_load_plugins() -> None:
    host = bot_core.load_plugins()
    assert host.strategy("mean_reversion") is MeanReversionStrategy
    record = host.record("bot-core-mean-reversion")
    assert record is not None and record.status == "enabled"
    assert record.version == "0.1.0"
    assert record.components == {"strategy": ["mean_reversion"]}
    assert MeanReversionStrategy.contract_problems() == []


def test_blocked_by_environment_switch() -> None:
    host = bot_core.load_plugins(environ={"BOT_CORE_DISABLE_PLUGINS": "bot-core-mean-reversion"})
    assert "mean_reversion" not in host.strategies
    assert host.record("mean_reversion").status == "blocked"  # type: ignore[union-attr]


def test_cli_lists_it_without_importing_numba_or_pandas() -> None:
    env = {**os.environ}
    out = subprocess.run([sys.executable, "-m", "bot_core", "plugins", "list", "--json"],
                         capture_output=True, text=True, env=env, check=False, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    rows = rows["plugins"] if isinstance(rows, dict) else rows
    mine = [r for r in rows if r["name"] == "mean_reversion"]
    assert mine and mine[0]["status"] == "enabled"
    probe = ("import sys, bot_core; bot_core.load_plugins(); "
             "print('numba' in sys.modules, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=env, check=False, timeout=120)
    assert out.stdout.split() == ["False", "False"], out.stdout + out.stderr


def test_strategy_needs_its_own_settings() -> None:
    with pytest.raises(TypeError, match="MeanReversionSettings"):
        MeanReversionStrategy(bot_core.StrategySettings())
    s = MeanReversionStrategy(MeanReversionSettings(), name="mr1", instruments=["BTC/USDT"],
                              venues=["venue_a"])
    assert s.name == "mr1" and s.data_kind == "ohlcv"
