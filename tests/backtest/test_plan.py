"""Backtest planning (strategies, datasets, params, venue options) and the CLI handlers run
in-process, with the installed plugins and the shipped data."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

import bot_core
from bot_core.backtest.plan import DataSpec, parse_params, plan_backtest
from bot_core.cli import main
from bot_core.errors import UsageError

from .conftest import make_bars
from .test_driver import _same_fills, _same_trades


@pytest.fixture(scope="module")
def installed() -> bot_core.PluginHost:
    return bot_core.load_plugins()


def test_parse_params_reads_json_values_and_keeps_text() -> None:
    assert parse_params(["a=1", "b=2.5", "c=true", "d=abc", "e=[1,2]"]) == \
        {"a": 1, "b": 2.5, "c": True, "d": "abc", "e": [1, 2]}
    with pytest.raises(UsageError, match="key=value"):
        parse_params(["=3"])


def test_plan_narrows_strategies_to_the_data_and_applies_options(installed) -> None:
    plan = plan_backtest(installed, strategies=["mean_reversion"],
                         datasets=["demo-btc-usdt-1m"], preset="balanced", universe="demo",
                         params={"mean_reversion.window_bars": 90, "entry_z": 2.5},
                         fee_bps=1.5, fill_on_close=True)
    config = plan.resolved.config
    assert plan.strategies == ["mean_reversion"]
    assert config.strategies["mean_reversion"].instruments == ["BTC/USDT"]
    assert not config.strategies["vol_target"].enabled
    settings = plan.resolved.strategy_settings["mean_reversion"]
    assert (settings.window_bars, settings.entry_z) == (90, 2.5)
    venue = config.venues["venue_a"].settings
    assert venue["taker_fee_bps"] == venue["maker_fee_bps"] == 1.5
    assert venue["fill_on_close"] is True
    assert venue["initial_balances"] == {"USDT": config.runtime.initial_equity}
    assert [f.dataset for f in plan.feeds] == ["demo-btc-usdt-1m"]
    assert plan.feeds[0].venue == "venue_a"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"strategies": [], "datasets": ["demo-btc-usdt-1m"]}, "at least one strategy"),
    ({"strategies": ["mean_reversion"], "datasets": []}, "at least one dataset"),
    ({"strategies": ["mean_reversion"], "datasets": ["demo-btc-usdt-1m", "demo-btc-usdt-1m"]},
     "already feeds"),
    ({"strategies": ["mean_reversion", "cross_arb"], "datasets": ["demo-btc-usdt-1m"]},
     "--strategy cross_arb: reads quotes data"),
    ({"strategies": ["mean_reversion"], "datasets": ["demo-btc-usdt-1m"],
      "params": {"vol_target.window_bars": 5}}, "no selected strategy has this parameter"),
])
def test_plan_refuses_what_cannot_run(installed, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        plan_backtest(installed, preset="balanced", **kwargs)


def test_plan_names_the_venue_setting_that_is_invalid(installed, tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('extends = "balanced"\nuniverse = "demo"\n'
                    '[venues.venue_a.settings]\nlatency_ms = 5.0\n',
                    encoding="utf-8")
    with pytest.raises(UsageError, match=r"venue venue_a: .*fill_on_close"):
        plan_backtest(installed, strategies=["mean_reversion"], datasets=["demo-btc-usdt-1m"],
                      preset=None, config_path=path, fill_on_close=True)


def test_plan_accepts_frames_given_directly(installed) -> None:
    frame = make_bars(500, start=40_000.0)
    plan = plan_backtest(installed, strategies=["mean_reversion"], preset="balanced",
                         datasets={"mine": DataSpec(frame, "ohlcv", "ETH/USDT")})
    # a frame that names no venue trades on a paper venue named "paper"
    assert plan.feeds[0].venue == "paper" and plan.feeds[0].instrument == "ETH/USDT"
    assert plan.resolved.config.strategies["mean_reversion"].instruments == ["ETH/USDT"]


def test_cli_backtest_in_process_json_and_table(capsys, tmp_path: Path) -> None:
    code = main(["backtest", "--strategy", "mean_reversion", "--dataset", "demo-ada-usdt-1m",
                 "--json", "--report", str(tmp_path / "r")])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["dataset"] == "demo-ada-usdt-1m"
    assert set(out["report"]) == {"figure", "html", "manifest", "trades", "fills", "equity_csv"}
    assert main(["backtest", "--strategy", "mean_reversion", "--dataset", "demo-ada-usdt-1m",
                 "--no-fast", "--report", str(tmp_path / "r2")]) == 0
    text = capsys.readouterr().out
    assert "win rate" in text and "report:" in text


def test_cli_rejects_preset_and_config_together(capsys, tmp_path: Path) -> None:
    code = main(["backtest", "--preset", "balanced", "--config", str(tmp_path / "x.toml"),
                 "--strategy", "mean_reversion", "--dataset", "demo-btc-usdt-1m"])
    assert code == 2
    assert "give one" in capsys.readouterr().err


def test_progress_bar_is_drawn_on_a_terminal_and_never_under_json_or_a_pipe(monkeypatch) -> None:
    import sys

    from bot_core.cli import backtest_cmd

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(backtest_cmd, "PROGRESS_MIN_STEPS", 1)
    args = ["backtest", "--strategy", "mean_reversion", "--dataset", "demo-sol-usdt-1m"]
    for stdout, extra, drawn in ((Tty(), [], True), (Tty(), ["--json"], False),
                                 (io.StringIO(), [], False)):
        stderr = Tty()
        monkeypatch.setattr(sys, "stdout", stdout)
        monkeypatch.setattr(sys, "stderr", stderr)
        assert main([*args, *extra]) == 0
        err = stderr.getvalue()
        # rich draws the bar with cursor control sequences, under the task's name
        assert ("\x1b[" in err and "backtest" in err) is drawn, (extra, err[:200])
        if not drawn:
            assert err.startswith("note: ") and "\x1b" not in err


def test_demo_in_process_renders_tables(monkeypatch, capsys, tmp_path: Path) -> None:
    from bot_core.cli import demo_cmd

    chosen: list[list[str]] = []
    real = demo_cmd.demo_datasets

    def fewer(config: Any, host: Any, names: list[str]) -> list[str]:
        ids = real(config, host, names)
        chosen.append(ids)
        return [i for i in ids if i.startswith("demo-btc")]

    monkeypatch.setattr(demo_cmd, "demo_datasets", fewer)
    assert main(["demo", "--report", str(tmp_path / "demo")]) == 0
    text = capsys.readouterr().out
    assert "bot-core demo" in text and "mean_reversion" in text and "cross_arb" in text
    assert len(chosen[0]) == 8
    assert (tmp_path / "demo" / "report.png").is_file()


def test_demo_refuses_a_preset_without_strategies(capsys) -> None:
    assert main(["demo", "--preset", "manual"]) == 2
    assert "error:" in capsys.readouterr().err


def test_fast_path_equals_event_path_with_the_mean_reversion_plugin(installed) -> None:
    import numpy as np

    from bot_core.backtest.driver import run_backtest

    plan = plan_backtest(installed, strategies=["mean_reversion"], preset="balanced",
                         datasets=["demo-btc-usdt-1m", "demo-eth-usdt-1m"])
    fast = run_backtest(plan, installed)
    slow = run_backtest(plan, installed, fast=False)
    assert fast.fast_path and not slow.fast_path
    assert len(fast.trades) == len(slow.trades) > 100
    assert fast.verdicts == slow.verdicts
    np.testing.assert_allclose(fast.equity, slow.equity, rtol=1e-12)


def test_vol_target_rebalances_in_the_compiled_replay_as_on_bar(installed) -> None:
    import numpy as np

    from bot_core.backtest.driver import run_backtest

    # vol_target rebalances within a band measured in current equity: its compiled decide
    # gets the equity of every bar in the replay, as on_bar does
    plan = plan_backtest(installed, strategies=["vol_target"], preset="balanced",
                         datasets=["demo-btc-usdt-1m"])
    slow = run_backtest(plan, installed, fast=False)
    # it holds its position and rebalances it: one round trip per instrument, many fills
    assert len(slow.trades) >= 1 and len(slow.fills) > 5
    compiled = run_backtest(plan, installed)
    assert compiled.path == "compiled" and compiled.fast_path_note == ""
    _same_trades(compiled.trades, slow.trades)
    _same_fills(compiled.fills, slow.fills)
    assert compiled.verdicts == slow.verdicts
    np.testing.assert_allclose(compiled.equity, slow.equity, rtol=1e-12)


def test_mean_reversion_and_vol_target_compiled_together(installed) -> None:
    import numpy as np

    from bot_core.backtest.driver import run_backtest

    plan = plan_backtest(installed, strategies=["mean_reversion", "vol_target"],
                         preset="balanced", datasets=["demo-btc-usdt-1m", "demo-eth-usdt-1m"])
    compiled = run_backtest(plan, installed)
    slow = run_backtest(plan, installed, fast=False)
    assert compiled.path == "compiled" and compiled.fast_path_note == ""
    assert {t.strategy for t in slow.trades} == {"mean_reversion", "vol_target"}
    key = [(t.strategy, t.instrument, t.side, t.entry_ns, t.exit_ns) for t in slow.trades]
    for fast in (compiled,):
        assert [(t.strategy, t.instrument, t.side, t.entry_ns, t.exit_ns)
                for t in fast.trades] == key
        np.testing.assert_allclose([t.pnl for t in fast.trades], [t.pnl for t in slow.trades],
                                   rtol=1e-9, atol=1e-9)
        assert fast.verdicts == slow.verdicts
        np.testing.assert_allclose(fast.equity, slow.equity, rtol=1e-12)


def test_bars_that_trade_nothing_send_the_run_to_the_event_path(installed) -> None:
    import numpy as np

    from bot_core.backtest.driver import run_backtest
    from bot_core.backtest.plan import DataSpec
    from bot_core.data.library import load_dataset

    # four bars in ten trade nothing: an order decided before them is not filled, and the
    # strategy backs off re-sending it (bot_core.targets), which its batch targets cannot know
    frame = load_dataset("demo-btc-usdt-1m")
    volume = frame["volume"].to_numpy().copy()
    volume[np.arange(len(volume)) % 10 < 4] = 0.0
    frame["volume"] = volume
    plan = plan_backtest(installed, strategies=["mean_reversion"], preset="balanced",
                         datasets={"btc": DataSpec(frame, "ohlcv", "BTC/USDT", "venue_a")})
    slow = run_backtest(plan, installed, fast=False)
    # the compiled replay (the default) sees a bar that cannot trade: the run is replayed
    # event by event
    for tried, note in ((run_backtest(plan, installed), "a fill limited by the bar's volume"),):
        assert not tried.fast_path and note in tried.fast_path_note
        assert tried.verdicts == slow.verdicts
        assert [(t.entry_ns, t.exit_ns, t.side) for t in tried.trades] == \
            [(t.entry_ns, t.exit_ns, t.side) for t in slow.trades]
    np.testing.assert_array_equal(tried.equity, slow.equity)


def test_with_the_volume_cap_off_bars_without_volume_fill_on_every_path(installed) -> None:
    import numpy as np

    from bot_core.backtest.driver import run_backtest
    from bot_core.backtest.plan import DataSpec
    from bot_core.data.library import load_dataset

    # the data of the test above, where volume is not tradable size: with the paper venue's
    # volume cap off every order fills whole at the next open, the compiled replay keeps the
    # run, and the event path agrees with it
    frame = load_dataset("demo-btc-usdt-1m")
    volume = frame["volume"].to_numpy().copy()
    volume[np.arange(len(volume)) % 10 < 4] = 0.0
    frame["volume"] = volume
    plan = plan_backtest(installed, strategies=["mean_reversion"], preset="balanced",
                         datasets={"btc": DataSpec(frame, "ohlcv", "BTC/USDT", "venue_a")},
                         volume_cap=False)
    assert plan.resolved.config.venues["venue_a"].settings["volume_cap"] is False
    compiled = run_backtest(plan, installed)
    slow = run_backtest(plan, installed, fast=False)
    assert (compiled.path, slow.path) == ("compiled", "events")
    assert compiled.fast_path_note == ""
    assert len(slow.trades) > 20 and len(slow.fills) == sum(slow.verdicts.values())
    for tried in (compiled,):
        _same_trades(tried.trades, slow.trades)
        _same_fills(tried.fills, slow.fills)
        assert tried.verdicts == slow.verdicts
        np.testing.assert_allclose(tried.equity, slow.equity, rtol=1e-12)


def test_a_run_without_a_closed_round_trip_shows_no_win_rate(installed) -> None:
    from bot_core.backtest.driver import run_backtest
    from bot_core.cli.backtest_cmd import summary_rows

    # vol_target holds its position and rebalances it: fills, but no round trip closes
    plan = plan_backtest(installed, strategies=["vol_target"], preset="balanced",
                         datasets=["demo-btc-usdt-1m"])
    result = run_backtest(plan, installed)
    rows = dict(summary_rows(result))
    assert result.metrics.n_trades == 0 and len(result.fills) > 5
    assert rows["win rate"] == "- (no closed round trip)"
    assert rows["trades (closed)"] == f"0 round trips, {len(result.fills):,} fills"
