"""The decision journal of real ``bot-core run`` processes: every decision journaled by
default, ``bot-core journal verify`` passing on a fresh run, across runs and across a kill -9,
and naming the exact line of a tampering.

(The journal's own behaviour, tampering by tampering, is in tests/journal/.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot_core.errors import ConfigError


def _run(run_cli, cycles: int = 120) -> str:
    result = run_cli("run", "--preset", "balanced", "--cycles", str(cycles), "--speed", "max",
                     "--json")
    assert result.returncode == 0, result.stderr
    start = next(json.loads(line) for line in result.stdout.splitlines()
                 if json.loads(line)["event"] == "start")
    return str(start["run_id"])


def _records(directory: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(directory.glob("journal-*.jsonl"))
            for line in path.read_bytes().splitlines() if line.endswith(b"}")]


def test_a_demo_run_journals_every_decision_and_verifies(run_cli, bot_core_home: Path) -> None:
    run_id = _run(run_cli)
    directory = bot_core_home / "journal" / "balanced" / "demo"
    records = _records(directory)
    kinds = [r["type"] for r in records]
    assert kinds[:2] == ["journal_file", "start"] and kinds[-1] == "stop"
    assert {"decision", "risk_verdict", "order", "fill"} <= set(kinds)
    assert kinds.count("decision") == kinds.count("risk_verdict") > 0
    assert {r["run_id"] for r in records[1:]} == {run_id} and {r["mode"] for r in records[1:]} \
        == {"demo"}
    start = records[1]["payload"]
    assert start["bot"] == "balanced" and start["profile"] == "balanced"
    assert len(start["config_sha256"]) == 64 and start["strategies"]
    decision = next(r["payload"] for r in records if r["type"] == "decision")
    assert decision["client_order_id"] and decision["strategy_id"] in start["strategies"]
    assert {"last_price", "equity", "position", "trading_state"} <= set(decision["inputs"])
    keyring = bot_core_home / "keys" / "journal-keyring.json"
    assert keyring.stat().st_mode & 0o777 == 0o600  # the demo made its own key
    verify = run_cli("journal", "verify", str(bot_core_home / "journal"))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"ok   {directory}: {len(records):,} records" in verify.stdout


def test_runs_continue_one_chain_and_a_tampering_is_named(run_cli, bot_core_home: Path) -> None:
    _run(run_cli, cycles=40)
    _run(run_cli, cycles=40)
    directory = bot_core_home / "journal" / "balanced" / "demo"
    verify = run_cli("journal", "verify", str(directory), "--json")
    (report,) = json.loads(verify.stdout)["journals"]
    assert verify.returncode == 0 and report["runs"] == 2 and report["notes"] == []
    (path,) = directory.glob("journal-*.jsonl")
    lines = path.read_bytes().splitlines(keepends=True)
    target = next(i for i, line in enumerate(lines) if b'"type":"risk_verdict"' in line
                  and b'"action":"approve"' in line)
    lines[target] = lines[target].replace(b'"action":"approve"', b'"action":"reject"')
    path.write_bytes(b"".join(lines))
    tampered = run_cli("journal", "verify", str(directory))
    assert tampered.returncode == 1
    assert f"{path}:{target + 1}: modified: its MAC does not match" in tampered.stdout


def test_a_killed_run_is_continued_and_the_journal_verifies_across_the_crash(
        run_cli, bot_core_home: Path) -> None:
    env = {**os.environ, "BOT_CORE_HOME": str(bot_core_home)}
    proc = subprocess.Popen([sys.executable, "-m", "bot_core", "run", "--preset", "balanced",
                             "--speed", "200", "--json"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    directory = bot_core_home / "journal" / "balanced" / "demo"
    try:
        deadline = time.monotonic() + 120
        while sum(1 for _ in _records(directory) if _["type"] == "decision") < 5:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the run journaled no decision"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    _run(run_cli, cycles=30)  # the restart continues the chain after the crash
    records = _records(directory)
    assert [r["type"] for r in records].count("start") == 2
    recovery = next(r for r in records if r["type"] == "recovery")
    assert recovery["payload"]["resumed_after_seq"] == recovery["seq"] - 1
    verify = run_cli("journal", "verify", str(directory))
    assert verify.returncode == 0, verify.stdout


def test_paper_and_live_runtimes_refuse_to_start_without_a_journal_key() -> None:
    from bot_core.journal.runtime import RuntimeJournals
    from bot_core.plugins import load_plugins

    host = load_plugins()
    for mode in ("paper", "live"):
        with pytest.raises(ConfigError, match=f"a {mode} bot needs an explicit journal key"):
            RuntimeJournals(host, mode, environ={})
    assert RuntimeJournals(host, "paper", environ={"BOT_CORE_JOURNAL_KEY": "k" * 40}).mode == \
        "paper"
