"""``--report DIR``: equity-curve and drawdown plots (PNG) and the trades CSV.

matplotlib is imported here only (the ``plot`` extra), with the non-interactive Agg backend so a
report can be written on a server without a display.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from bot_core.backtest.metrics import drawdown_series
from bot_core.backtest.results import BacktestResult
from bot_core.errors import UsageError

__all__ = ["TRADE_COLUMNS", "write_report", "write_trades_csv"]

TRADE_COLUMNS = ("strategy", "venue", "instrument", "side", "quantity", "entry_time",
                 "entry_price", "exit_time", "exit_price", "pnl", "fees", "return_pct")


def write_trades_csv(result: BacktestResult, path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=TRADE_COLUMNS)
        writer.writeheader()
        for trade in result.trades:
            writer.writerow(trade.as_dict())
    return path


def write_report(result: BacktestResult, directory: Path) -> dict[str, Path]:
    """Write ``equity.png``, ``drawdown.png``, ``trades.csv`` and ``equity.csv`` into ``directory``.

    :raises UsageError: when the directory cannot be created or matplotlib is missing.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--report: cannot create directory {directory}: {exc.strerror}") from None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--report needs matplotlib: pip install 'bot-core[plot]'") from None

    times = result.ts_ns.astype("datetime64[ns]")
    paths = {"trades": write_trades_csv(result, directory / "trades.csv")}
    equity_csv = directory / "equity.csv"
    with equity_csv.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(("time", "equity"))
        writer.writerows(zip(np.datetime_as_string(times, unit="s"), result.equity, strict=True))
    paths["equity_csv"] = equity_csv
    title = f"{', '.join(result.strategies)} on {', '.join(result.datasets)} ({result.preset})"

    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(times, result.equity, linewidth=0.8)
    ax.set_title(f"Equity: {title}", fontsize=9)
    ax.set_ylabel("equity (quote currency)")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    paths["equity"] = directory / "equity.png"
    fig.savefig(paths["equity"], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(10, 3))
    drawdown = -100.0 * drawdown_series(result.equity)
    ax.fill_between(times, drawdown, 0.0, color="tab:red", alpha=0.4, linewidth=0)
    ax.set_title(f"Drawdown: {title}", fontsize=9)
    ax.set_ylabel("drawdown (%)")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    paths["drawdown"] = directory / "drawdown.png"
    fig.savefig(paths["drawdown"], dpi=100)
    plt.close(fig)
    return paths
