"""The installed distribution registers ``vol_target`` with the host."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import bot_core
from bot_core_vol_target import VolTargetSettings, VolTargetStrategy


def test_discovered_by_load_plugins() -> None:
    host = bot_core.load_plugins()
    assert host.strategy("vol_target") is VolTargetStrategy
    record = host.record("bot-core-vol-target")
    assert record is not None and record.status == "enabled" and record.version == "0.1.0"
    assert record.components == {"strategy": ["vol_target"]}
    assert VolTargetStrategy.contract_problems() == []


def test_cli_lists_it() -> None:
    out = subprocess.run([sys.executable, "-m", "bot_core", "plugins", "list", "--json"],
                         capture_output=True, text=True, check=False, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    rows = rows["plugins"] if isinstance(rows, dict) else rows
    assert [r["status"] for r in rows if r["name"] == "vol_target"] == ["enabled"]


def test_needs_its_own_settings() -> None:
    with pytest.raises(TypeError, match="VolTargetSettings"):
        VolTargetStrategy(bot_core.StrategySettings())
    assert VolTargetStrategy(VolTargetSettings()).name == "vol_target"
