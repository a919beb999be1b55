"""The installed distribution registers ``cross_arb`` with the host."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import bot_core
from bot_core_cross_arb import CrossArbSettings, CrossArbStrategy


def test_discovered_by_load_plugins() -> None:
    host = bot_core.load_plugins()
    assert host.strategy("cross_arb") is CrossArbStrategy
    record = host.record("bot-core-cross-arb")
    assert record is not None and record.status == "enabled" and record.version == "0.1.0"
    assert record.components == {"strategy": ["cross_arb"]}
    assert CrossArbStrategy.contract_problems() == []
    assert CrossArbStrategy.data_kind == "quotes"


def test_cli_lists_it() -> None:
    out = subprocess.run([sys.executable, "-m", "bot_core", "plugins", "list", "--json"],
                         capture_output=True, text=True, check=False, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    rows = rows["plugins"] if isinstance(rows, dict) else rows
    assert [r["status"] for r in rows if r["name"] == "cross_arb"] == ["enabled"]


def test_needs_two_venues_and_its_own_settings() -> None:
    with pytest.raises(ValueError, match="exactly two different venues"):
        CrossArbStrategy(CrossArbSettings(), venues=["venue_a"])
    with pytest.raises(ValueError, match="exactly two different venues"):
        CrossArbStrategy(CrossArbSettings(), venues=["venue_a", "venue_a"])
    with pytest.raises(TypeError, match="CrossArbSettings"):
        CrossArbStrategy(bot_core.StrategySettings(), venues=["a", "b"])
