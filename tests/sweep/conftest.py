"""Sweep test fixtures: the installed plugins, a config on the demo universe, the CLI.

Sweeps here replay the shipped demo minute bars (30 days of BTC/USDT, 43,200 bars) through the
installed ``mean_reversion`` plugin, on small grids, so every test runs real backtests in a few
seconds.
"""

from __future__ import annotations

import csv
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bot_core

DEMO_CONFIG = 'extends = "balanced"\nuniverse = "demo"\n'
"""The balanced risk profile on the demo universe (mean_reversion on the demo instruments)."""

RESULT_COLUMNS = ("key", "phase", "window", "total_return", "cagr", "sharpe", "sortino",
                  "max_drawdown", "win_rate", "exposure", "turnover", "fees", "n_trades",
                  "final_equity", "bars", "n_fills", "approved", "reduced", "rejected",
                  "final_state", "path", "start", "end", "error", "params")
"""What must be identical wherever a run executes (not its time or its worker)."""


@pytest.fixture(scope="session")
def installed() -> bot_core.PluginHost:
    return bot_core.load_plugins()


@pytest.fixture
def demo_config(tmp_path: Path) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text(DEMO_CONFIG, encoding="utf-8")
    return path


def read_results(directory: Path) -> list[dict[str, str]]:
    with (directory / "results.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def comparable(rows: list[dict[str, str]]) -> dict[str, tuple[str, ...]]:
    """Rows by key, only the columns that must not depend on where a run executed."""
    return {r["key"]: tuple(r[c] for c in RESULT_COLUMNS) for r in rows}


@pytest.fixture
def sweep_cli(run_cli: Callable[..., subprocess.CompletedProcess[str]], demo_config: Path
              ) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``bot-core sweep --config <demo> --strategy mean_reversion --dataset demo-btc-usdt-1m``
    plus the given arguments."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300,
            dataset: str = "demo-btc-usdt-1m") -> subprocess.CompletedProcess[str]:
        return run_cli("sweep", "--config", str(demo_config), "--strategy", "mean_reversion",
                       "--dataset", dataset, *args, env=env, timeout=timeout)

    return run


def payload(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
