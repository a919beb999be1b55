"""The state directory: BOT_CORE_HOME, or the platform's per-user data directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import platformdirs

from bot_core.home import bot_core_home, ensure_home


def test_home_follows_the_environment(tmp_path: Path) -> None:
    assert bot_core_home({"BOT_CORE_HOME": str(tmp_path / "h")}) == tmp_path / "h"
    assert bot_core_home({"BOT_CORE_HOME": "~/bots"}) == Path.home() / "bots"


def test_home_defaults_to_the_platform_user_data_dir() -> None:
    expected = Path(platformdirs.user_data_dir("bot-core", appauthor=False))
    assert bot_core_home({}) == expected


def test_ensure_home_creates_private_directories(tmp_path: Path) -> None:
    env = {"BOT_CORE_HOME": str(tmp_path / "state")}
    journal = ensure_home("journal", env)
    assert journal == tmp_path / "state" / "journal" and journal.is_dir()
    if os.name == "posix":
        assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert ensure_home("", env) == tmp_path / "state"


def test_cli_commands_write_nothing_into_the_working_directory(run_cli, tmp_path: Path) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    for args in (("plugins", "list"), ("presets", "list"), ("presets", "show", "balanced")):
        assert run_cli(*args, cwd=work).returncode == 0
    assert list(work.iterdir()) == []
