"""The compiled replay's view of a run: the kernel's inputs and the names behind their indices.

:func:`layout` turns a :class:`~bot_core.backtest.run.BacktestRun` whose strategies all offer
the batch contract into the named arrays :func:`bot_core.backtest.kernel.replay_bars` reads
(every strategy's signal is computed here); :class:`CompiledStop` is how the compiled replay
gives way, wherever it finds that it cannot promise the event path's result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bot_core.market import split_symbol
from bot_core.risk.tradingday import TradingCalendar

if TYPE_CHECKING:
    from bot_core.backtest.kernel import Books, Events, Limits, Slots, Venues
    from bot_core.backtest.run import BacktestRun
    from bot_core.exchange import BarFillModel
    from bot_core.strategy import DecisionRule, Strategy

__all__ = ["CompiledStop", "CompiledUnavailable", "ReplayLayout", "layout"]


class CompiledStop(Exception):
    """The compiled replay cannot promise the event path's result from here on (risk stepped
    in, an order did not fill completely...): the backtest is replayed event by event."""


class CompiledUnavailable(CompiledStop):
    """The run is not one the compiled replay models (:func:`why_not_compiled` says why)."""


@dataclass(slots=True)
class ReplayLayout:
    """The run as the kernel's inputs, and the names behind their indices."""

    keys: list[tuple[str, str]]
    """(venue, instrument) of each key."""
    instruments: list[str]
    venues: list[str]
    slots: list[tuple[Strategy, int]]
    """(strategy, feed index) of each slot."""
    rules: list[DecisionRule]
    """Each slot's rule."""
    events: Events
    books: Books
    venue_models: Venues
    slot_inputs: Slots
    limits: Limits

    def log_capacity(self, events: int) -> int:
        """A first guess of the entries a run needs: three per order (an order every 16
        events) and two per trading day; :func:`run_kernel` grows it when the run needs more."""
        return 3 * max(events // 16, 64) + 2 * len(self.limits.boundaries) + 2


def _venue_models(run: BacktestRun, names: list[str]) -> Venues:
    from bot_core.backtest.kernel import Venues

    models: list[BarFillModel] = []
    for name in names:
        model = run.pipeline.venues[name].bar_fill_model()
        assert model is not None  # why_not_compiled checked it
        models.append(model)

    def column(read: Any, dtype: Any = np.float64) -> np.ndarray:
        return np.array([read(m) for m in models], dtype=dtype)

    return Venues(
        column(lambda m: m.taker_fee_bps / 1e4), column(lambda m: m.slippage_bps / 1e4),
        column(lambda m: m.volume_impact_bps), column(lambda m: m.participation_rate),
        column(lambda m: int(m.latency_ms * 1_000_000), np.int64),
        column(lambda m: m.fill_on_close, np.bool_), column(lambda m: m.margin, np.bool_),
        column(lambda m: m.max_leverage), column(lambda m: m.cash),
        column(lambda m: m.volume_cap, np.bool_))


def _signal(strategy: Strategy, frame: Any, rows: int) -> np.ndarray:
    """A strategy's signal for one feed, as (rows, width) float64."""
    raw = np.asarray(strategy.signal(frame), dtype=np.float64)
    if raw.ndim not in (1, 2) or raw.shape[0] != rows:
        raise ValueError(f"{strategy.name}.signal returned shape {raw.shape} for {rows} bars: "
                         "expected (bars,) or (bars, columns)")
    return np.ascontiguousarray(raw.reshape(rows, -1))


def layout(run: BacktestRun) -> ReplayLayout:
    """The kernel's inputs for ``run`` (every strategy's signal computed here)."""
    from bot_core.backtest.kernel import Books, Events, Limits, Slots

    feeds, timeline, pipeline = run.feeds, run.timeline, run.pipeline
    keys = list(dict.fromkeys((f.venue, f.instrument) for f in feeds))
    key_index = {key: k for k, key in enumerate(keys)}
    instruments = list(dict.fromkeys(instrument for _, instrument in keys))
    venue_names = list(dict.fromkeys(venue for venue, _ in keys))
    assets: dict[tuple[str, str], int] = {}
    key_asset = [assets.setdefault((venue, split_symbol(instrument)[0]), len(assets))
                 for venue, instrument in keys]
    if len(assets) < len(keys):
        raise CompiledUnavailable("two instruments of one venue share a base asset")
    books = Books(
        np.array([key_index[(f.venue, f.instrument)] for f in feeds], dtype=np.int64),
        np.array([instruments.index(i) for _, i in keys], dtype=np.int64),
        np.array([venue_names.index(v) for v, _ in keys], dtype=np.int64),
        np.array(key_asset, dtype=np.int64),
        np.array([venue_names.index(venue) for venue, _ in assets], dtype=np.int64),
        len(instruments))

    # events: open, close and volume of every bar in timeline order; with one feed the
    # timeline is its rows in order, and its columns are the events' as they are
    where = None
    if len(feeds) > 1:
        offsets = np.cumsum([0] + [len(f) for f in feeds])[:-1]
        where = offsets[timeline.feed] + timeline.row

    def column(values: list[np.ndarray]) -> np.ndarray:
        return values[0] if where is None else np.concatenate(values)[where]

    events = Events.of(timeline.step_start, timeline.feed, timeline.row,
                       column([f.ts_ns for f in feeds]),
                       *(column([f.columns[name] for f in feeds])
                         for name in ("open", "close", "volume")))

    # slots: strategy x feed, per feed in the order the pipeline calls the strategies
    slots: list[tuple[Strategy, int]] = []
    feed_slot_start = [0]
    for index, feed in enumerate(feeds):
        slots += [(s, index) for s in pipeline.subscribers("ohlcv", feed.venue, feed.instrument)]
        feed_slot_start.append(len(slots))
    strategies = list(dict.fromkeys(strategy for strategy, _ in slots))
    rules: list[DecisionRule] = []
    signals: list[np.ndarray] = []
    for strategy, index in slots:
        rule = strategy.batch_rule()
        assert rule is not None  # why_not_compiled checked it
        rules.append(rule)
        signals.append(_signal(strategy, feeds[index].frame, len(feeds[index])))
    width = [s.shape[1] for s in signals]
    sizes = [s.size for s in signals]
    states = [r.state_size for r in rules]
    params = [np.ascontiguousarray(r.params, dtype=np.float64) for r in rules]
    slot_inputs = Slots(
        np.array(feed_slot_start, dtype=np.int64), np.arange(len(slots), dtype=np.int64),
        np.array([key_index[(feeds[i].venue, feeds[i].instrument)] for _, i in slots],
                 dtype=np.int64),
        np.array([strategies.index(s) for s, _ in slots], dtype=np.int64),
        signals[0].ravel() if len(signals) == 1 and signals[0].flags.writeable else
        np.concatenate([np.empty(0), *(s.ravel() for s in signals)]),  # (one slot: no copy)
        np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64) if slots else
        np.zeros(0, dtype=np.int64),
        np.array(width, dtype=np.int64),
        np.zeros(sum(states)),
        np.concatenate(([0], np.cumsum(states))).astype(np.int64),
        np.concatenate([np.empty(0), *params]),
        np.concatenate(([0], np.cumsum([len(p) for p in params]))).astype(np.int64))

    config = run.plan.resolved.config
    runtime, risk = config.runtime, config.risk
    calendar = TradingCalendar(runtime.timezone, runtime.trading_day_start)
    limits = Limits(float(runtime.initial_equity),
                    np.array(calendar.boundaries(int(timeline.ts[0]), int(timeline.ts[-1])),
                             dtype=np.int64),
                    float(risk.drawdown_liquidation_pct), float(risk.daily_loss_limit_pct))
    return ReplayLayout(keys, instruments, venue_names, slots, rules, events, books,
                        _venue_models(run, venue_names), slot_inputs, limits)
