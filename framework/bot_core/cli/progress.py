"""Progress bars of long commands (backtests, re-runs, sweeps, imports), on stderr.

A bar is drawn only for a person watching: when stdout and stderr are both terminals and the
command was not asked for ``--json``. Piped or redirected output, CI logs and JSON stay free of
control characters. rich is imported only when a bar is drawn.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["ProgressUpdate", "interactive", "progress_bar", "progress_updates"]

ProgressUpdate = Callable[..., None]
"""``update(done, total)``, or ``update(done, total, description)`` to rename the task."""


def interactive() -> bool:
    """Whether a person is watching: stdout and stderr are both terminals."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def progress_bar(total_hint: str = "") -> Any:
    """A transient rich progress bar on stderr, or None when no one is watching
    (:func:`interactive`). ``total_hint`` names what is counted, for the reader of the code."""
    if not interactive():
        return None
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from bot_core.cli.output import console

    return Progress("[progress.description]{task.description}", BarColumn(),
                    TaskProgressColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console(stderr=True), transient=True)


@contextmanager
def progress_updates(description: str, total: int = 1, *, quiet: bool = False
                     ) -> Iterator[ProgressUpdate | None]:
    """A callback that moves a progress bar, or None when ``quiet`` or no one is watching."""
    bar = None if quiet else progress_bar()
    if bar is None:
        yield None
        return
    with bar:
        task = bar.add_task(description, total=total)

        def update(done: int, total: int, label: str | None = None) -> None:
            if label is None:
                bar.update(task, completed=done, total=total)
            else:
                bar.update(task, completed=done, total=total, description=label)

        yield update
