"""The writer: rotation by size and by day, one chain across files, checkpoints, the fsync
policy, one writer per directory, reopening (clean, after a crash with a torn line, onto a chain
that does not verify), and failures that stop it instead of losing records."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bot_core.errors import ConfigError, JournalError
from bot_core.journal import (
    Cause,
    FsyncPolicy,
    JournalSettings,
    JournalWriter,
    verify_paths,
)
from bot_core.journal.record import GENESIS_MAC, MAX_RECORD_BYTES

from .conftest import MINUTE_NS, START_NS, Journal, StepClock, keyring, run_into_journal


def _records(directory: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(directory.glob("journal-*.jsonl"))
            for line in path.read_bytes().splitlines()]


def _writer(directory: Path, **kw: object) -> JournalWriter:
    kw.setdefault("clock", StepClock())
    return JournalWriter(directory, "bot", keyring(), run_id="r1", mode="demo", **kw)  # type: ignore[arg-type]


def test_files_rotate_by_size_and_at_utc_midnight_in_one_chain(journal: Journal) -> None:
    names = [p.name for p in journal.files]
    days = {name.split("-")[1] for name in names}
    assert days == {"20231231", "20240101"}, names  # the writer's clock crossed midnight
    assert len(names) >= 5  # and files filled up before that
    records = _records(journal.directory)
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    for before, after in itertools.pairwise(records):
        assert after["prev_mac"] == before["mac"]
    assert records[0]["prev_mac"] == GENESIS_MAC
    for path in journal.files:
        first = json.loads(path.read_bytes().splitlines()[0])
        assert first["type"] == "journal_file" and first["payload"]["file"] == path.name
        assert int(path.stem.rsplit("-", 1)[1]) == first["seq"]  # the name's first seq
    for previous, path in zip(journal.files, journal.files[1:], strict=False):
        first = json.loads(path.read_bytes().splitlines()[0])
        last = json.loads(previous.read_bytes().splitlines()[-1])
        assert first["payload"]["previous_file"] == previous.name
        assert first["payload"]["previous_mac"] == last["mac"] == first["prev_mac"]
    for path in journal.files[:-1]:
        assert path.stat().st_size <= 48_000


def test_a_run_journals_every_event_with_its_run_and_mode(journal: Journal) -> None:
    records = _records(journal.directory)
    kinds = [r["type"] for r in records]
    assert kinds[1] == "start" and kinds[-1] == "stop"
    assert {"decision", "risk_verdict", "order", "fill"} <= set(kinds)
    assert {r["run_id"] for r in records} == {"run1"} and {r["mode"] for r in records} == {"demo"}
    decisions = [r for r in records if r["type"] == "decision"]
    verdicts = [r for r in records if r["type"] == "risk_verdict"]
    assert len(decisions) == len(verdicts) == 100
    assert {v["payload"]["action"] for v in verdicts} == {"approve", "reduce", "reject"}
    # each verdict follows its decision (a new file's first record may come between)
    events = [r for r in records if r["type"] != "journal_file"]
    for record, nxt in itertools.pairwise(events):
        if record["type"] == "decision":
            assert nxt["type"] == "risk_verdict"
            assert nxt["payload"]["client_order_id"] == record["payload"]["client_order_id"]
    inputs = decisions[5]["payload"]["inputs"]
    assert set(inputs) == {"last_price", "last_update_ns", "position", "bot_position", "equity",
                           "trading_state"}
    assert inputs["trading_state"] == "active" and inputs["last_price"] > 0
    intent = decisions[0]["payload"]
    assert intent["client_order_id"] == "churn-run1-1" and intent["side"] == "buy"
    assert intent["event_ts_ns"] == START_NS and intent["tag"] == "bar 1"


def test_the_checkpoint_names_the_head_and_is_signed(journal: Journal) -> None:
    checkpoint = json.loads((journal.directory / "checkpoint.json").read_text())
    last = _records(journal.directory)[-1]
    assert (checkpoint["head_seq"], checkpoint["head_mac"]) == (last["seq"], last["mac"])
    assert checkpoint["head_file"] == journal.files[-1].name and checkpoint["clean"] is True
    assert oct((journal.directory / "checkpoint.json").stat().st_mode & 0o777) == "0o600"
    checkpoint["head_seq"] -= 1  # a forged checkpoint, hiding the last record
    (journal.directory / "checkpoint.json").write_text(json.dumps(checkpoint))
    report = verify_paths([journal.directory], journal.keyring)[0]
    assert report.finding is not None and report.finding.cause is Cause.CHECKPOINT
    assert "modified" in report.finding.detail


def test_reopening_continues_the_chain_and_a_clean_close_needs_no_recovery(tmp_path: Path) -> None:
    with _writer(tmp_path / "j") as writer:
        writer.append("decision", {"n": 1})
    with _writer(tmp_path / "j") as writer:  # the same day: no new file
        assert writer.seq == 2
        writer.append("decision", {"n": 2}, run_id="r2")
    records = _records(tmp_path / "j")
    assert [r["type"] for r in records] == ["journal_file", "decision", "decision"]
    assert [r["run_id"] for r in records] == ["r1", "r1", "r2"]
    assert verify_paths([tmp_path / "j"], keyring())[0].ok


def test_one_writer_per_journal(tmp_path: Path) -> None:
    with _writer(tmp_path / "j"), pytest.raises(JournalError, match="one writer per bot"):
        _writer(tmp_path / "j")


def test_every_record_policy_syncs_and_the_interval_policy_checkpoints_in_the_background(
        tmp_path: Path) -> None:
    assert FsyncPolicy.parse("record").every_record and FsyncPolicy.parse("250ms").interval_ms == 250
    assert FsyncPolicy.parse("2s").interval_ms == 2000
    for bad in ("0ms", "fast", "61s", "-5"):
        with pytest.raises(ValueError, match="not an fsync policy"):
            FsyncPolicy.parse(bad)
    settings = JournalSettings(fsync=FsyncPolicy(20), checkpoint_interval_ms=20)
    writer = _writer(tmp_path / "j", settings=settings, clock=time.time_ns)
    try:
        seq = writer.append("decision", {"n": 1})
        deadline = time.monotonic() + 10
        checkpoint = tmp_path / "j" / "checkpoint.json"
        while json.loads(checkpoint.read_text())["head_seq"] != seq:
            assert time.monotonic() < deadline, "no checkpoint from the background thread"
            time.sleep(0.02)
        assert json.loads(checkpoint.read_text())["clean"] is False  # still open
    finally:
        writer.close()
    with _writer(tmp_path / "k", settings=JournalSettings(fsync=FsyncPolicy(0))) as writer:
        writer.append("decision", {"n": 1})
    assert verify_paths([tmp_path / "k"], keyring())[0].ok


def test_settings_from_the_environment_are_checked() -> None:
    settings = JournalSettings.from_env({"BOT_CORE_JOURNAL_FSYNC": "record",
                                         "BOT_CORE_JOURNAL_MAX_FILE_MB": "8"})
    assert settings.fsync.every_record and settings.max_file_bytes == 8 * 1024 * 1024
    with pytest.raises(ConfigError) as caught:
        JournalSettings.from_env({"BOT_CORE_JOURNAL_FSYNC": "sometimes",
                                  "BOT_CORE_JOURNAL_MAX_FILE_MB": "0"})
    text = str(caught.value)
    assert "env:BOT_CORE_JOURNAL_FSYNC" in text and "env:BOT_CORE_JOURNAL_MAX_FILE_MB" in text


def test_a_payload_beyond_the_record_limit_is_kept_as_its_size_and_hash(tmp_path: Path) -> None:
    with _writer(tmp_path / "j") as writer:
        writer.append("operator_action", {f"k{i}": "x" * 2000 for i in range(300)})
    payload = _records(tmp_path / "j")[-1]["payload"]
    assert set(payload) == {"[cut]", "sha256"} and "bytes" in payload["[cut]"]
    assert max(len(line) for line in (tmp_path / "j").glob("*.jsonl").__next__()
               .read_bytes().splitlines()) < MAX_RECORD_BYTES


def test_bad_names_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="bot"):
        JournalWriter(tmp_path / "j", 'bad"bot', keyring())
    assert not (tmp_path / "j").exists()
    with _writer(tmp_path / "k") as writer, pytest.raises(JournalError, match="record type"):
        writer.append("Bad Type", {})


def test_a_failed_write_stops_the_journal(tmp_path: Path) -> None:
    writer = _writer(tmp_path / "j")
    os.close(writer._fd)  # the file descriptor goes bad, as on a lost disk
    with pytest.raises(JournalError, match="cannot write the journal"):
        writer.append("decision", {"n": 1})
    assert writer.failed
    with pytest.raises(JournalError, match="failed earlier"):
        writer.append("decision", {"n": 2})
    writer._fd = os.open(os.devnull, os.O_WRONLY)  # let close() release the lock
    writer.close()


def test_a_chain_whose_last_record_does_not_verify_is_not_continued(journal: Journal) -> None:
    last = journal.files[-1]
    raw = last.read_bytes()
    last.write_bytes(raw[:-30] + raw[-30:].replace(b"a", b"b", 1).replace(b"c", b"d", 1))
    with pytest.raises(JournalError, match="does not verify"):
        JournalWriter(journal.directory, "journal-bot", journal.keyring)
    with pytest.raises(JournalError, match="bot 'journal-bot', not 'other'"):
        last.write_bytes(raw)
        JournalWriter(journal.directory, "other", journal.keyring)


def test_a_second_run_appends_to_the_same_chain(journal: Journal, tmp_path: Path) -> None:
    with JournalWriter(journal.directory, "journal-bot", journal.keyring,
                       clock=StepClock(START_NS + 10 * MINUTE_NS)) as writer:
        added = run_into_journal(tmp_path, writer, n_bars=20, run_id="run2")
    assert added > 20
    report = verify_paths([journal.directory], journal.keyring)[0]
    assert report.ok, report.finding
    assert report.runs == 2 and report.notes == []


TORN = b'{"bot":"bot","key_id":"k1","mode":"demo","payl'
_CRASHING_WRITER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from bot_core.journal import JournalWriter, JournalSettings
    from bot_core.journal.keys import JournalKey, Keyring

    TORN = TORN_BYTES
    ring = Keyring((JournalKey("k1", 0, bytes(range(32))),), "test")
    writer = JournalWriter(Path(sys.argv[1]), "bot", ring, run_id="r1", mode="demo")
    for i in range(int(sys.argv[2])):
        writer.append("decision", {"n": i, "tag": "x" * 50})
    if sys.argv[3] == "torn":  # what a crash in the middle of a write leaves
        os.write(writer._fd, TORN)
        os._exit(9)
    print("ready", flush=True)
    while True:  # appending until killed
        writer.append("decision", {"n": -1, "tag": "y" * 50})
""").replace("TORN_BYTES", repr(TORN))


