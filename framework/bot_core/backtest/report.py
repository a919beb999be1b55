"""``--report DIR``: equity-curve and drawdown plots (PNG), the trades, fills and equity CSVs.

Every time in the CSVs is ``2024-01-02T03:04:05Z`` (:func:`~bot_core.backtest.results.iso_utc`).
``trades.csv`` has one row per round trip (:mod:`bot_core.backtest.trades`), ``fills.csv`` one
per fill, ``equity.csv`` one per time at which some dataset has an event (none inside a gap
between datasets: see :attr:`BacktestResult.gaps`).

matplotlib is imported here only, with the non-interactive Agg backend so a report can be written
on a server without a display; :func:`check_report_dir` finds out whether a report can be written
before a run starts, so that a missing matplotlib or an unusable directory leaves nothing behind.
"""

from __future__ import annotations

import csv
import itertools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from bot_core.backtest.metrics import drawdown_series
from bot_core.backtest.results import BacktestResult
from bot_core.backtest.times import iso_utc_array
from bot_core.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["FILL_COLUMNS", "TRADE_COLUMNS", "check_report_dir", "plot_drawdown", "plot_equity",
           "write_fills_csv", "write_report", "write_trades_csv"]

TRADE_COLUMNS = ("strategy", "venue", "instrument", "side", "quantity", "entry_time",
                 "entry_price", "exit_time", "exit_price", "fills", "gross_pnl", "fees", "pnl",
                 "return_pct")
FILL_COLUMNS = ("time", "strategy", "venue", "instrument", "side", "quantity", "price", "fee")
_MISSING_MATPLOTLIB = ("--report needs matplotlib, which this installation lacks: "
                       "pip install 'matplotlib>=3.8'")


def check_report_dir(directory: Path) -> None:
    """Refuse, before anything is run or written, a report that could not be written: no
    matplotlib, ``directory`` an existing file, or its nearest existing parent not a writable
    directory.

    :raises UsageError: naming the directory and the problem.
    """
    _pyplot()
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


def _pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend.

    :raises UsageError: when matplotlib cannot be imported.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError(_MISSING_MATPLOTLIB) from None
    return plt


def _segments(result: BacktestResult) -> list[slice]:
    """The stretches of the curve between gaps (one when the datasets leave none)."""
    cuts = np.searchsorted(result.ts_ns, [end for _, end in result.gaps]).tolist()
    bounds = [0, *cuts, len(result.ts_ns)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _mark_gaps(ax: Axes, result: BacktestResult) -> None:
    for n, (start, end) in enumerate(result.gaps):
        # datetime64 goes through matplotlib's date units, as the plotted times do (the stubs
        # only know floats)
        span = (cast("float", np.datetime64(start, "ns")), cast("float", np.datetime64(end, "ns")))
        ax.axvspan(*span, color="0.85", linewidth=0, label="no data" if n == 0 else None)
    if result.gaps:
        ax.legend(loc="best", fontsize=8)


def write_report(result: BacktestResult, directory: Path) -> dict[str, Path]:
    """Write ``equity.png``, ``drawdown.png``, ``trades.csv``, ``fills.csv`` and ``equity.csv``
    into ``directory`` (created if needed; nothing is created when matplotlib is missing).

    :raises UsageError: when the directory cannot be created or matplotlib is missing.
    """
    plt = _pyplot()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--report: cannot create directory {directory}: {exc.strerror}") from None

    paths = {"trades": write_trades_csv(result, directory / "trades.csv"),
             "fills": write_fills_csv(result, directory / "fills.csv")}
    equity_csv = directory / "equity.csv"
    with equity_csv.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(("time", "equity"))
        writer.writerows(zip(iso_utc_array(result.ts_ns).tolist(), result.equity.tolist(),
                             strict=True))
    paths["equity_csv"] = equity_csv
    title = f"{', '.join(result.strategies)} on {', '.join(result.datasets)} ({result.preset})"
    for name, plot, height in (("equity", plot_equity, 4), ("drawdown", plot_drawdown, 3)):
        fig, ax = plt.subplots(figsize=(10, height))
        plot(ax, result, title)
        fig.autofmt_xdate()
        fig.tight_layout()
        paths[name] = directory / f"{name}.png"
        fig.savefig(paths[name], dpi=100)
        plt.close(fig)
    return paths


def plot_equity(ax: Axes, result: BacktestResult, title: str = "") -> None:
    """The equity curve into ``ax``: one line per stretch the datasets cover, so a gap between
    datasets is shown as a gap (shaded, labelled "no data"), never as a line across it."""
    times = result.ts_ns.astype("datetime64[ns]")
    for part in _segments(result):
        ax.plot(times[part], result.equity[part], color="tab:blue", linewidth=0.8)
    ax.set_title(f"Equity: {title}", fontsize=9)
    ax.set_ylabel("equity (quote currency)")
    _mark_gaps(ax, result)
    ax.grid(alpha=0.3)


def plot_drawdown(ax: Axes, result: BacktestResult, title: str = "") -> None:
    """The drawdown from the running equity peak into ``ax``, in percent, broken at gaps."""
    times = result.ts_ns.astype("datetime64[ns]")
    drawdown = -100.0 * drawdown_series(result.equity)
    for part in _segments(result):
        ax.fill_between(times[part], drawdown[part], 0.0, color="tab:red", alpha=0.4,
                        linewidth=0)
    ax.set_title(f"Drawdown: {title}", fontsize=9)
    ax.set_ylabel("drawdown (%)")
    _mark_gaps(ax, result)
    ax.grid(alpha=0.3)
