"""Daily stock bars through the real CLI: imported with ``bot-core data import``, backtested
with a config file. The bar length and calendar come from the dataset: vol_target trades,
Sharpe is annualized with the data's ~252-261 bars a year and says so, a window the dataset
cannot fill is one error line, and the profiles' minute-bar windows are reported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

CONFIG = """\
profile = "balanced"
instruments = ["GOOG/USD"]

[runtime]
initial_equity = 100000.0
base_currency = "USD"

[venues.venue_a]
adapter = "paper"

[buckets.stocks]
instruments = ["GOOG/USD"]

[strategies.vol_target]
plugin = "vol_target"
instruments = ["GOOG/USD"]
venues = ["venue_a"]

[strategies.mean_reversion]
plugin = "mean_reversion"
instruments = ["GOOG/USD"]
venues = ["venue_a"]

[risk]
max_position_pct = 20.0
max_total_position_pct = 100.0
max_bucket_exposure_pct = 60.0
daily_loss_limit_pct = 4.0
drawdown_liquidation_pct = 20.0
max_leverage = 2.0
max_orders_per_minute = 60
checks = ["max_position", "max_leverage", "daily_loss", "drawdown", "order_rate"]
"""


@pytest.fixture
def goog(run_cli, tmp_path: Path) -> Path:
    """A daily stock dataset ``goog`` (three years of weekdays) in the library; the config."""
    days = pd.bdate_range("2021-01-04", "2023-12-29")
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(3e-4, 0.018, len(days))))
    opens = np.concatenate(([100.0], close[:-1]))
    csv = tmp_path / "goog_1d.csv"
    pd.DataFrame({"Date": days.strftime("%Y-%m-%d"), "Open": opens,
                  "High": np.maximum(opens, close) * 1.01, "Low": np.minimum(opens, close) * 0.99,
                  "Close": close, "Volume": rng.integers(1_000_000, 5_000_000, len(days))}
                 ).to_csv(csv, index=False, float_format="%.4f")
    imported = run_cli("data", "import", str(csv), "--id", "goog", "--venue", "venue_a",
                       "--instrument", "GOOG/USD", "--timeframe", "1d", "--tz", "UTC")
    assert imported.returncode == 0, imported.stderr
    config = tmp_path / "goog.toml"
    config.write_text(CONFIG)
    return config


def test_vol_target_trades_daily_bars_and_sharpe_uses_their_calendar(run_cli, goog) -> None:
    proc = run_cli("backtest", "--config", str(goog), "--strategy", "vol_target",
                   "--dataset", "goog", "--param", "ewma_halflife_bars=20", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # a half-life chosen for daily bars: nothing to warn about
    out = json.loads(proc.stdout)
    assert out["risk"]["verdicts"]["approve"] >= 5  # annualized as 1-minute bars: no order
    assert out["trades"][0]["side"] == "long"
    annualization = out["annualization"]
    assert annualization["returns"] == "bar"
    assert annualization["periods_per_year"] == pytest.approx(261.3, abs=0.5)
    assert annualization["basis"].startswith("every 1d bar: 261.28 returns a year observed")
    assert out["warnings"] == []
    table = run_cli("backtest", "--config", str(goog), "--strategy", "vol_target", "--dataset",
                    "goog", "--param", "ewma_halflife_bars=20")
    row = next(line for line in table.stdout.splitlines() if "annualized with" in line)
    assert "261 bar returns a year (observed in the data)" in row


def test_profile_windows_on_daily_bars_are_warned_about(run_cli, goog) -> None:
    proc = run_cli("backtest", "--config", str(goog), "--strategy", "mean_reversion",
                   "--dataset", "goog", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == (
        "warning: strategies.mean_reversion.params.window_bars: 480 is the balanced profile's "
        "value for 1m bars (8 hours); on the 1d bars of goog it spans 1.8 years: set window_bars "
        "for this timeframe, or strategies.mean_reversion.timeframe = \"1d\" for the profiles' "
        "1d values")
    assert lines[1].startswith("warning: strategies.mean_reversion.params.max_holding_bars: "
                               "1440 is")
    assert json.loads(proc.stdout)["warnings"] == [line[len("warning: "):] for line in lines]


def test_a_window_longer_than_the_dataset_is_one_error_line(run_cli, goog) -> None:
    proc = run_cli("backtest", "--config", str(goog), "--strategy", "mean_reversion",
                   "--dataset", "goog", "--param", "window_bars=1000")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        "error: --param window_bars: strategies.mean_reversion.params.window_bars: 1000 1d bars "
        "(3.8 years) come before the first z-score, but goog has 780 rows: the strategy could "
        "never trade; choose a window for this timeframe (docs/strategies/mean_reversion.md, "
        "Timeframes) (got 1000)\n")
    stated = run_cli("backtest", "--config", str(goog), "--strategy", "vol_target",
                     "--dataset", "goog", "--param", "bar_seconds=60")
    assert stated.returncode == 2
    assert "bar_seconds: disagrees with the 1d bars (86400 s) of goog" in stated.stderr
    assert "Traceback" not in stated.stderr and len(stated.stderr.splitlines()) == 1
