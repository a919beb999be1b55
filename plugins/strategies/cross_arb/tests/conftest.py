"""Test fixtures of the cross_arb plugin: an isolated BOT_CORE_HOME for every test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def bot_core_home(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("bot-core-home")
    monkeypatch.setenv("BOT_CORE_HOME", str(home))
    monkeypatch.delenv("BOT_CORE_DISABLE_PLUGINS", raising=False)
    return home
