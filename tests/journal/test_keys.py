"""Journal keys: where they come from per mode, file checks, rotation, and the verifier's
refusal of unknown keys and of keys used outside their window."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from bot_core.errors import ConfigError
from bot_core.journal import (
    Cause,
    FsyncPolicy,
    JournalSettings,
    JournalWriter,
    keyring_for_run,
    keyring_for_verify,
    rotate_key,
    verify_paths,
)
from bot_core.journal.keys import JournalKey, Keyring, load_keyring

from .conftest import SECRET_B, WRITE_START_NS, StepClock, keyring

ENV_SECRET = "0123456789abcdef0123456789abcdef-env"


def test_demo_creates_an_owner_only_keyring_once(bot_core_home: Path) -> None:
    first = keyring_for_run("demo", {"BOT_CORE_HOME": str(bot_core_home)})
    path = bot_core_home / "keys" / "journal-keyring.json"
    assert first.path == path and first.ids == ["k1"]
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    again = keyring_for_run("demo", {"BOT_CORE_HOME": str(bot_core_home)})
    assert again.keys[0].secret == first.keys[0].secret and len(first.keys[0].secret) == 32


@pytest.mark.parametrize("mode", ["paper", "live"])
def test_paper_and_live_refuse_without_an_explicit_key(mode: str, bot_core_home: Path) -> None:
    keyring_for_run("demo", {"BOT_CORE_HOME": str(bot_core_home)})  # a demo key exists...
    with pytest.raises(ConfigError) as caught:  # ...and is not taken
        keyring_for_run(mode, {"BOT_CORE_HOME": str(bot_core_home)})
    assert caught.value.exit_code == 2
    assert f"a {mode} bot needs an explicit journal key" in str(caught.value)
    assert "BOT_CORE_JOURNAL_KEY_FILE" in str(caught.value)
    ring = keyring_for_run(mode, {"BOT_CORE_JOURNAL_KEY": ENV_SECRET})
    assert ring.source == "env:BOT_CORE_JOURNAL_KEY" and ring.ids[0].startswith("env-")


def test_bad_environment_keys_are_refused_without_showing_them(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 32 characters") as caught:
        keyring_for_run("paper", {"BOT_CORE_JOURNAL_KEY": "short-secret"})
    assert "short-secret" not in str(caught.value)
    with pytest.raises(ConfigError, match="whitespace"):
        keyring_for_run("paper", {"BOT_CORE_JOURNAL_KEY": ENV_SECRET + "\n"})
    with pytest.raises(ConfigError, match="not both"):
        keyring_for_run("live", {"BOT_CORE_JOURNAL_KEY": ENV_SECRET,
                                 "BOT_CORE_JOURNAL_KEY_FILE": str(tmp_path / "k.json")})
    with pytest.raises(ConfigError, match="not found"):
        keyring_for_run("live", {"BOT_CORE_JOURNAL_KEY_FILE": str(tmp_path / "missing.json")})


def test_key_files_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    rotate_key(path, 0, 0)  # creates it
    doc = json.loads(path.read_text())
    secret = doc["keys"][0]["secret"]
    env = {"BOT_CORE_JOURNAL_KEY_FILE": str(path)}
    assert keyring_for_run("live", env).ids == ["k1"]
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        keyring_for_run("live", env)
    assert keyring_for_verify(None, env).ids == ["k1"]  # an auditor's copy need not be private
    path.chmod(0o600)
    doc["keys"].append({"id": "k1", "activated_ns": -5, "secret": "xyz"})
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as caught:
        load_keyring(path)
    text = str(caught.value)
    assert "keys[1].activated_ns" in text and "keys[1].secret" in text and secret not in text
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not a JSON keyring"):
        load_keyring(path)


def test_rotation_adds_a_key_that_signs_from_its_activation(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    rotate_key(path, 0, 0)
    switch = WRITE_START_NS + 10 * 1_000_000_000
    with pytest.raises(ConfigError, match="in the past"):
        rotate_key(path, WRITE_START_NS - 1, WRITE_START_NS)
    key, created = rotate_key(path, switch, WRITE_START_NS)
    assert (key.key_id, created) == ("k2", False)
    with pytest.raises(ConfigError, match="must be after the activation of k2"):
        rotate_key(path, switch, WRITE_START_NS)
    ring = load_keyring(path, private=True)
    assert ring.ids == ["k1", "k2"] and ring.window("k1") == (0, switch)
    directory = tmp_path / "j"
    with JournalWriter(directory, "bot", ring, run_id="r", mode="demo",
                       clock=StepClock()) as writer:
        for i in range(20):
            writer.append("decision", {"n": i})
    records = [json.loads(line) for line in next(directory.glob("*.jsonl")).read_bytes()
               .splitlines()]
    assert {r["key_id"] for r in records} == {"k1", "k2"}
    assert all((r["ts_ns"] >= switch) == (r["key_id"] == "k2") for r in records)
    report = verify_paths([directory], ring)[0]
    assert report.ok and report.key_ids == ["k1", "k2"]

    without_k2 = Keyring(ring.keys[:1], "old keyring")
    finding = verify_paths([directory], without_k2)[0].finding
    assert finding is not None and finding.cause is Cause.UNKNOWN_KEY
    first_k2 = next(i for i, r in enumerate(records, start=1) if r["key_id"] == "k2")
    assert finding.line == first_k2 and "'k2'" in finding.detail


def test_a_key_used_outside_its_window_is_refused(tmp_path: Path) -> None:
    old = JournalKey("k1", 0, bytes(range(32)))
    switch = WRITE_START_NS + 5 * 1_000_000_000
    directory = tmp_path / "j"
    # a writer that never learnt of the rotation keeps signing with k1
    with JournalWriter(directory, "bot", Keyring((old,), "stale"), clock=StepClock()) as writer:
        for i in range(10):
            writer.append("decision", {"n": i})
    rotated = Keyring((old, JournalKey("k2", switch, SECRET_B)), "rotated")
    finding = verify_paths([directory], rotated)[0].finding
    records = [json.loads(line) for line in next(directory.glob("*.jsonl")).read_bytes()
               .splitlines()]
    first_late = next(i for i, r in enumerate(records, start=1) if r["ts_ns"] >= switch)
    assert finding is not None and finding.cause is Cause.KEY_OUTSIDE_WINDOW
    assert finding.line == first_late and "outside its window" in finding.detail


def test_a_running_writer_picks_up_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    rotate_key(path, 0, 0)
    settings = JournalSettings(fsync=FsyncPolicy(10))
    writer = JournalWriter(tmp_path / "j", "bot", load_keyring(path, private=True),
                           settings=settings)
    try:
        writer.append("decision", {"n": 0})
        switch = time.time_ns() + 300_000_000
        rotate_key(path, switch, time.time_ns())
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 1))  # a distinct mtime
        deadline = time.monotonic() + 10
        while time.time_ns() < switch + 200_000_000 and time.monotonic() < deadline:
            writer.append("decision", {"n": 1})
            time.sleep(0.01)
    finally:
        writer.close()
    records = [json.loads(line) for line in next((tmp_path / "j").glob("*.jsonl")).read_bytes()
               .splitlines()]
    assert records[-1]["key_id"] == "k2"
    assert verify_paths([tmp_path / "j"], load_keyring(path))[0].ok


def test_verify_finds_its_key_in_the_documented_order(tmp_path: Path, bot_core_home: Path) -> None:
    with pytest.raises(ConfigError, match="no journal key"):
        keyring_for_verify(None, {"BOT_CORE_HOME": str(bot_core_home)})
    demo = keyring_for_run("demo", {"BOT_CORE_HOME": str(bot_core_home)})
    assert keyring_for_verify(None, {"BOT_CORE_HOME": str(bot_core_home)}).ids == demo.ids
    env = {"BOT_CORE_HOME": str(bot_core_home), "BOT_CORE_JOURNAL_KEY": ENV_SECRET}
    assert keyring_for_verify(None, env).ids[0].startswith("env-")
    given = tmp_path / "given.json"
    rotate_key(given, 0, 0)
    assert keyring_for_verify(given, env).source == str(given)
    assert keyring().ids == ["k1"]


def test_a_keyring_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot write the journal keyring"):
        rotate_key(blocker / "keys.json", 0, 0)
    with pytest.raises(ConfigError, match="cannot write the journal keyring"):
        keyring_for_run("demo", {"BOT_CORE_HOME": str(blocker)})
