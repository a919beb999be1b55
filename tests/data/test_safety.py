"""Data safety: nothing written before everything is valid, one id one winner, a broken home or
manifest is one line, interrupts and crashes leave nothing behind (issue 11, items 1-5).

These run the real CLI in subprocesses (signals, races and crashes need real processes).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import bot_core.data as data
from bot_core.data.library import user_dir
from bot_core.data.manifest import sha256_file

DEMO_COUNT = 8
LOCK = ".manifest.lock"


def _export(path: Path, rows: int, price: float = 100.0) -> Path:
    """A plain ``time,open,high,low,close,volume`` export of 1-minute bars (epoch seconds)."""
    times = 1_704_067_200 + 60 * np.arange(rows)
    close = price + (np.arange(rows) % 97) * 0.01
    lines = [f"{t},{c},{c + 0.5},{c - 0.5},{c + 0.1},{1 + t % 7}" for t, c in
             zip(times.tolist(), close.tolist(), strict=True)]
    path.write_text("time,open,high,low,close,volume\n" + "\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def big_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400,000 bars: long enough to normalize, compress and write that a signal lands mid-import."""
    return _export(tmp_path_factory.mktemp("big") / "big.csv", 400_000)


def _cli(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bot_core", *args],
                            env={**os.environ, "BOT_CORE_HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _import_args(src: Path, dataset_id: str, *extra: str) -> list[str]:
    return ["data", "import", str(src), "--id", dataset_id, "--venue", "v", "--instrument",
            "BTC/USD", "--timeframe", "1m", *extra]


def _snapshot(directory: Path) -> dict[str, str]:
    """Every file in ``directory`` with the sha256 of its bytes."""
    return {p.name: sha256_file(p) for p in sorted(directory.iterdir())}


def _temp_files(directory: Path) -> list[str]:
    """Hidden files other than the lock: temporary files (of any bot-core version)."""
    return sorted(n for n in os.listdir(directory) if n.startswith(".") and n != LOCK)


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the import ended (exit {proc.returncode}) before {what}: "
                        f"{proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.002)


# -- 1. every argument validated before any byte is written ------------------------------------

@pytest.mark.parametrize("venue", ["", "v" * 65], ids=["empty", "65-characters"])
def test_bad_venue_with_force_keeps_the_old_dataset(run_cli, fixtures_dir: Path,
                                                    venue: str) -> None:
    first = run_cli(*_import_args(fixtures_dir / "kraken_xbtusd_1m.csv", "x"))
    assert first.returncode == 0, first.stderr
    before = _snapshot(user_dir())
    result = run_cli("data", "import", str(fixtures_dir / "binance_btcusdt_1m.csv"), "--id", "x",
                     "--venue", venue, "--instrument", "BTC/USD", "--timeframe", "1m", "--force")
    assert result.returncode == 1
    assert result.stderr.startswith("error: dataset x: venue ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr and f"({len(venue)} characters)" in result.stderr
    assert _snapshot(user_dir()) == before  # data file and manifest byte for byte
    assert run_cli("data", "validate", "x").returncode == 0  # checksum still matches


def test_bad_venue_for_a_new_id_leaves_no_file(run_cli, fixtures_dir: Path) -> None:
    run_cli(*_import_args(fixtures_dir / "kraken_xbtusd_1m.csv", "x"))
    before = _snapshot(user_dir())
    result = run_cli("data", "import", str(fixtures_dir / "kraken_xbtusd_1m.csv"), "--id", "y",
                     "--venue", "", "--instrument", "BTC/USD", "--timeframe", "1m")
    assert result.returncode == 1 and "venue ''" in result.stderr
    assert "Traceback" not in result.stderr
    assert _snapshot(user_dir()) == before  # no orphan y.csv, no temporary file


def test_bad_venue_in_a_fresh_home_creates_nothing(run_cli, fixtures_dir: Path,
                                                   bot_core_home: Path) -> None:
    result = run_cli("data", "import", str(fixtures_dir / "kraken_xbtusd_1m.csv"), "--id", "y",
                     "--venue", "", "--instrument", "BTC/USD", "--timeframe", "1m")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert list(bot_core_home.iterdir()) == []


# -- 2. one id, one winner ---------------------------------------------------------------------

def test_concurrent_imports_of_one_id_admit_exactly_one(bot_core_home: Path,
                                                        tmp_path: Path) -> None:
    """Four processes import different data under one id at once, three rounds: exactly one
    succeeds each time, the others are refused, and the survivor is whole and checksum-valid."""
    sources = [_export(tmp_path / f"src{n}.csv", 300, price=100.0 * (n + 1)) for n in range(4)]
    for round_number in range(3):
        dataset_id = f"same-{round_number}"
        procs = [_cli(bot_core_home, *_import_args(src, dataset_id)) for src in sources]
        results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
        winners = [n for n, (code, _, _) in enumerate(results) if code == 0]
        assert len(winners) == 1, [(code, err) for code, _, err in results]
        for code, _, err in (r for n, r in enumerate(results) if n != winners[0]):
            assert code == 1 and "already exists" in err and err.count("\n") == 1, err
        frame = data.load_dataset(dataset_id)  # verifies the checksum first
        expected = np.loadtxt(sources[winners[0]], delimiter=",", skiprows=1)
        np.testing.assert_array_equal(frame["close"].to_numpy(), expected[:, 4])
        assert len(frame) == 300
    entries = [e for e in data.list_datasets() if e.library == "user"]
    assert [e.id for e in entries] == ["same-0", "same-1", "same-2"]
    assert _temp_files(user_dir()) == []
    assert sorted(p.name for p in user_dir().glob("*.csv")) == [f"same-{n}.csv" for n in range(3)]


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_ctrl_c_is_held_back_between_the_two_renames() -> None:
    from bot_core.data.store import _interrupts_deferred

    seen: list[str] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append("handled"))
    try:
        with _interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            seen.append("renamed")
        assert seen == ["renamed", "handled"]
    finally:
        signal.signal(signal.SIGINT, previous)


# -- 3. a home that cannot be used is one line, for every command -------------------------------

def _home_commands(fixtures_dir: Path) -> list[tuple[str, ...]]:
    return [
        tuple(_import_args(fixtures_dir / "kraken_xbtusd_1m.csv", "k")),
        ("data", "validate", "my-data"),
        ("backtest", "--strategy", "mean_reversion", "--dataset", "my-data"),
    ]


@pytest.mark.parametrize("layout", ["home-is-a-file", "home-under-a-file"])
def test_unusable_home_is_one_line_for_every_command(run_cli, fixtures_dir: Path, tmp_path: Path,
                                                     layout: str) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the home should be\n")
    home = blocker if layout == "home-is-a-file" else blocker / "bot-core"
    env = {"BOT_CORE_HOME": str(home)}
    for args in _home_commands(fixtures_dir):
        result = run_cli(*args, env=env)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr, (args, result.stderr)
        assert result.stderr.count("\n") == 1, (args, result.stderr)
        assert f"{blocker} is a file, not a directory" in result.stderr, (args, result.stderr)
    assert blocker.read_text() == "a file where the home should be\n"
    listed = run_cli("data", "list", "--json", env=env)
    assert len(json.loads(listed.stdout)) == DEMO_COUNT  # the shipped ones, not silently
    assert listed.returncode == 1 and listed.stderr.startswith("warning: ")
    assert f"{blocker} is a file, not a directory" in listed.stderr
    checked = run_cli("data", "validate", "--json", env=env)
    report = json.loads(checked.stdout)
    assert checked.returncode == 1 and len(report["datasets"]) == DEMO_COUNT
    assert [f["check"] for f in report["findings"]] == ["user_library"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root writes into chmod-read-only directories; the /proc/self and "
                           "file-home variants cover the same one-line HomeError paths as root")
def test_read_only_home_is_one_line(run_cli, fixtures_dir: Path, bot_core_home: Path) -> None:
    (bot_core_home / "datasets").mkdir()
    bot_core_home.chmod(0o500)
    (bot_core_home / "datasets").chmod(0o500)
    try:
        result = run_cli(*_import_args(fixtures_dir / "kraken_xbtusd_1m.csv", "k"))
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr == (f"error: BOT_CORE_HOME={bot_core_home}: "
                                 f"{bot_core_home / 'datasets'} is not writable (read-only or "
                                 f"permission denied)\n")
        assert run_cli("data", "list").returncode == 0  # reading still works
    finally:
        bot_core_home.chmod(0o700)
        (bot_core_home / "datasets").chmod(0o700)


@pytest.mark.skipif(not Path("/proc/self").is_dir() or os.access("/proc/self", os.W_OK),
                    reason="needs Linux /proc, where not even root may create files")
def test_unwritable_home_is_one_line_even_for_root(run_cli, fixtures_dir: Path) -> None:
    """The read-only variant that holds as root too: /proc/self admits no new files."""
    env = {"BOT_CORE_HOME": "/proc/self/bot-core"}
    result = run_cli(*_import_args(fixtures_dir / "kraken_xbtusd_1m.csv", "k"), env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == ("error: BOT_CORE_HOME=/proc/self/bot-core: /proc/self is not "
                             "writable (read-only or permission denied)\n")
    assert run_cli("data", "list", env=env).returncode == 0  # nothing imported there: nothing wrong


# -- 4. interrupts and crashes -----------------------------------------------------------------

@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_second_interrupt_exits_quietly_with_130(bot_core_home: Path, big_export: Path) -> None:
    library = bot_core_home / "datasets"
    proc = _cli(bot_core_home, *_import_args(big_export, "big", "--format", "csv.gz"))
    _wait_for(lambda: library.is_dir() and bool(_temp_files(library)), proc,
              "the import started writing")
    proc.send_signal(signal.SIGINT)
    assert proc.stderr is not None
    first_line = proc.stderr.readline()  # the first interrupt has been handled...
    proc.send_signal(signal.SIGINT)  # ...and the second lands while the process winds down
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, first_line + rest
    assert first_line == "interrupted\n" and "Traceback" not in rest, first_line + rest
    assert not (library / "big.csv.gz").exists()
    assert _temp_files(library) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_next_import_sweeps_what_a_killed_import_left(run_cli, bot_core_home: Path,
                                                      big_export: Path, fixtures_dir: Path) -> None:
    library = bot_core_home / "datasets"
    proc = _cli(bot_core_home, *_import_args(big_export, "big", "--format", "csv.gz"))
    _wait_for(lambda: library.is_dir() and bool(_temp_files(library)), proc,
              "the import started writing")
    proc.kill()
    proc.wait(timeout=60)
    left = _temp_files(library)
    assert left, "SIGKILL mid-write leaves the temporary file (the premise of the test)"
    assert run_cli("data", "list").returncode == 0  # reading does not touch them
    assert _temp_files(library) == left
    result = run_cli(*_import_args(fixtures_dir / "kraken_xbtusd_1m.csv", "k"))
    assert result.returncode == 0, result.stderr
    assert _temp_files(library) == []
    assert sorted(os.listdir(library)) == [LOCK, "k.csv", "manifest.json"]


# -- 5. a corrupt user manifest hides nothing shipped ------------------------------------------

def test_corrupt_user_manifest_keeps_shipped_datasets_listed(run_cli, fixtures_dir: Path) -> None:
    assert run_cli(*_import_args(fixtures_dir / "kraken_xbtusd_1m.csv", "k")).returncode == 0
    manifest = user_dir() / "manifest.json"
    manifest.write_text("{not json")
    listed = run_cli("data", "list", "--json")
    assert [r["library"] for r in json.loads(listed.stdout)] == ["shipped"] * DEMO_COUNT
    assert listed.returncode == 1 and listed.stderr.count("\n") == 1
    assert listed.stderr.startswith(f"warning: {manifest}: cannot read dataset manifest")
    table = run_cli("data", "list", env={"COLUMNS": "200"})
    assert table.returncode == 1 and "demo-btc-usdt-1m" in table.stdout
    checked = run_cli("data", "validate", "--json")
    report = json.loads(checked.stdout)
    assert checked.returncode == 1 and len(report["datasets"]) == DEMO_COUNT
    (finding,) = report["findings"]
    assert (finding["check"], finding["dataset"]) == ("user_library", str(manifest))
    assert run_cli("data", "validate", "demo-ada-usdt-1m").returncode == 0
    mine = run_cli("data", "validate", "k")
    assert mine.returncode == 1 and mine.stderr.startswith(f"error: {manifest}: cannot read")
    refused = run_cli(*_import_args(fixtures_dir / "kraken_xbtusd_1m.csv", "k2"))
    assert refused.returncode == 1 and f"{manifest}: cannot read" in refused.stderr
    assert manifest.read_text() == "{not json"  # never overwritten: it still names k
    assert not (user_dir() / "k2.csv").exists()


def test_shipped_datasets_load_despite_a_corrupt_user_manifest() -> None:
    user_dir().mkdir(parents=True)
    (user_dir() / "manifest.json").write_text('{"manifest_version": 7, "datasets": []}')
    assert len(data.load_dataset("demo-ada-usdt-1m")) == 43_200
    with pytest.raises(data.DataError, match="manifest_version 7 is not supported"):
        data.get_dataset("mine")


def test_demo_picks_shipped_datasets_despite_a_corrupt_user_manifest() -> None:
    from bot_core.cli.demo_cmd import demo_datasets
    from bot_core.config.resolve import resolve_config
    from bot_core.plugins import load_plugins

    host = load_plugins()
    config = resolve_config(preset="balanced", universe="demo", plugins=host).config
    names = [n for n, s in config.strategies.items() if s.enabled]
    expected = demo_datasets(config, host, names)
    user_dir().mkdir(parents=True)
    (user_dir() / "manifest.json").write_text("[]")
    assert expected and demo_datasets(config, host, names) == expected
