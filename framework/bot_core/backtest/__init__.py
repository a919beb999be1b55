"""Event-driven backtests: datasets replayed through the one trading pipeline.

``plan_backtest`` resolves the configuration and loads the data; ``run_backtest`` replays it
through strategies, the risk engine, order management and the paper venue, and returns a
:class:`BacktestResult` (trades, equity curve, metrics, risk verdicts). numpy and numba are
imported by the modules that need them, so importing this package stays cheap for the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot_core.backtest.driver import run_backtest
    from bot_core.backtest.plan import BacktestPlan, DataSpec, plan_backtest
    from bot_core.backtest.results import BacktestResult

__all__ = ["BacktestPlan", "BacktestResult", "DataSpec", "plan_backtest", "run_backtest"]

_WHERE = {
    "run_backtest": "bot_core.backtest.driver",
    "BacktestPlan": "bot_core.backtest.plan",
    "DataSpec": "bot_core.backtest.plan",
    "plan_backtest": "bot_core.backtest.plan",
    "BacktestResult": "bot_core.backtest.results",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(name)
