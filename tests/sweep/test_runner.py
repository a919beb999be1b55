"""The sweep runner: a run that raises is reported with its parameters and the others go on,
results are written per run and read back on resume, and run_sweep returns every run as a
DataFrame whose cells equal the single backtests."""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import Field

import bot_core
from bot_core.backtest.driver import run_backtest
from bot_core.backtest.plan import DataSpec, plan_backtest
from bot_core.errors import UsageError
from bot_core.strategy import Strategy, StrategySettings
from bot_core.sweep import execute_sweep, plan_sweep, run_sweep
from bot_core.sweep.runs import (
    DatasetPayload,
    Requirements,
    RunRecord,
    RunSpec,
    SweepContext,
    execute_run,
)

MINUTE_NS = 60 * 1_000_000_000
START_NS = 1_704_067_200 * 1_000_000_000


class FragileSettings(StrategySettings):
    window: int = Field(10, ge=2, le=1000, description="Bars, [2, 1000].")


class Fragile(Strategy):
    """Flat all the time, and broken (raises on start) when its window is 13."""

    id = "fragile"
    Settings = FragileSettings
    data_kind = "ohlcv"

    def on_start(self, ctx: Any) -> None:
        if self.settings.window == 13:
            raise RuntimeError("unlucky window")

    def on_bar(self, bar: Any, ctx: Any) -> list[Any]:
        return []


def _module() -> types.SimpleNamespace:
    @bot_core.hookimpl
    def bot_core_register_strategies(register: Callable[[type[Strategy]], None]) -> None:
        register(Fragile)

    return types.SimpleNamespace(BOT_CORE_API=">=1.0,<2", __name__="tests.fragile",
                                 bot_core_register_strategies=bot_core_register_strategies)


CONFIG = """
extends = "balanced"
instruments = ["BTC/USDT"]

[venues.venue_a]
adapter = "paper"

[strategies.fragile]
plugin = "fragile"
instruments = ["BTC/USDT"]
venues = ["venue_a"]
"""


def _bars(n: int) -> Any:
    import pandas as pd

    rng = np.random.default_rng(3)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    index = pd.DatetimeIndex(START_NS + np.arange(n, dtype=np.int64) * MINUTE_NS, tz="UTC",
                             name="timestamp")
    return pd.DataFrame({"open": close, "high": close * 1.001, "low": close * 0.999,
                         "close": close, "volume": np.full(n, 1e6)}, index=index)


class InlineExecutor:
    """Runs in this process with the given host (so that a test strategy can take part)."""

    description = "inline"

    def __init__(self, host: bot_core.PluginHost) -> None:
        self.host = host
        self.ran: list[str] = []
        self.closed: list[bool] = []
        self._data: list[DataSpec] = []
        self._context: SweepContext | None = None

    def start(self, context: SweepContext, payloads: Sequence[DatasetPayload], runs: int,
              requirements: Requirements) -> list[str]:
        self._context, self._data = context, [p.spec for p in payloads]
        return []

    def run(self, specs: Sequence[RunSpec]) -> Iterator[RunRecord]:
        assert self._context is not None
        for spec in specs:
            self.ran.append(spec.key)
            yield execute_run(self._context, spec, self._data, host=self.host)

    def close(self, *, cancel: bool = False) -> None:
        self.closed.append(cancel)


@pytest.fixture
def fragile(tmp_path: Path) -> tuple[bot_core.PluginHost, Path, dict[str, DataSpec]]:
    config = tmp_path / "fragile.toml"
    config.write_text(CONFIG, encoding="utf-8")
    host = bot_core.load_plugins(builtins=[("fragile", _module())])
    return host, config, {"bars": DataSpec(_bars(500), "ohlcv", "BTC/USDT", "venue_a", "1m")}


