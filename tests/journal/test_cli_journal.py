"""``bot-core journal`` in a subprocess: exit codes and messages of verify, show and rotate-key."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import SECRET_A, Journal


def _key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"format": "bot-core-journal-keyring", "version": 1, "keys": [
        {"id": "k1", "activated_ns": 0, "secret": SECRET_A.hex()}]}))
    path.chmod(0o600)
    return path


def test_verify_an_intact_journal(run_cli, journal: Journal, tmp_path: Path) -> None:
    keys = _key_file(tmp_path)
    result = run_cli("journal", "verify", str(journal.directory), "--key-file", str(keys))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"ok   {journal.directory}: ")
    assert "records (seq 1.." in result.stdout and "key k1" in result.stdout
    as_json = run_cli("journal", "verify", str(journal.directory.parent), "--key-file",
                      str(keys), "--json", env={"BOT_CORE_JOURNAL_KEY": ""})
    payload = json.loads(as_json.stdout)
    assert as_json.returncode == 0 and payload["ok"] is True
    (found,) = payload["journals"]  # the parent directory holds one bot's journal
    assert found["bot"] == "journal-bot" and found["finding"] is None


def test_verify_names_the_first_bad_line(run_cli, journal: Journal, tmp_path: Path) -> None:
    target = journal.files[1]
    lines = target.read_bytes().splitlines(keepends=True)
    del lines[9]
    target.write_bytes(b"".join(lines))
    result = run_cli("journal", "verify", str(journal.directory), "--key-file",
                     str(_key_file(tmp_path)))
    assert result.returncode == 1
    assert result.stdout.startswith(f"FAIL {journal.directory}\n")
    assert f"{target}:10: deleted: record " in result.stdout and " is missing" in result.stdout
    assert result.stderr == ""
    as_json = run_cli("journal", "verify", str(journal.directory), "--key-file",
                      str(_key_file(tmp_path)), "--json")
    finding = json.loads(as_json.stdout)["journals"][0]["finding"]
    assert as_json.returncode == 1
    assert (finding["cause"], finding["file"], finding["line"]) == ("deleted", str(target), 10)


def test_malformed_input_is_a_finding_not_a_traceback(run_cli, tmp_path: Path) -> None:
    keys = _key_file(tmp_path)
    directory = tmp_path / "bad"
    directory.mkdir()
    cases = {
        "journal-20240101-000000000001.jsonl": bytes(range(256)) * 4 + b"\n",
        "journal-20240102-000000000001.jsonl": b"this is not json\n",
        "journal-20240103-000000000001.jsonl": b"[" * 2_000_000 + b"\n",
    }
    for name, content in cases.items():
        (directory / name).write_bytes(content)
        result = run_cli("journal", "verify", str(directory / name), "--key-file", str(keys))
        assert result.returncode == 1, name
        assert "Traceback" not in result.stderr and result.stderr == ""
        assert f"{directory / name}:1: malformed: " in result.stdout
    result = run_cli("journal", "verify", str(directory / "journal-20240103-000000000001.jsonl"),
                     "--key-file", str(keys))
    assert "longer than the 1,048,576-byte limit" in result.stdout


def test_verify_usage_and_key_errors_exit_2(run_cli, journal: Journal, tmp_path: Path) -> None:
    missing = run_cli("journal", "verify", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "error: " in missing.stderr and "nowhere" in missing.stderr
    no_key = run_cli("journal", "verify", str(journal.directory))
    assert no_key.returncode == 2
    assert no_key.stderr.startswith("error: --key-file: no journal key")
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = run_cli("journal", "verify", str(empty), "--key-file", str(_key_file(tmp_path)))
    assert nothing.returncode == 1 and "no_journal: no journal files here" in nothing.stdout


def test_show_a_table_of_decisions_and_verdicts(run_cli, journal: Journal) -> None:
    result = run_cli("journal", "show", str(journal.directory), "--type", "decision,risk_verdict",
                     "--limit", "0", env={"COLUMNS": "220"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "decision" in out and "REJECT max_position_pct [max_position]" in out
    assert "REDUCE to " in out and "APPROVE ok" in out and "churn" in out
    assert "risk_verdict" not in out  # each verdict sits on its decision's row
    assert "100 of 100 rows" in out


def test_show_filters_and_json(run_cli, journal: Journal) -> None:
    fills = run_cli("journal", "show", str(journal.directory), "--type", "fill", "--json",
                    "--limit", "0")
    records = json.loads(fills.stdout)
    assert fills.returncode == 0 and records and {r["type"] for r in records} == {"fill"}
    nobody = run_cli("journal", "show", str(journal.directory), "--strategy", "nobody", "--json")
    assert json.loads(nobody.stdout) == []
    late = run_cli("journal", "show", str(journal.directory), "--since", "2024-01-01", "--json",
                   "--limit", "0")
    since = [r["ts_ns"] for r in json.loads(late.stdout)]
    assert since and min(since) >= 1_704_067_200 * 10**9
    last = run_cli("journal", "show", str(journal.directory), "--limit", "3", "--json")
    assert [r["type"] for r in json.loads(last.stdout)][-1] == "stop"
    bad = run_cli("journal", "show", str(journal.directory), "--type", "decisions")
    assert bad.returncode == 2 and "--type: unknown record type decisions" in bad.stderr
    bad_time = run_cli("journal", "show", str(journal.directory), "--since", "yesterday")
    assert bad_time.returncode == 2 and "--since: 'yesterday' is not an ISO 8601 time" in \
        bad_time.stderr


def test_show_never_prints_control_characters(run_cli, tmp_path: Path) -> None:
    directory = tmp_path / "j"
    directory.mkdir()
    record = {"bot": "b", "key_id": "k1", "mode": "demo", "payload": {
        "strategy_id": "s\u001b[31m", "tag": "x"}, "prev_mac": "0" * 64, "run_id": "r",
        "seq": 1, "ts_ns": 0, "type": "decision", "mac": "0" * 64}
    (directory / "journal-19700101-000000000001.jsonl").write_text(json.dumps(record) + "\n")
    result = run_cli("journal", "show", str(directory))
    assert result.returncode == 0 and "\x1b" not in result.stdout and "s\\x1b[31m" in result.stdout


def test_rotate_key(run_cli, bot_core_home: Path, tmp_path: Path) -> None:
    created = run_cli("journal", "rotate-key")
    keyring = bot_core_home / "keys" / "journal-keyring.json"
    assert created.returncode == 0 and f"created {keyring} with key k1" in created.stdout
    rotated = run_cli("journal", "rotate-key", "--at", "2999-01-01T00:00:00Z", "--json")
    assert rotated.returncode == 0
    assert json.loads(rotated.stdout)["key_id"] == "k2"
    assert [k["id"] for k in json.loads(keyring.read_text())["keys"]] == ["k1", "k2"]
    assert keyring.stat().st_mode & 0o777 == 0o600
    past = run_cli("journal", "rotate-key", "--at", "2001-01-01T00:00:00Z")
    assert past.returncode == 2 and "is in the past" in past.stderr
    naive = run_cli("journal", "rotate-key", "--at", "2999-01-01T00:00:00")
    assert naive.returncode == 2 and "--at: " in naive.stderr and "no timezone" in naive.stderr
    env_key = run_cli("journal", "rotate-key",
                      env={"BOT_CORE_JOURNAL_KEY": "x" * 40})
    assert env_key.returncode == 2 and "cannot rotate" in env_key.stderr
