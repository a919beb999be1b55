"""An in-process observer that records what a backtest needs from the hooks.

Registered on the run's :class:`~bot_core.plugins.PluginHost` like any observer plugin, so the
backtest sees exactly the fills, verdicts and state changes a journal would see.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from bot_core.backtest.results import iso_utc
from bot_core.backtest.trades import TradeBook
from bot_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from bot_core.orders import Fill, OrderIntent
    from bot_core.risk.check import TradingState, Verdict
    from bot_core.runinfo import RunInfo

__all__ = ["Recorder"]


class Recorder:
    def __init__(self) -> None:
        self.book = TradeBook()
        self.verdicts: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.state_changes: list[dict[str, Any]] = []
        self.fills = 0

    @hookimpl
    def bot_core_on_risk_verdict(self, run: RunInfo, intent: OrderIntent,
                                 verdict: Verdict) -> None:
        self.verdicts[verdict.action.value] += 1
        if verdict.action.value != "approve":
            self.reasons[verdict.reason] += 1

    @hookimpl
    def bot_core_on_fill(self, run: RunInfo, fill: Fill) -> None:
        self.fills += 1
        self.book.add(fill)

    @hookimpl
    def bot_core_on_trading_state(self, run: RunInfo, previous: TradingState,
                                  current: TradingState, cause: str, ts_ns: int) -> None:
        self.state_changes.append({"previous": previous.value, "current": current.value,
                                   "cause": cause, "time": iso_utc(ts_ns)})
