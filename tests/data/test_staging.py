"""Temporary files named after their owner process, and the sweep of those whose owner died."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot_core.data.staging import _host_tag, pid_alive, staged, sweep_stale, temp_path


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=60)
    return child.pid


def test_temp_path_names_this_process(tmp_path: Path) -> None:
    target = tmp_path / "x.csv.gz"
    first, second = temp_path(target), temp_path(target)
    assert first != second and first.parent == tmp_path and not first.exists()
    assert first.name.startswith(f".x.csv.gz~{_host_tag()}-{os.getpid()}-")
    assert first.name.endswith(".tmp")


def test_staged_removes_what_was_not_renamed(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), staged(tmp_path / "x.csv") as tmp:
        tmp.write_text("half")
        raise RuntimeError("failed mid-write")
    assert list(tmp_path.iterdir()) == []
    with staged(tmp_path / "x.csv") as tmp:
        tmp.write_text("whole")
        tmp.replace(tmp_path / "x.csv")
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]


def test_pid_alive() -> None:
    assert pid_alive(os.getpid()) and pid_alive(os.getppid())
    assert not pid_alive(_dead_pid())
    assert not pid_alive(0)


def test_sweep_removes_only_files_of_dead_processes_on_this_machine(tmp_path: Path) -> None:
    host = _host_tag()
    other_host = "0" * 8 if host != "0" * 8 else "1" * 8
    dead = _dead_pid()
    names = {
        f".a.csv~{host}-{dead}-0badf00d.tmp": False,  # owner died: removed
        f".manifest.json~{host}-{dead}-12345678.tmp": False,
        f".b.csv~{host}-{os.getpid()}-0badf00d.tmp": True,  # owner alive: kept
        f".c.csv~{other_host}-{dead}-0badf00d.tmp": True,  # another machine's: kept
        ".manifest.lock": True,
        ".d.csv-abc12345": True,  # not ours to judge
        "a.csv": True,
        "manifest.json": True,
    }
    for name in names:
        (tmp_path / name).write_bytes(b"")
    removed = sweep_stale(tmp_path)
    assert sorted(p.name for p in removed) == sorted(n for n, kept in names.items() if not kept)
    assert sorted(os.listdir(tmp_path)) == sorted(n for n, kept in names.items() if kept)
    assert sweep_stale(tmp_path / "missing") == []
