"""Weekly and monthly bars (``1w``, ``1M``: calendar months of 28 to 31 days) import, validate
and backtest; a stock's daily bars report their weekends and holidays as one finding, and
only the gaps no market calendar explains one by one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot_core.data import DataQualityValidator

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BTC_MONTHLY = FIXTURES / "yahoo_btcusd_1mo.csv"
"""Yahoo Finance's monthly BTC-USD export, 2014-10 .. 2024-06 (117 rows, first of the month)."""
GOOG_DAILY = FIXTURES / "yahoo_goog_1d.csv"


def _import(run_cli, path: Path, dataset: str, timeframe: str, instrument: str = "BTC/USD",
            tz: str = "UTC"):
    return run_cli("data", "import", str(path), "--id", dataset, "--venue", "bitstamp",
                   "--instrument", instrument, "--timeframe", timeframe, "--tz", tz)


def _bars(index: pd.DatetimeIndex, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.002, 0.04, len(index))))
    opens = np.concatenate(([100.0], close[:-1]))
    return pd.DataFrame({"Date": index.strftime("%Y-%m-%d"), "Open": opens,
                         "High": np.maximum(opens, close) * 1.02,
                         "Low": np.minimum(opens, close) * 0.98, "Close": close,
                         "Volume": rng.integers(1_000, 5_000, len(index))})


def test_a_monthly_file_imports_and_backtests_on_its_calendar(run_cli) -> None:
    imported = _import(run_cli, BTC_MONTHLY, "btc-monthly", "1M")
    assert imported.returncode == 0, imported.stderr
    assert "warning" not in imported.stdout + imported.stderr  # 28 to 31 days: no gap
    listing = json.loads(run_cli("data", "list", "--json").stdout)
    entry = next(d for d in listing if d["id"] == "btc-monthly")
    assert (entry["timeframe"], entry["rows"]) == ("1M", 117)

    proc = run_cli("backtest", "--strategy", "vol_target", "--dataset", "btc-monthly", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "(BTC/USD 1M bars on bitstamp)" in proc.stderr
    result = json.loads(proc.stdout)
    assert result["warnings"] == []  # the profile's values for monthly bars
    assert result["annualization"]["periods_per_year"] == pytest.approx(12.0, abs=0.01)
    assert result["risk"]["verdicts"]["approve"] >= 5


def test_monthly_rows_are_not_daily_and_a_missing_month_is_one_gap(run_cli,
                                                                    tmp_path: Path) -> None:
    refused = _import(run_cli, BTC_MONTHLY, "btc-daily", "1d")
    assert refused.returncode == 1
    assert "rows are mostly 1M apart but --timeframe is 1d" in refused.stderr
    frame = pd.read_csv(BTC_MONTHLY).drop(index=50)  # 2018-12 is missing
    holed = tmp_path / "holed.csv"
    frame.to_csv(holed, index=False)
    imported = _import(run_cli, holed, "btc-holed", "1M")
    assert imported.returncode == 0, imported.stderr
    findings = DataQualityValidator().validate_frame(
        _loaded("btc-holed", run_cli), kind="ohlcv", timeframe="1M")
    (summary, gap) = [f for f in findings if f.check == "gap"]
    assert summary.message.startswith("1 gaps, 1 missing rows in total")
    assert gap.timestamp == "2019-01-01T00:00:00Z"
    assert gap.expected == "rows every calendar month"


def _loaded(dataset: str, run_cli) -> pd.DataFrame:
    proc = run_cli("data", "list", "--json")
    entry = next(d for d in json.loads(proc.stdout) if d["id"] == dataset)
    frame = pd.read_csv(entry["path"])
    index = pd.to_datetime(frame.pop("timestamp"), unit="ms", utc=True)
    frame.index = pd.DatetimeIndex(index, name="timestamp")
    return frame.astype("float64")


def test_weekly_bars_import_and_backtest(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "weekly.csv"
    _bars(pd.date_range("2019-01-07", periods=260, freq="W-MON")).to_csv(path, index=False)
    imported = _import(run_cli, path, "btc-weekly", "1w")
    assert imported.returncode == 0, imported.stderr
    proc = run_cli("backtest", "--strategy", "mean_reversion", "--dataset", "btc-weekly",
                   "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["annualization"]["periods_per_year"] == pytest.approx(52.2, abs=0.1)
    assert result["warnings"] == []


def test_a_stocks_weekends_and_holidays_are_one_warning(run_cli) -> None:
    imported = _import(run_cli, GOOG_DAILY, "goog", "1d", "GOOG/USD", tz="America/New_York")
    assert imported.returncode == 0, imported.stderr
    warnings = [line for line in imported.stdout.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "all 106 gaps are market closures: weekends and 19 weekday holidays, 223 days " \
           "without a row in total" in warnings[0]


def test_a_week_missing_from_a_stock_is_reported_on_its_own() -> None:
    days = pd.bdate_range("2023-01-02", "2023-06-30", tz="UTC")
    days = days[(days < "2023-03-06") | (days > "2023-03-10")]  # a whole week missing
    frame = _bars(days).set_index(days)[["Open", "High", "Low", "Close", "Volume"]]
    frame.columns = ["open", "high", "low", "close", "volume"]
    frame.index.name = "timestamp"
    findings = [f for f in DataQualityValidator().validate_frame(
        frame.astype("float64"), kind="ohlcv", dataset="stock", timeframe="1d")
        if f.check == "gap"]
    closures, summary, week = findings
    assert closures.message.startswith("23 of the 24 gaps are market closures: weekends, ")
    assert summary.message.startswith("1 gaps, 9 missing rows in total; the largest is 10d")
    assert week.timestamp == "2023-03-13T00:00:00Z"


def test_a_market_open_every_day_has_no_weekend_to_explain_its_gaps() -> None:
    days = pd.date_range("2023-01-01", periods=120, freq="D", tz="UTC")
    days = days.delete([10, 11, 40])  # missing days of a 24/7 market are missing data
    frame = _bars(days).set_index(days)[["Open", "High", "Low", "Close", "Volume"]]
    frame.columns = ["open", "high", "low", "close", "volume"]
    frame.index.name = "timestamp"
    gaps = [f for f in DataQualityValidator().validate_frame(
        frame.astype("float64"), kind="ohlcv", dataset="btc", timeframe="1d")
        if f.check == "gap"]
    assert gaps[0].message.startswith("2 gaps, 3 missing rows in total")
    assert len(gaps) == 3
