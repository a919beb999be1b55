"""The same strategy takes the same decisions on the same bars in a backtest and in
`bot-core run --mode demo --speed max`: one event path, one risk engine, one paper venue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bot_core

CYCLES = 2000
"""Bars per instrument: past mean_reversion's 480-bar window, so both strategies trade."""

CONFIG = """
extends = "balanced"
universe = "demo"
name = "twin"

[strategies.cross_arb]
enabled = false

[strategies.mean_reversion]
instruments = ["BTC/USDT", "ETH/USDT"]
warm_up_bars = 0

[strategies.vol_target]
warm_up_bars = 0
"""


def _decision(ts_ns: int, strategy: str, instrument: str, side: str, quantity: float,
              verdict: str) -> tuple[Any, ...]:
    return ts_ns, strategy, instrument, side, quantity, verdict


def _backtest_decisions(config: Path) -> list[tuple[Any, ...]]:
    from bot_core.backtest.driver import run_backtest
    from bot_core.backtest.plan import DataSpec, plan_backtest
    from bot_core.data.library import load_dataset

    seen: list[tuple[Any, ...]] = []

    class Recorder:
        @staticmethod
        @bot_core.hookimpl
        def bot_core_on_risk_verdict(run: Any, intent: Any, verdict: Any) -> None:
            seen.append(_decision(intent.ts_ns, intent.strategy_id, intent.instrument,
                                  intent.side.name.lower(), intent.quantity,
                                  verdict.action.value))

    host = bot_core.load_plugins()
    host.register_observer(Recorder, name="recorder")
    datasets = {}
    for dataset_id, instrument in (("demo-btc-usdt-1m", "BTC/USDT"),
                                   ("demo-eth-usdt-1m", "ETH/USDT")):
        frame = load_dataset(dataset_id).iloc[:CYCLES]
        datasets[dataset_id] = DataSpec(frame, "ohlcv", instrument, "venue_a")
    plan = plan_backtest(host, strategies=["mean_reversion", "vol_target"], datasets=datasets,
                         preset=None, config_path=config)
    run_backtest(plan, host, fast=False)
    return seen


def test_backtest_and_demo_run_decide_the_same_on_the_same_bars(
        run_cli, tmp_path: Path) -> None:
    config = tmp_path / "twin.toml"
    config.write_text(CONFIG)
    result = run_cli("run", "--config", str(config), "--mode", "demo", "--speed", "max",
                     "--cycles", str(CYCLES), "--json")
    assert result.returncode == 0, result.stderr
    live = [_decision(e["ts_ns"], e["strategy"], e["instrument"], e["side"], e["quantity"],
                      e["verdict"])
            for e in map(json.loads, result.stdout.splitlines()) if e["event"] == "decision"]
    backtest = _backtest_decisions(config)
    strategies = {d[1] for d in backtest}
    assert strategies == {"mean_reversion", "vol_target"}, "both must trade for the test to bite"
    assert len(backtest) > 10
    assert live == backtest  # same bars, same order, same sizes, same verdicts
