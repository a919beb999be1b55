"""An in-process listener that records what a backtest needs from the run.

It listens where the observer hooks are called: :meth:`Recorder.on_fill` is a fill listener of
the pipeline (called right after ``bot_core_on_fill`` with the same fill), and
:meth:`Recorder.on_trading_state` a state listener of the risk engine (right after
``bot_core_on_trading_state``), so the backtest sees exactly the fills and state changes a
journal plugin sees, without a hook dispatch per fill.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from bot_core.backtest.times import iso_utc
from bot_core.backtest.trades import TradeBook

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

    from bot_core.orders import Fill
    from bot_core.risk.check import TradingState

__all__ = ["Recorder"]


class Recorder:
    """Fills (into round trips) and trading-state changes. Verdict counts come from the
    pipeline's own tally, so no per-verdict hook call is added to the hot path."""

    def __init__(self) -> None:
        self.book = TradeBook()
        self.state_changes: list[dict[str, Any]] = []
        self.fills = 0

    @staticmethod
    def tally(pipeline_verdicts: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
        """``action:reason`` counts -> (count per action, count per non-approve reason)."""
        actions: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        for key, count in pipeline_verdicts.items():
            action, _, reason = key.partition(":")
            actions[action] += count
            if action != "approve":
                reasons[reason] += count
        return dict(actions), dict(reasons)

    def on_fill(self, fill: Fill) -> None:
        self.fills += 1
        self.book.add(fill)

    def on_fill_columns(self, names: Sequence[tuple[str, str, str]], book: np.ndarray,
                        side_sign: np.ndarray, quantity: np.ndarray, price: np.ndarray,
                        fee: np.ndarray, ts_ns: np.ndarray) -> None:
        """:meth:`on_fill` for many fills at once, as columns (the compiled replay builds no
        Fill objects): fill ``i`` is of ``names[book[i]]`` (strategy, venue, instrument)."""
        self.fills += len(book)
        self.book.add_columns(names, book, side_sign, quantity, price, fee, ts_ns)

    def on_trading_state(self, previous: TradingState, current: TradingState, cause: str,
                         ts_ns: int) -> None:
        self.state_changes.append({"previous": previous.value, "current": current.value,
                                   "cause": cause, "time": iso_utc(ts_ns)})
