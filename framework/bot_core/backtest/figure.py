"""The report's figure: equity on top, drawdown below, one time axis.

The equity panel shows the strategy's equity in the account currency, the buy-and-hold line of
the traded instruments (:mod:`bot_core.backtest.benchmark`) and a marker at each trade's entry
(a triangle up for a long, down for a short) and exit (a dot), placed on the equity curve at the
time of the fill. The drawdown panel shows the fall from the running equity peak, in percent.
Times are shown in the config's ``runtime.timezone``, which the axis names. Each panel draws one
line per stretch the datasets cover and shades the gaps between them ("no data"), never a line
across a gap (:attr:`BacktestResult.gaps`).

matplotlib is imported here (and by :mod:`bot_core.backtest.report`) only, on the
non-interactive Agg backend, so a report is written on a server without a display.
"""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from bot_core.backtest.metrics import drawdown_series
from bot_core.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from bot_core.backtest.results import BacktestResult

__all__ = ["MISSING_MATPLOTLIB", "figure_title", "plot_buy_and_hold", "plot_drawdown",
           "plot_equity", "plot_trade_markers", "pyplot", "trader_figure", "write_figure"]

MISSING_MATPLOTLIB = ("--report needs matplotlib, which this installation lacks: "
                      "pip install 'matplotlib>=3.8'")
STRATEGY_COLOR = "tab:blue"
BENCHMARK_COLOR = "0.45"
MARKERS = {"long": ("^", "tab:green", "long entry"), "short": ("v", "tab:red", "short entry"),
           "exit": ("o", "black", "exit")}
"""Trade markers: shape, colour and legend label."""


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend.

    :raises UsageError: when matplotlib cannot be imported.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError(MISSING_MATPLOTLIB) from None
    return plt


