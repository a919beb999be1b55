"""Buy and hold: what holding the traded instruments would have made, to compare a run with.

The initial equity is split equally between the instruments the run's datasets deliver (one
share per instrument, however many venues or datasets deliver it), each bought at its first
price (the first bar's close, or the first mid quote) and held to the end: no fees, no
slippage, no rebalancing. On the run's timeline each instrument is marked at its last price so
far (its first price before its data starts), so the benchmark and the equity curve share
their times, and their gaps.

The strategy's **excess return** is its total return minus the buy-and-hold return (both
simple returns over the run, so +2 % against -1 % is +3 %).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bot_core.memory import run_array

if TYPE_CHECKING:
    from bot_core.backtest.feeds import Feed

__all__ = ["BuyAndHold", "buy_and_hold"]


@dataclass(frozen=True, slots=True)
class BuyAndHold:
    instruments: list[str]
    """The instruments held, in the feeds' order."""
    equity: np.ndarray
    """Value of the holdings at each step of the run's timeline, account currency."""
    total_return: float
    """Last value over the initial equity, minus 1."""

    def as_dict(self) -> dict[str, Any]:
        return {"instruments": list(self.instruments), "return": self.total_return}


def buy_and_hold(feeds: Sequence[Feed], ts_ns: np.ndarray, initial_equity: float
                 ) -> BuyAndHold | None:
    """The buy-and-hold benchmark of ``feeds`` on the timeline ``ts_ns`` (see the module
    docstring); None when there is no timeline or no positive first price."""
    first_feed: dict[str, Feed] = {}
    for feed in feeds:
        first_feed.setdefault(feed.instrument, feed)
    ts = np.asarray(ts_ns, dtype=np.int64)
    if not len(ts) or not first_feed:
        return None
    ratios = []
    for feed in first_feed.values():
        prices = feed.mark_prices()
        start = float(prices[0])
        if not start > 0:
            return None
        if len(feed.ts_ns) == len(ts) and np.array_equal(feed.ts_ns, ts):  # its own timeline
            ratios.append(np.divide(prices, start, out=run_array(len(ts))))
            continue
        rows = np.clip(np.searchsorted(feed.ts_ns, ts, side="right") - 1, 0, len(prices) - 1)
        ratios.append(prices[rows] / start)
    equity = ratios[0] if len(ratios) == 1 else np.mean(ratios, axis=0)
    equity *= initial_equity  # in place: a ratio made above
    return BuyAndHold(list(first_feed), np.asarray(equity, dtype=np.float64),
                      float(equity[-1] / initial_equity - 1.0))
