"""Host test suite fixtures.

Every test gets its own ``BOT_CORE_HOME`` (the autouse fixture from :mod:`bot_core.testing`,
the same one plugin authors use), so nothing is written to the real per-user directory and
tests cannot see each other's imported datasets or state.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot_core.testing import bot_core_home  # noqa: F401 - autouse fixture


@pytest.fixture
def run_cli(bot_core_home: Path):  # noqa: F811 - depends on the imported fixture
    """Run the real ``bot-core`` CLI in a subprocess; returns the CompletedProcess."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "BOT_CORE_HOME": str(bot_core_home), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "bot_core", *args],
            capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout, check=False,
        )

    return run