def _crash(directory: Path, records: int, how: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _CRASHING_WRITER, str(directory),
                             str(records), how], stdout=subprocess.PIPE, text=True)
    try:
        if how == "kill":
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
            time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_torn_last_line_is_reported_then_recovered_and_the_chain_goes_on(
        tmp_path: Path) -> None:
    directory = tmp_path / "j"
    _crash(directory, 5, "torn")
    report = verify_paths([directory], keyring())[0]
    assert report.finding is not None and report.finding.cause is Cause.TORN_TAIL
    assert report.finding.line == 7  # journal_file + 5 decisions, then the torn line
    with _writer(directory, clock=time.time_ns) as writer:
        writer.append("decision", {"n": "after"})
    records = [json.loads(line) for line in next(directory.glob("*.jsonl")).read_bytes()
               .splitlines() if line.endswith(b"}")]
    recovery = next(r for r in records if r["type"] == "recovery")
    assert recovery["payload"]["torn"]["line"] == 7 and recovery["payload"]["torn"]["bytes"] == len(TORN)
    report = verify_paths([directory], keyring())[0]
    assert report.ok, report.finding
    assert any("torn by a crash" in note for note in report.notes)


def test_kill_9_while_appending_never_breaks_the_chain(tmp_path: Path) -> None:
    directory = tmp_path / "j"
    for _ in range(3):
        _crash(directory, 10, "kill")
        with _writer(directory, clock=time.time_ns) as writer:
            writer.append("decision", {"n": "restarted"})
        report = verify_paths([directory], keyring())[0]
        assert report.ok, report.finding
    kinds = [r["type"] for r in _records(directory) if isinstance(r, dict)]
    assert kinds.count("recovery") == 3  # each restart after a kill says so