def test_a_run_that_raises_is_reported_with_its_parameters_and_the_others_go_on(
        fragile, tmp_path: Path) -> None:
    host, config, data = fragile
    plan = plan_sweep(host, strategies=["fragile"], datasets=data,
                      grid={"window": [5, 13, 20]}, preset=None, config_path=config)
    assert plan.rerun == []  # frames are not library datasets: no command reruns them
    executor = InlineExecutor(host)
    out = tmp_path / "out"
    outcome = execute_sweep(plan, executor, out=out)
    frame = outcome.results
    assert frame["key"].tolist() == ["window=5", "window=13", "window=20"]
    assert frame["error"].tolist() == ["", "RuntimeError: unlucky window", ""]
    assert frame["param.window"].tolist() == [5, 13, 20]  # "window" is a results column
    assert frame.loc[1, "params"] == json.dumps({"window": 13})
    assert np.isnan(frame.loc[1, "sharpe"])
    assert frame.loc[0, "final_equity"] == frame.loc[2, "final_equity"] == 100_000.0
    assert executor.closed == [False]
    log = (out / "errors.log").read_text(encoding="utf-8")
    assert log.startswith("window=13: RuntimeError: unlucky window\nTraceback")
    assert "raise RuntimeError(\"unlucky window\")" in log

    # a resume runs the failed run again (and only it); its last row is the one that counts
    again = InlineExecutor(host)
    outcome = execute_sweep(plan, again, out=out, resume=True)
    assert again.ran == ["window=13"]
    assert outcome.resumed == 2
    assert len(outcome.results) == 3
    lines = (out / "results.csv").read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == \
        ["window=5", "window=13", "window=20", "window=13"]


def test_results_survive_a_torn_line_and_resume_skips_finished_runs(fragile, tmp_path) -> None:
    host, config, data = fragile
    plan = plan_sweep(host, strategies=["fragile"], datasets=data,
                      grid={"window": [5, 6, 7, 8]}, preset=None, config_path=config)
    out = tmp_path / "out"
    first = execute_sweep(plan, InlineExecutor(host), out=out)
    results = out / "results.csv"
    lines = results.read_text(encoding="utf-8").splitlines(keepends=True)
    # as a kill in the middle of writing the third row would leave it
    results.write_text("".join(lines[:3]) + lines[3][:40], encoding="utf-8")
    executor = InlineExecutor(host)
    second = execute_sweep(plan, executor, out=out, resume=True)
    assert executor.ran == ["window=7", "window=8"]
    assert second.resumed == 2
    same = ["key", "total_return", "final_equity", "bars", "params"]
    assert second.results[same].equals(first.results[same])
    text = results.read_text(encoding="utf-8")
    assert text.count("\n") == 5 and text.endswith("\n")


def test_a_directory_holds_one_sweep(fragile, tmp_path) -> None:
    host, config, data = fragile
    plan = plan_sweep(host, strategies=["fragile"], datasets=data, grid={"window": [5]},
                      preset=None, config_path=config)
    out = tmp_path / "out"
    execute_sweep(plan, InlineExecutor(host), out=out)
    with pytest.raises(UsageError, match=f"--out {out}: already holds a sweep; --resume"):
        execute_sweep(plan, InlineExecutor(host), out=out)
    other = plan_sweep(host, strategies=["fragile"], datasets=data, grid={"window": [5, 6]},
                       preset=None, config_path=config, params={})
    with pytest.raises(UsageError, match=r"started with other settings \(grid differ\)"):
        execute_sweep(other, InlineExecutor(host), out=out, resume=True)
    with pytest.raises(UsageError, match="no sweep there"):
        execute_sweep(plan, InlineExecutor(host), out=tmp_path / "nothing", resume=True)


def test_run_sweep_returns_every_run_equal_to_its_single_backtest(
        installed: bot_core.PluginHost, demo_config: Path) -> None:
    frame = run_sweep("mean_reversion", "demo-btc-usdt-1m",
                      {"window_bars": [60, 120], "entry_z": [2.0]}, config_path=demo_config,
                      workers=1)
    assert frame["key"].tolist() == ["window_bars=60 entry_z=2.0", "window_bars=120 entry_z=2.0"]
    assert (frame["error"] == "").all()
    plan = plan_backtest(installed, strategies=["mean_reversion"], datasets=["demo-btc-usdt-1m"],
                         preset=None, config_path=demo_config,
                         params={"window_bars": 120, "entry_z": 2.0})
    single = run_backtest(plan, installed)
    row = frame.iloc[1]
    for name, value in single.metrics.as_dict().items():
        assert row[name] == value, name
    assert row["n_fills"] == len(single.fills)
    assert row["path"] == single.path
    assert json.loads(row["plugins"])["bot-core-mean-reversion"]
