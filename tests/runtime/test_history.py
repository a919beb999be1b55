"""Run records on disk: counters, crash safety, per-mode directories, the config hash."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot_core.config.resolve import resolve_config
from bot_core.errors import StateError
from bot_core.runtime import history
from bot_core.runtime.history import RunRecorder, config_hash, mode_state_dir, runs

HOUR_NS = 3_600_000_000_000
T0 = 1_700_000_000_000_000_000


def _recorder(home: Path, *, bot: str = "alpha", mode: str = "demo", run_id: str = "r1",
              wall: int = 1) -> RunRecorder:
    return RunRecorder(bot=bot, mode=mode, run_id=run_id, config_hash="abc", started_ns=T0,
                       home=home, wall_clock=lambda: wall)


def test_counters_span_and_close_are_recorded(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    for i in range(4):
        rec.cycle(ts_ns=T0 + i * HOUR_NS, trading_state="active", daily_loss_breached=False,
                  drawdown_breached=False)
    rec.cycle(ts_ns=T0 + 4 * HOUR_NS, trading_state="reducing", daily_loss_breached=False,
              drawdown_breached=True)
    rec.close(ended_ns=T0 + 5 * HOUR_NS, reason="completed")

    [summary] = runs("alpha", "demo", tmp_path)
    assert summary.cycles == 5
    assert summary.hours == pytest.approx(4.0)
    assert summary.states == {"active": 4, "reducing": 1}
    assert (summary.drawdown_cycles, summary.first_drawdown_ns) == (1, T0 + 4 * HOUR_NS)
    assert summary.halted_cycles == summary.daily_loss_cycles == 0
    assert summary.first_halted_ns is None
    assert (summary.reason, summary.ended_ns, summary.closed) == ("completed", T0 + 5 * HOUR_NS, True)
    assert rec.path == tmp_path / "state" / "alpha" / "demo" / "runs" / "r1.json"


def test_a_crashed_run_counts_up_to_its_last_flush_and_never_loses_a_breach(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    rec.cycle(ts_ns=T0, trading_state="active", daily_loss_breached=False, drawdown_breached=False)
    rec.cycle(ts_ns=T0 + HOUR_NS, trading_state="active", daily_loss_breached=False,
              drawdown_breached=False)
    rec.cycle(ts_ns=T0 + 2 * HOUR_NS, trading_state="HALTED", daily_loss_breached=True,
              drawdown_breached=False)
    rec.cycle(ts_ns=T0 + 3 * HOUR_NS, trading_state="halted", daily_loss_breached=True,
              drawdown_breached=False)
    del rec  # the process dies: no close(), no further flush

    [summary] = runs("alpha", "demo", tmp_path)
    assert summary.cycles == 3  # flushed on the first cycle and on the breach, not since
    assert (summary.halted_cycles, summary.first_halted_ns) == (1, T0 + 2 * HOUR_NS)
    assert (summary.daily_loss_cycles, summary.first_daily_loss_ns) == (1, T0 + 2 * HOUR_NS)
    assert not summary.closed and summary.reason is None


def test_running_records_are_flushed_every_interval(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "FLUSH_INTERVAL_S", 0.0)
    rec = _recorder(tmp_path)
    for i in range(3):
        rec.cycle(ts_ns=T0 + i, trading_state="active", daily_loss_breached=False,
                  drawdown_breached=False)
    assert json.loads(rec.path.read_text())["cycles"] == 3


def test_modes_keep_separate_directories_and_a_copied_one_is_refused(tmp_path: Path) -> None:
    _recorder(tmp_path, mode="paper").close(ended_ns=T0, reason="completed")
    assert runs("alpha", "live", tmp_path) == []
    assert [r.mode for r in runs("alpha", "paper", tmp_path)] == ["paper"]

    paper = mode_state_dir("alpha", "paper", tmp_path)
    shutil.copytree(paper, paper.parent / "live")
    with pytest.raises(StateError, match="not of bot 'alpha' in live mode"):
        runs("alpha", "live", tmp_path)
    with pytest.raises(StateError, match="never starts from another mode's state"):
        _recorder(tmp_path, mode="live", run_id="r2")
    shutil.copytree(paper, tmp_path / "state" / "beta" / "paper")
    with pytest.raises(StateError, match="not of bot 'beta'"):
        runs("beta", "paper", tmp_path)


def test_runs_are_ordered_by_wall_start_and_ids_are_unique(tmp_path: Path) -> None:
    _recorder(tmp_path, run_id="zz", wall=10).close(ended_ns=T0, reason="completed")
    _recorder(tmp_path, run_id="aa", wall=20).close(ended_ns=T0, reason="completed")
    assert [r.run_id for r in runs("alpha", "demo", tmp_path)] == ["zz", "aa"]
    with pytest.raises(StateError, match="already recorded"):
        _recorder(tmp_path, run_id="aa")


@pytest.mark.parametrize("bot", ["..", ".", "a/b", ""])
def test_names_that_are_not_safe_directory_names_are_refused(tmp_path: Path, bot: str) -> None:
    with pytest.raises(StateError, match="cannot name a state directory"):
        _recorder(tmp_path, bot=bot)
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").iterdir())


def test_an_unreadable_record_is_an_error_naming_the_file(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    rec.path.write_text("{not json")
    with pytest.raises(StateError, match=r"r1\.json: unreadable run record"):
        runs("alpha", "demo", tmp_path)
    rec.path.write_text("[1, 2]")
    with pytest.raises(StateError, match="not a JSON object"):
        runs("alpha", "demo", tmp_path)


def test_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="unknown mode 'backtest'"):
        _recorder(tmp_path, mode="backtest")


def test_config_hash_is_stable_and_sees_every_field() -> None:
    config = resolve_config(preset="balanced", environ={}).config
    again = resolve_config(preset="balanced", environ={}).config
    assert config_hash(config) == config_hash(again)
    assert len(config_hash(config)) == 64
    changed = resolve_config(preset="balanced",
                             environ={"BOT_CORE_RISK__MAX_POSITION_PCT": "19.5"}).config
    assert config_hash(changed) != config_hash(config)
    renamed = config.model_copy(update={"name": "other"})
    assert config_hash(renamed) != config_hash(config)
