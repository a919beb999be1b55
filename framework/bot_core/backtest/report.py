"""``--report DIR``: the figure (PNG), the HTML report, the run manifest and the trades, fills
and equity CSVs.

``report.png`` is the trader's figure (:mod:`bot_core.backtest.figure`: equity with buy and
hold and the trades over drawdown), ``report.html`` one self-contained page with it and the key
tables (:mod:`bot_core.backtest.html_report`), ``manifest.json`` the run manifest that
``bot-core rerun`` re-runs (:mod:`bot_core.backtest.manifest`). Every time in the CSVs is
``2024-01-02T03:04:05Z`` (:func:`~bot_core.backtest.times.iso_utc`). ``trades.csv`` has one row
per round trip (:mod:`bot_core.backtest.trades`), ``fills.csv`` one per fill, ``equity.csv`` one
per time at which some dataset has an event (none inside a gap between datasets: see
:attr:`BacktestResult.gaps`).

matplotlib is imported only when a report is written, on the non-interactive Agg backend so a
report can be written on a server without a display; :func:`check_report_dir` finds out whether
a report can be written before a run starts, so that a missing matplotlib or an unusable
directory leaves nothing behind.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot_core.backtest.figure import plot_drawdown, plot_equity, pyplot, write_figure
from bot_core.backtest.manifest import MANIFEST_FILE
from bot_core.backtest.results import BacktestResult
from bot_core.backtest.times import iso_utc_array
from bot_core.errors import UsageError

if TYPE_CHECKING:
    from bot_core.backtest.manifest import RunManifest

__all__ = ["FILL_COLUMNS", "TRADE_COLUMNS", "check_report_dir", "plot_drawdown", "plot_equity",
           "write_fills_csv", "write_report", "write_trades_csv"]

TRADE_COLUMNS = ("strategy", "venue", "instrument", "side", "quantity", "entry_time",
                 "entry_price", "exit_time", "exit_price", "fills", "gross_pnl", "fees", "pnl",
                 "return_pct")
FILL_COLUMNS = ("time", "strategy", "venue", "instrument", "side", "quantity", "price", "fee")


def check_report_dir(directory: Path) -> None:
    """Refuse, before anything is run or written, a report that could not be written: no
    matplotlib, ``directory`` an existing file, or its nearest existing parent not a writable
    directory.

    :raises UsageError: naming the directory and the problem.
    """
    pyplot()
    if directory.exists():
        if not directory.is_dir():
            raise UsageError(f"--report {directory}: exists and is not a directory")
        existing = directory
    else:
        existing = directory.parent
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise UsageError(f"--report {directory}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--report {directory}: {existing} is not writable")


def write_trades_csv(result: BacktestResult, path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=TRADE_COLUMNS)
        writer.writeheader()
        for trade in result.trades:
            writer.writerow(trade.as_dict())
    return path


def write_fills_csv(result: BacktestResult, path: Path) -> Path:
    fills = result.fills
    times = iso_utc_array(np.array([f.ts_ns for f in fills], dtype=np.int64)).tolist()
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(FILL_COLUMNS)
        writer.writerows((time, f.strategy, f.venue, f.instrument,
                          "buy" if f.side_sign > 0 else "sell", f.quantity, f.price, f.fee)
                         for time, f in zip(times, fills, strict=True))
    return path


def write_report(result: BacktestResult, directory: Path,
                 manifest: RunManifest | None = None) -> dict[str, Path]:
    """Write ``report.png``, ``report.html``, ``manifest.json`` (when given), ``trades.csv``,
    ``fills.csv`` and ``equity.csv`` into ``directory`` (created if needed; nothing is created
    when matplotlib is missing).

    :raises UsageError: when the directory cannot be created or matplotlib is missing.
    """
    from bot_core.backtest.html_report import write_html

    pyplot()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--report: cannot create directory {directory}: {exc.strerror}") from None

    paths = {"figure": write_figure(result, directory / "report.png")}
    paths["html"] = write_html(result, directory / "report.html", paths["figure"], manifest)
    if manifest is not None:
        paths["manifest"] = directory / MANIFEST_FILE
        paths["manifest"].write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    paths["trades"] = write_trades_csv(result, directory / "trades.csv")
    paths["fills"] = write_fills_csv(result, directory / "fills.csv")
    equity_csv = directory / "equity.csv"
    with equity_csv.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(("time", "equity"))
        writer.writerows(zip(iso_utc_array(result.ts_ns).tolist(), result.equity.tolist(),
                             strict=True))
    paths["equity_csv"] = equity_csv
    return paths
