"""The event path of a backtest: every event of the timeline through the trading pipeline,
exactly as in paper and live trading (venue matching, risk update, strategies, risk verdicts,
orders, fills)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot_core.market import Bar

if TYPE_CHECKING:
    from bot_core.backtest.run import BacktestRun, ProgressCallback

__all__ = ["replay_events"]


def replay_events(run: BacktestRun, progress: ProgressCallback | None) -> None:
    """Feed every event to the pipeline; record the equity and whether anything is held after
    each step."""
    timeline, pipeline = run.timeline, run.pipeline
    feeds = run.feeds
    keys = list(dict.fromkeys((feed.venue, feed.instrument) for feed in feeds))
    on_bar, on_quote = pipeline.on_bar, pipeline.on_quote
    portfolio = pipeline.portfolio
    position = portfolio.position
    book = run.recorder.book
    seen_fills = -1
    holding = False
    n = timeline.steps
    every = max(n // 100, 1)
    feed_of, row_of, starts = timeline.feed, timeline.row, timeline.step_start
    for step in range(n):
        for k in range(starts.item(step), starts.item(step + 1)):
            event = feeds[feed_of.item(k)].event(row_of.item(k))
            if isinstance(event, Bar):
                on_bar(event)
            else:
                on_quote(event)
        run.equity[step] = portfolio.equity
        if len(book) != seen_fills:  # positions change only with a fill
            seen_fills = len(book)
            holding = any(position(instrument, venue) != 0.0 for venue, instrument in keys)
        run.in_market[step] = holding
        if progress is not None and step % every == 0:
            progress(step, n)