def _segments(result: BacktestResult) -> list[slice]:
    """The stretches of the curve between gaps (one when the datasets leave none)."""
    cuts = np.searchsorted(result.ts_ns, [end for _, end in result.gaps]).tolist()
    bounds = [0, *cuts, len(result.ts_ns)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _times(result: BacktestResult) -> np.ndarray:
    return result.ts_ns.astype("datetime64[ns]")


def _mark_gaps(ax: Axes, result: BacktestResult, legend: bool = True) -> None:
    for n, (start, end) in enumerate(result.gaps):
        # datetime64 goes through matplotlib's date units, as the plotted times do (the stubs
        # only know floats)
        span = (cast("float", np.datetime64(start, "ns")), cast("float", np.datetime64(end, "ns")))
        ax.axvspan(*span, color="0.85", linewidth=0, label="no data" if n == 0 else None)
    if result.gaps and legend:
        ax.legend(loc="best", fontsize=8)


def _currency(result: BacktestResult) -> str:
    return result.currency or "quote currency"


def plot_equity(ax: Axes, result: BacktestResult, title: str = "", label: str | None = None
                ) -> None:
    """The equity curve into ``ax``, in the account currency: one line per stretch the
    datasets cover, so a gap between datasets is shown as a gap (shaded, labelled "no data"),
    never as a line across it. ``label`` names the curve in a legend."""
    times = _times(result)
    for n, part in enumerate(_segments(result)):
        ax.plot(times[part], result.equity[part], color=STRATEGY_COLOR, linewidth=0.9,
                zorder=2, label=label if n == 0 else None)
    if title:
        ax.set_title(f"Equity: {title}", fontsize=9)
    ax.set_ylabel(f"equity ({_currency(result)})")
    _mark_gaps(ax, result)
    ax.grid(alpha=0.3)


def plot_buy_and_hold(ax: Axes, result: BacktestResult) -> None:
    """The buy-and-hold line of the traded instruments into ``ax`` (nothing without one)."""
    benchmark = result.benchmark
    if benchmark is None:
        return
    times = _times(result)
    label = (f"buy and hold {', '.join(benchmark.instruments)} "
             f"({100 * benchmark.total_return:+.2f} %)")
    for n, part in enumerate(_segments(result)):
        ax.plot(times[part], benchmark.equity[part], color=BENCHMARK_COLOR, linewidth=0.7,
                alpha=0.8, zorder=1, label=label if n == 0 else None)


def plot_trade_markers(ax: Axes, result: BacktestResult) -> None:
    """A marker at each trade's entry and exit, on the equity curve at the fill's time."""
    if not result.trades or not len(result.ts_ns):
        return
    last = len(result.ts_ns) - 1

    def on_curve(times_ns: list[int]) -> tuple[np.ndarray, np.ndarray]:
        steps = np.clip(np.searchsorted(result.ts_ns, np.asarray(times_ns, dtype=np.int64)),
                        0, last)
        return result.ts_ns[steps].astype("datetime64[ns]"), result.equity[steps]

    groups = {"long": [t.entry_ns for t in result.trades if t.side == "long"],
              "short": [t.entry_ns for t in result.trades if t.side != "long"],
              "exit": [t.exit_ns for t in result.trades if t.exit_ns is not None]}
    for kind, times_ns in groups.items():
        if not times_ns:
            continue
        marker, color, label = MARKERS[kind]
        x, y = on_curve(times_ns)
        ax.scatter(x, y, marker=marker, s=22 if kind != "exit" else 10, color=color,
                   edgecolors="none", zorder=3, label=label)


def plot_drawdown(ax: Axes, result: BacktestResult, title: str = "") -> None:
    """The drawdown from the running equity peak into ``ax``, in percent, broken at gaps."""
    times = _times(result)
    drawdown = -100.0 * drawdown_series(result.equity)
    for part in _segments(result):
        ax.fill_between(times[part], drawdown[part], 0.0, color="tab:red", alpha=0.4,
                        linewidth=0)
    if title:
        ax.set_title(f"Drawdown: {title}", fontsize=9)
    ax.set_ylabel("drawdown (%)")
    _mark_gaps(ax, result, legend=False)
    ax.grid(alpha=0.3)


def _time_axis(ax: Axes, timezone: str) -> None:
    """Dates on ``ax`` shown in ``timezone`` (the plotted times are UTC), named in the label."""
    import zoneinfo

    import matplotlib.dates as mdates

    tz = zoneinfo.ZoneInfo(timezone)
    locator = mdates.AutoDateLocator(tz=tz)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(locator, tz=tz))  # type: ignore[no-untyped-call]
    ax.set_xlabel(f"time ({timezone})")


def figure_title(result: BacktestResult) -> str:
    """What ran on what, and the strategy against buy and hold."""
    what = f"{', '.join(result.strategies)} on {', '.join(result.datasets)} ({result.preset})"
    figures = f"strategy {100 * result.metrics.total_return:+.2f} %"
    if result.benchmark is not None and result.excess_return is not None:
        figures += (f", buy and hold {100 * result.benchmark.total_return:+.2f} %, "
                    f"excess {100 * result.excess_return:+.2f} %")
    return textwrap.fill(f"{what}: {figures}", 110)


def trader_figure(result: BacktestResult) -> Figure:
    """Equity (with buy and hold and the trades) over drawdown, sharing the time axis."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import StrMethodFormatter

    fig = Figure(figsize=(11, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1.2))
    plot_equity(top, result, label=f"strategy ({100 * result.metrics.total_return:+.2f} %)")
    plot_buy_and_hold(top, result)
    plot_trade_markers(top, result)
    top.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    handles, labels = top.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i] == "no data")  # shading last
    top.legend([handles[i] for i in order], [labels[i] for i in order], loc="best", fontsize=8,
               ncols=2)
    top.set_title(figure_title(result), fontsize=9)
    plot_drawdown(bottom, result)
    _time_axis(bottom, result.timezone or "UTC")
    top.tick_params(labelbottom=False)
    return fig


def write_figure(result: BacktestResult, path: Path, dpi: int = 110) -> Path:
    """:func:`trader_figure` as a PNG at ``path``."""
    pyplot()  # the Agg backend, and a clear error without matplotlib
    fig = trader_figure(result)
    fig.savefig(path, dpi=dpi)
    return path
