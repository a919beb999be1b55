"""The state directory: BOT_CORE_HOME, or the platform's per-user data directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import platformdirs
import pytest

from bot_core.errors import HomeError
from bot_core.home import bot_core_home, ensure_home, readable_home, writable_home


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


def test_a_file_in_the_way_is_a_home_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for home, shown in ((blocker, str(blocker)), (blocker / "below", str(blocker))):
        env = {"BOT_CORE_HOME": str(home)}
        for check in (readable_home, writable_home, ensure_home):
            with pytest.raises(HomeError, match=f"^BOT_CORE_HOME={home}: {shown} is a file, not "
                                                f"a directory$") as caught:
                check("datasets", env)
            assert caught.value.path == shown and caught.value.exit_code == 2
    assert blocker.read_text() == "x"


def test_a_missing_home_reads_as_empty_and_is_created_on_write(tmp_path: Path) -> None:
    env = {"BOT_CORE_HOME": str(tmp_path / "new" / "home")}
    assert readable_home("datasets", env) == tmp_path / "new" / "home" / "datasets"
    assert writable_home("datasets", env) == tmp_path / "new" / "home" / "datasets"
    assert not (tmp_path / "new").exists()
    assert ensure_home("datasets", env).is_dir()


@pytest.mark.skipif(not Path("/proc/self").is_dir() or os.access("/proc/self", os.W_OK),
                    reason="needs Linux /proc, where not even root may create files")
def test_a_directory_nobody_may_write_is_a_home_error() -> None:
    env = {"BOT_CORE_HOME": "/proc/self/bot-core"}
    with pytest.raises(HomeError, match=r"/proc/self is not writable \(read-only or permission"):
        ensure_home("datasets", env)
    assert readable_home("datasets", env) == Path("/proc/self/bot-core/datasets")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root reads and writes whatever the mode bits say; the tests above "
                           "cover the same HomeError paths as root")
def test_permission_bits_are_home_errors(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o500)
    env = {"BOT_CORE_HOME": str(home)}
    try:
        with pytest.raises(HomeError, match="is not writable"):
            ensure_home("datasets", env)
        home.chmod(0o000)
        with pytest.raises(HomeError, match="is not readable"):
            readable_home("", env)
        with pytest.raises(HomeError, match="cannot look inside"):
            readable_home("datasets", env)
    finally:
        home.chmod(0o700)
