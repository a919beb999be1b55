"""A sweep's pictures: the heatmap of a two-parameter grid, the stitched out-of-sample curve.

matplotlib (a dependency of bot-core) is imported here only, on the Agg backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot_core.config.validation import shown

__all__ = ["plot_heatmap", "plot_oos_equity"]

_ANNOTATE_MAX_CELLS = 400


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_heatmap(grid: np.ndarray, keys: Sequence[str], values: Sequence[Sequence[Any]],
                 metric: str, path: Path, title: str, *, higher_is_better: bool = True) -> Path:
    """``metric`` over a two-parameter grid (``grid[i, j]``: ``keys[0]`` = ``values[0][i]``,
    ``keys[1]`` = ``values[1][j]``; NaN for a failed run, shown as such)."""
    plt = _pyplot()
    rows, cols = values
    fig, ax = plt.subplots(figsize=(max(5.0, 0.8 * len(cols) + 3), max(4.0, 0.5 * len(rows) + 2)))
    # brighter is better: reversed colours for a metric where lower is better (drawdown)
    cmap = "viridis" if higher_is_better else "viridis_r"
    image = ax.imshow(grid, cmap=cmap, aspect="auto", origin="lower")
    ax.set_xticks(range(len(cols)), [shown(v) for v in cols])
    ax.set_yticks(range(len(rows)), [shown(v) for v in rows])
    ax.set_xlabel(keys[1])
    ax.set_ylabel(keys[0])
    ax.set_title(f"{metric}: {title}", fontsize=9)
    fig.colorbar(image, ax=ax, label=metric)
    if grid.size <= _ANNOTATE_MAX_CELLS:
        finite = grid[np.isfinite(grid)]
        middle = float(np.median(finite)) if finite.size else 0.0
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                text = "failed" if np.isnan(grid[i, j]) else f"{grid[i, j]:.3g}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="black" if np.isnan(grid[i, j])
                        or (grid[i, j] > middle) == higher_is_better else "white")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_oos_equity(ts_ns: np.ndarray, equity: np.ndarray, starts_ns: Sequence[int],
                    path: Path, title: str) -> Path:
    """The stitched out-of-sample equity curve, a dotted line where each test period starts."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(ts_ns.astype("datetime64[ns]"), equity, color="tab:blue", linewidth=0.8)
    for n, start in enumerate(starts_ns):
        ax.axvline(np.datetime64(int(start), "ns"), color="0.6", linestyle=":",
                   linewidth=0.8, label="test period starts" if n == 0 else None)
    ax.set_title(f"Out-of-sample equity (stitched): {title}", fontsize=9)
    ax.set_ylabel("equity (quote currency)")
    if len(starts_ns):
        ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
