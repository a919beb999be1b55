"""RuntimeJournals: what ``bot-core run`` uses to journal each bot (sleeve) of a run."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest

import bot_core
from bot_core.errors import JournalError
from bot_core.journal import keyring_for_verify, verify_paths
from bot_core.journal.runtime import RuntimeJournals
from bot_core.runinfo import RunInfo

from .conftest import CONFIG, START_NS, bars, plugin_module


class ListSink:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def emit(self, event: str, bot: str, ts_ns: int, **fields: Any) -> None:
        self.events.append((event, bot, fields))


def _sleeve(tmp_path: Path, host: Any, name: str, run_id: str) -> Any:
    from bot_core.config.resolve import resolve_config
    from bot_core.pipeline import build_pipeline

    path = tmp_path / f"{name}.toml"
    path.write_text(CONFIG.replace('name = "journal-bot"', f'name = "{name}"'), encoding="utf-8")
    resolved = resolve_config(path, plugins=host, environ={})
    run = RunInfo(run_id, "demo", START_NS, resolved.config)
    return types.SimpleNamespace(name=name, run=run, pipeline=build_pipeline(resolved, host, run))


def test_each_bot_journals_its_own_run_and_its_quarantines(tmp_path: Path,
                                                           bot_core_home: Path) -> None:
    host = bot_core.load_plugins(builtins=[("churn", plugin_module())])
    journals = RuntimeJournals(host, "demo")
    inner = ListSink()
    sink = journals.sink(inner)
    sleeves = [_sleeve(tmp_path, host, "alpha", "run-a"), _sleeve(tmp_path, host, "beta", "run-b")]
    for sleeve in sleeves:
        journals.attach(sleeve)
    for sleeve in sleeves:  # one host, two pipelines: each journal keeps to its own run
        sleeve.pipeline.start()
        for bar in bars(20):
            sleeve.pipeline.on_bar(bar)
    sink.emit("quarantine", "alpha", START_NS, strategy="churn", cause="3 faults", cancelled=2)
    sink.emit("quarantine", "nobody", START_NS, strategy="x", cause="y", cancelled=0)
    for sleeve in sleeves:
        sleeve.pipeline.stop("completed")
    journals.close()
    assert [e[:2] for e in inner.events] == [("quarantine", "alpha"), ("quarantine", "nobody")]
    keyring = keyring_for_verify(None)
    for name, run_id in (("alpha", "run-a"), ("beta", "run-b")):
        directory = bot_core_home / "journal" / name / "demo"  # one chain per mode
        records = [json.loads(line) for path in sorted(directory.glob("*.jsonl"))
                   for line in path.read_bytes().splitlines()]
        assert {r["run_id"] for r in records} == {run_id}
        assert {r["bot"] for r in records} == {name}
        quarantines = [r["payload"] for r in records if r["type"] == "quarantine"]
        assert quarantines == ([{"subject": "churn", "reason": "3 faults", "released": False,
                                 "detail": f"2 open orders cancelled at {START_NS}"}]
                               if name == "alpha" else [])
        assert verify_paths([directory], keyring)[0].ok
    assert not (bot_core_home / "journal" / "nobody").exists()


def test_a_bot_whose_journal_is_open_elsewhere_does_not_start(tmp_path: Path) -> None:
    host = bot_core.load_plugins(builtins=[("churn", plugin_module())])
    first, second = RuntimeJournals(host, "demo"), RuntimeJournals(host, "demo")
    first.attach(_sleeve(tmp_path, host, "alpha", "run-a"))
    try:
        with pytest.raises(JournalError, match="one writer per bot"):
            second.attach(_sleeve(tmp_path, host, "alpha", "run-b"))
    finally:
        first.close()
