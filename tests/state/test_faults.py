"""bot_core.faults: a named point kills the process (SIGKILL) only when the env names it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from bot_core.errors import UsageError
from bot_core.faults import FAULT_ENV, parse_fault

_SCRIPT = """
from bot_core.faults import fault_point
for i in range(3):
    print("before", i, flush=True)
    fault_point("here")
    fault_point("elsewhere")
print("survived", flush=True)
"""


def _run(value: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    if value is not None:
        env[FAULT_ENV] = value
    return subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_unset_is_a_no_op() -> None:
    done = _run(None)
    assert done.returncode == 0
    assert done.stdout.splitlines()[-1] == "survived"


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX")
@pytest.mark.parametrize(("value", "printed"), [("here", 1), ("here:2", 2), ("here:3", 3)])
def test_the_named_hit_kills_with_sigkill(value: str, printed: int) -> None:
    done = _run(value)
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.splitlines() == [f"before {i}" for i in range(printed)]


def test_another_point_or_a_later_hit_does_not_kill() -> None:
    assert _run("nowhere").returncode == 0
    assert _run("here:4").returncode == 0


@pytest.mark.parametrize("raw", ["here:0", "here:x", "here:-1", "here:"])
def test_a_bad_hit_count_is_one_clear_error(raw: str) -> None:
    with pytest.raises(UsageError, match=f"{FAULT_ENV}={raw}: expected NAME or NAME:N"):
        parse_fault(raw)


def test_parse() -> None:
    assert parse_fault("mid_checkpoint") == ("mid_checkpoint", 1)
    assert parse_fault("mid_checkpoint:7") == ("mid_checkpoint", 7)


def test_armed_names_only_the_point_in_the_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot_core.faults import armed

    monkeypatch.delenv(FAULT_ENV, raising=False)
    assert not armed("mid_journal_write")
    monkeypatch.setenv(FAULT_ENV, "mid_journal_write:5")
    assert armed("mid_journal_write")
    assert not armed("mid_checkpoint")
