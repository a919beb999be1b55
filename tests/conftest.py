"""Host test suite fixtures.

Every test gets its own ``BOT_CORE_HOME`` so nothing is written to the real per-user directory
and tests cannot see each other's imported datasets or state.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def bot_core_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("bot-core-home")
    monkeypatch.setenv("BOT_CORE_HOME", str(home))
    monkeypatch.delenv("BOT_CORE_DISABLE_PLUGINS", raising=False)
    return home


@pytest.fixture
def run_cli(bot_core_home: Path):
    """Run the real ``bot-core`` CLI in a subprocess; returns the CompletedProcess."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "BOT_CORE_HOME": str(bot_core_home), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "bot_core", *args],
            capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout, check=False,
        )

    return run
