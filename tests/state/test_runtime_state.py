"""bot_core.state.runtime: what ``bot-core run`` does with each bot's state before it starts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import bot_core
from bot_core.cli.run_view import NoticeSink
from bot_core.errors import StateError, UsageError
from bot_core.runtime.session import plan_run
from bot_core.state import StateStore, state_file
from bot_core.state.runtime import RunState


@pytest.fixture(scope="module")
def host() -> bot_core.PluginHost:
    return bot_core.load_plugins(environ={})


def _open(host: Any, home: Path, mode: str = "demo", **env: str) -> RunState:
    plan = plan_run(host, presets=["balanced"], mode=mode, environ=env)
    return RunState.open(host, plan.configs, plan.mode, home=home)


def test_simulated_venues_get_a_state_file_beside_the_bots(host: Any, tmp_path: Path) -> None:
    state = _open(host, tmp_path)
    try:
        (config,) = state.configs()
        venues = tmp_path / "state" / "balanced" / "demo" / "venues"
        for name, venue in config.config.venues.items():
            assert venue.settings["state_file"] == str(venues / f"{name}.sqlite")
            assert config.sources[f"venues.{name}.settings.state_file"] == "runtime.state"
        assert state.bots["balanced"].resumed is False
        assert state.resume_ns is None
    finally:
        state.close()


def test_one_process_per_bot_and_mode(host: Any, tmp_path: Path) -> None:
    first = _open(host, tmp_path)
    try:
        with pytest.raises(StateError, match=r"state\.sqlite is in use by pid"):
            _open(host, tmp_path)
        _open(host, tmp_path, mode="paper").close()  # another mode, another state
    finally:
        first.close()


def test_live_refuses_to_run_without_state(host: Any, tmp_path: Path) -> None:
    plan = plan_run(host, presets=["balanced"], mode="demo",
                    environ={"BOT_CORE_RUNTIME__STATE__ENABLED": "false"})
    with pytest.raises(UsageError, match=r"runtime\.state\.enabled = false: a live bot must keep "
                       "its state"):
        RunState.open(host, plan.configs, "live", home=tmp_path)
    off = RunState.open(host, plan.configs, "demo", home=tmp_path)
    assert off.bots == {} and not (tmp_path / "state").exists()
    off.close()


def _record(home: Path, *, clean: bool, clock_ns: int) -> None:
    path = state_file("balanced", "demo", home, create=True)
    with StateStore(path, clock=lambda: clock_ns) as store:
        store.begin_run("run-a")
        store.save_snapshot(run_id="run-a", ts_ns=clock_ns, portfolio={"positions": []}, risk={},
                            pipeline={}, quarantine={})
        if clean:
            store.end_run("run-a", "completed")
    venue = path.parent / "venues"
    venue.mkdir(exist_ok=True)
    (venue / "venue_a.sqlite").write_bytes(b"")


def test_a_demo_resumes_after_a_crash_where_it_stopped(host: Any, tmp_path: Path) -> None:
    crash_ns = 1_705_321_074_000_000_000
    _record(tmp_path, clean=False, clock_ns=crash_ns)
    state = _open(host, tmp_path)
    try:
        assert state.bots["balanced"].resumed and state.resume_ns == crash_ns
        settings = state.source_settings(False, ["start", "end"], {})
        start = settings["start"]
        assert start == dt.datetime(2024, 1, 15, 12, 17, 54, 1000, tzinfo=dt.UTC)
        # a live source, a source without a start, or a later configured start: untouched
        assert state.source_settings(True, ["start"], {}) == {}
        assert state.source_settings(False, ["end"], {}) == {}
        later = {"start": "2024-02-01T00:00:00"}
        assert state.source_settings(False, ["start"], later) == later
    finally:
        state.close()


def test_a_demo_that_ended_cleanly_starts_afresh(host: Any, tmp_path: Path) -> None:
    _record(tmp_path, clean=True, clock_ns=1_705_321_074_000_000_000)
    state = _open(host, tmp_path)
    try:
        assert not state.bots["balanced"].resumed and state.resume_ns is None
        assert not (tmp_path / "state/balanced/demo/venues/venue_a.sqlite").exists()
    finally:
        state.close()


def test_paper_always_continues(host: Any, tmp_path: Path) -> None:
    path = state_file("balanced", "paper", tmp_path, create=True)
    with StateStore(path) as store:
        store.begin_run("run-a")
        store.save_snapshot(run_id="run-a", ts_ns=5, portfolio={"positions": []}, risk={},
                            pipeline={}, quarantine={})
        store.end_run("run-a", "completed")
    plan = plan_run(host, presets=["balanced"], mode="demo")  # a demo plan, run as paper
    state = RunState.open(host, plan.configs, "paper", home=tmp_path)
    try:
        assert state.bots["balanced"].resumed
    finally:
        state.close()


def test_the_live_table_tells_what_a_restart_found() -> None:
    sink = NoticeSink()
    quiet = {"resumed": False, "outcome": "clean", "not_sent": [], "adopted": [],
             "fills_booked": [], "discrepancies": []}
    sink.emit("reconcile", "b", 0, **quiet)
    assert list(sink.lines) == []  # a first start says nothing
    sink.emit("reconcile", "b", 0, **{**quiet, "resumed": True, "not_sent": ["x"],
                                      "fills_booked": ["v:1", "v:2"]})
    sink.emit("reconcile", "b", 0, **{**quiet, "resumed": True, "outcome": "reducing",
                                      "discrepancies": [{"venue": "venue_a",
                                                         "detail": "BTC/USDT: the venue holds 1, "
                                                                   "the books 0"}]})
    assert [line.split(" b ", 1)[1] for line in sink.lines] == [
        "reconcile: clean (1 not sent, 2 fills booked)",
        "reconcile: reducing (1 discrepancies); venue_a: BTC/USDT: the venue holds 1, the "
        "books 0"]
