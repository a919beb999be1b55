"""``--report DIR``: what the CSVs hold and how the plots show a run, read back from the files."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot_core.backtest.driver import run_backtest
from bot_core.backtest.plan import DataSpec, plan_backtest
from bot_core.backtest.report import (
    FILL_COLUMNS,
    TRADE_COLUMNS,
    check_report_dir,
    plot_drawdown,
    plot_equity,
    write_report,
)
from bot_core.errors import UsageError

from .conftest import make_bars

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DAY_NS = 86_400 * 1_000_000_000


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _run(host: Any, write_config: Any, data: dict[str, DataSpec]) -> Any:
    plan = plan_backtest(host, strategies=["cross"], datasets=data, preset=None,
                         config_path=write_config(notional=5.0, fee=5.0, slippage=1.0))
    return run_backtest(plan, host)


def test_every_csv_has_one_time_format_and_pnl_and_return_share_a_basis(
        host, write_config, tmp_path: Path) -> None:
    data = {"btc": DataSpec(make_bars(1500, seed=11), "ohlcv", "BTC/USDT", "venue_a")}
    result = _run(host, write_config, data)
    paths = write_report(result, tmp_path / "report")
    trades = _rows(paths["trades"])
    fills = _rows(paths["fills"])
    equity = _rows(paths["equity_csv"])
    assert tuple(trades[0]) == TRADE_COLUMNS and tuple(fills[0]) == FILL_COLUMNS
    times = [r["entry_time"] for r in trades] + [r["exit_time"] for r in trades if r["exit_time"]]
    times += [r["time"] for r in fills] + [r["time"] for r in equity]
    assert all(ISO_Z.match(t) for t in times), [t for t in times if not ISO_Z.match(t)][:3]
    assert equity[0]["time"] == "2024-01-01T00:00:00Z" and len(equity) == len(result.ts_ns)
    # pnl and return_pct are both net of fees; gross_pnl is the one before them
    assert len(trades) > 20
    for row in trades:
        pnl, fees, gross = float(row["pnl"]), float(row["fees"]), float(row["gross_pnl"])
        notional = float(row["quantity"]) * float(row["entry_price"])
        assert fees > 0 and gross - fees == pytest.approx(pnl, abs=1e-9)
        assert float(row["return_pct"]) == pytest.approx(100 * pnl / notional, rel=1e-12)
    # the per-fill view: every fill, its fees adding up to the run's
    assert len(fills) == len(result.fills) == sum(int(r["fills"]) for r in trades)
    assert sum(float(r["fee"]) for r in fills) == pytest.approx(result.metrics.fees)
    assert {r["side"] for r in fills} == {"buy", "sell"}


def test_datasets_apart_in_time_leave_a_gap_the_plots_do_not_cross(
        host, write_config, tmp_path: Path) -> None:
    import pandas as pd
    from matplotlib.figure import Figure

    btc = make_bars(600, seed=11)
    eth = make_bars(600, seed=5, start=50.0)
    eth.index = eth.index + pd.Timedelta(days=3)  # three days after BTC's data ends, roughly
    result = _run(host, write_config, {
        "btc": DataSpec(btc, "ohlcv", "BTC/USDT", "venue_a"),
        "eth": DataSpec(eth, "ohlcv", "ETH/USDT", "venue_a")})
    start, end = int(btc.index[-1].value), int(eth.index[0].value)
    assert result.gaps == [(start, end)]
    assert result.as_dict()["gaps"] == [{"from": "2024-01-01T09:59:00Z",
                                         "to": "2024-01-04T00:00:00Z"}]

    # equity.csv: one row per event time, none inside the gap
    paths = write_report(result, tmp_path / "report")
    stamps = pd.to_datetime([r["time"] for r in _rows(paths["equity_csv"])]).asi8
    assert len(stamps) == 1200 and not ((stamps > start) & (stamps < end)).any()

    figure = Figure()
    ax = figure.subplots()
    plot_equity(ax, result)
    gap = (np.datetime64(start, "ns"), np.datetime64(end, "ns"))
    lines = ax.get_lines()
    assert len(lines) == 2  # one per covered stretch: nothing drawn across the gap
    for line in lines:
        x = np.asarray(line.get_xdata(), dtype="datetime64[ns]")
        assert x.max() <= gap[0] or x.min() >= gap[1]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["no data"]
    ax = figure.subplots()
    plot_drawdown(ax, result)
    assert len(ax.collections) == 2


def test_a_report_that_cannot_be_written_is_refused_before_anything_is(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(UsageError, match="exists and is not a directory"):
        check_report_dir(blocker)
    with pytest.raises(UsageError, match="is not a directory"):
        check_report_dir(blocker / "sub" / "report")
    check_report_dir(tmp_path / "new" / "report")  # may be created: nothing is, yet
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
