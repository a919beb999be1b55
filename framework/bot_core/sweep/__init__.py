"""Parameter sweeps and walk-forward analysis: many normal backtests, locally or on Dask.

``run_sweep`` returns one row per run as a pandas DataFrame (for notebooks); ``plan_sweep``
checks a sweep before any work and ``execute_sweep`` runs it on an executor
(``make_executor``: local processes or dask.distributed) and returns a :class:`SweepOutcome`
with the walk-forward summaries. See docs/sweeps.md. Submodules are imported on first use, so
importing this package stays cheap for the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot_core.sweep.runner import (
        SweepInterrupted,
        SweepOutcome,
        SweepPlan,
        execute_sweep,
        make_executor,
        plan_sweep,
        run_sweep,
    )

__all__ = ["SweepInterrupted", "SweepOutcome", "SweepPlan", "execute_sweep", "make_executor",
           "plan_sweep", "run_sweep"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import importlib

        return getattr(importlib.import_module("bot_core.sweep.runner"), name)
    raise AttributeError(name)
