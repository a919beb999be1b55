"""The event-driven backtest: datasets replayed through the one trading pipeline.

Every market event of a step goes through :class:`~bot_core.pipeline.TradingPipeline` exactly
as in paper and live trading: venue matching, risk update, strategies, risk verdicts, orders.

**Fast path.** A bar strategy that offers ``target_positions(frame, equity) -> ndarray`` (its
bar-by-bar decisions computed at once by a compiled kernel) does not need to be woken on bars
where its target does not change. For runs where every bar strategy offers it, the driver
replays through the pipeline only the steps where something can happen:

* a strategy's target changes (its intent is submitted through the pipeline, so risk judges it);
* an order is open, or the risk engine is liquidating (every step until it is done);
* a trading-day boundary (and the step before it, so the day starts from the right equity);
* the first step where the equity path hits the drawdown or daily-loss limit, found by the
  compiled :func:`~bot_core.kernels.risk_scan.scan_equity` over the steps in between, which
  also fills in the equity curve there (positions and cash do not change on those steps);
* the step of a new equity peak in a skipped stretch (so the engine's peak is the true one);
* every quote (quote strategies are always event by event).

The engine itself takes every decision; the scan only tells the driver where to look.

**Compiled replay** (the default for fast runs; ``compiled=False``, ``bot-core backtest
--no-compiled`` turn it off). Before the fast path, a run whose bars all go to venues with a
:class:`~bot_core.exchange.BarFillModel` (the paper venue) and that no observer plugin watches
tries :mod:`bot_core.backtest.compiled`: a Numba kernel does the venue's fills, the portfolio and
the engine's monitors for the whole run, and a real risk engine judges every order from the
kernel's log (all at once through the checks' batch forms where every check has one:
:mod:`bot_core.risk.batch`). It gives way to the fast path (an order open past the next bar) or straight to
the event path (risk stepped in, an order that would not fill completely) with the reason in
``BacktestResult.fast_path_note``; ``BacktestResult.path`` says which path produced the result.

**Mixed runs.** A bar strategy without exact batch targets (no ``target_positions``, or
``target_positions_exact = False``: vol_target's rebalance band is a share of the current
equity) needs its ``on_bar`` on every bar, so every step is replayed. The exact strategies still
answer from their batch targets: a :class:`_BatchTargets` stands in for each inside the pipeline,
in the strategy's place in the config's order, and sends what the fast path's sync would. The
run is checked after every step as below and replayed event by event when risk steps in.

The batch targets are a strategy's decisions *when every order fills as decided*. As soon as
risk steps in (an order reduced or rejected, the trading state leaving ACTIVE) or an order does
not fill completely (bar volume, a venue reject), what the strategy's ``on_bar`` does next
depends on its own code, so the fast run is abandoned and the backtest is replayed event by
event from the start (``BacktestResult.fast_path_note`` says why). Either way the result is
the event path's; the host tests check both paths against each other. ``fast=False`` skips the
attempt.

One approximation remains for runs with several instruments: the scan evaluates equity once per
step with every instrument marked, while the event path's engine also sees the equity between
two instruments' events of the same step. A new equity high or a limit reached only at such an
in-between point is seen by the event path and not by the scan; with one instrument the two
are identical.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from bot_core.backtest.compiled import (
    CompiledStop,
    CompiledUnavailable,
    replay_compiled,
    why_not_compiled,
)
from bot_core.backtest.feeds import coverage_gaps, merge_timeline
from bot_core.backtest.metrics import compute_metrics, return_sampling
from bot_core.backtest.recorder import Recorder
from bot_core.backtest.results import BacktestResult, iso_utc
from bot_core.orders import OrderIntent, OrderType, Side, TimeInForce
from bot_core.risk.check import TradingState
from bot_core.risk.engine import APPROVED
from bot_core.risk.tradingday import TradingCalendar
from bot_core.rules import settled
from bot_core.runinfo import RunInfo
from bot_core.strategy import Strategy, StrategySettings, bind_strategy_feeds

if TYPE_CHECKING:
    from bot_core.backtest.feeds import Feed
    from bot_core.backtest.plan import BacktestPlan
    from bot_core.market import Bar
    from bot_core.orders import Fill
    from bot_core.pipeline import PipelineStrategyContext, TradingPipeline
    from bot_core.plugins import PluginHost
    from bot_core.strategy import StrategyContext

__all__ = ["ProgressCallback", "run_backtest"]

ProgressCallback = Callable[[int, int], None]
"""``(steps done, steps in total)``; called about a hundred times per run."""

_QTY_EPS = 1e-12
_APPROVED_KEY = f"{APPROVED.action.value}:{APPROVED.reason}"
"""The pipeline's tally key of the engine's plain approval (the only one most runs see)."""


class _NotExact(Exception):
    """The fast path can no longer promise the event path's result (risk stepped in)."""


@dataclass(slots=True)
class _Timeline:
    ts: np.ndarray
    """Unique event times (steps), int64 ns."""
    ev_feed: np.ndarray
    ev_row: np.ndarray
    step_start: np.ndarray
    """Events of step i are ``ev_*[step_start[i]:step_start[i + 1]]``."""

    @property
    def steps(self) -> int:
        return int(self.ts.shape[0])


def _timeline(feeds: list[Feed]) -> _Timeline:
    ts, which, rows = merge_timeline(feeds)
    starts = np.flatnonzero(np.concatenate(([True], ts[1:] != ts[:-1])))
    return _Timeline(ts[starts], which, rows, np.append(starts, len(ts)).astype(np.int64))


@dataclass(slots=True)
class _FastStrategy:
    name: str
    strategy: Strategy
    ctx: PipelineStrategyContext | None = None
    """Its context in the pipeline (set once the pipeline exists)."""
    sizing_equity: float = 1.0
    """Equity the batch targets were computed with."""
    proportional: bool = False
    """Targets scale with equity (sizing in % of equity): a decision is scaled by the equity
    at its bar, as ``on_bar`` sizes with ``ctx.equity``."""
    changes: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    """feed index -> (steps, targets): the steps where its target on that feed changes, in
    order, and the new targets (what the compiled replay reads)."""
    by_step: dict[int, list[tuple[int, float]]] | None = None
    current: dict[int, float] = field(default_factory=dict)
    """feed index -> the target in force."""
    always_sync: bool = False
    """Two of its feeds are the same (venue, instrument): sync it on every bar it trades."""
    fractions: dict[int, np.ndarray] | None = None
    """feed index -> its target of every bar as a fraction of equity (NaN: hold), for a
    strategy whose batch targets are ``target_fractions`` (the compiled replay only)."""
    band: float = 0.0
    """The rebalancing band of ``fractions``, a share of equity."""

    @property
    def decisions(self) -> dict[int, list[tuple[int, float]]]:
        """step -> [(feed index, target position)] where its target changes (built from
        :attr:`changes` when the Python paths first ask)."""
        if self.by_step is None:
            self.by_step = {}
            for index, (steps, values) in self.changes.items():
                for step, value in zip(steps.tolist(), values.tolist(), strict=True):
                    self.by_step.setdefault(step, []).append((index, value))
        return self.by_step

    def take(self, decided: list[tuple[int, float]], feed_index: int, equity: float) -> None:
        """Put in force the target ``decided`` on this step for ``feed_index`` (if any),
        scaled by ``equity`` now when it sizes in % of equity."""
        for index, value in decided:
            if index == feed_index:
                scale = equity / self.sizing_equity if self.proportional else 1.0
                self.current[feed_index] = value * scale


def _target_intent(fs: _FastStrategy, feed_index: int, venue: str, instrument: str,
                   held: float, ts_ns: int, ctx: StrategyContext, replay: _Replay
                   ) -> OrderIntent | None:
    """What a target-position strategy's ``on_bar`` sends: a market IOC order for the
    difference between its target and ``held`` (not reduce-only: positions are per strategy,
    reduce-only is judged per account), or None when they are equal. Keeps the replay's
    ``unsettled`` and ``sent`` up to date; the fast path submits the intent, a mixed run's
    stand-in returns it."""
    target = fs.current.get(feed_index, 0.0)
    delta = target - held
    key = (fs.name, feed_index)
    if not math.isfinite(delta) or settled(target, held):
        replay.unsettled.discard(key)
        return None
    replay.unsettled.add(key)
    # positional: (strategy, venue, instrument, side, quantity, client id, type, limit
    # price, time in force, reduce only, group, ts, tag); a frozen dataclass's keyword
    # call costs a microsecond more per order
    intent = OrderIntent(fs.name, venue, instrument, Side.BUY if delta > 0 else Side.SELL,
                         abs(delta), ctx.new_client_order_id(), OrderType.MARKET, None,
                         TimeInForce.IOC, False, None, ts_ns, "target")
    replay.sent.append(intent.client_order_id)
    return intent


@dataclass(slots=True)
class _Replay:
    """What the replay shares with the strategies answering from batch targets."""

    step: int = -1
    """The step being replayed."""
    unsettled: set[tuple[str, int]] = field(default_factory=set)
    """(strategy, feed) pairs whose position differs from their target."""
    sent: list[str] = field(default_factory=list)
    """Client ids of the orders sent for batch targets that were not yet seen final."""


class _BatchTargets(Strategy):
    """An exact bar strategy inside the pipeline of a mixed run, answering from its batch
    targets.

    It sits where the strategy itself would (the config's order, so every strategy sees each
    bar in the event path's order) and does what the fast path's sync does for it: when its
    target changes on this bar, scale it by the equity now if it sizes in % of equity, then
    trade the difference between target and position as a market IOC order. Its lifecycle
    calls go to the strategy.
    """

    id: ClassVar[str] = "batch_targets"
    Settings: ClassVar[type[StrategySettings]] = StrategySettings
    data_kind: ClassVar[Literal["ohlcv", "quotes"]] = "ohlcv"

    def __init__(self, fs: _FastStrategy, feeds: list[Feed], replay: _Replay) -> None:
        inner = fs.strategy
        super().__init__(inner.settings, name=fs.name, instruments=inner.instruments,
                         venues=inner.venues)
        self._fs = fs
        self._replay = replay
        self._feed_of = {(feed.venue, feed.instrument): index for index, feed in enumerate(feeds)
                         if feed.kind == "ohlcv" and feed.venue in inner.venues
                         and feed.instrument in inner.instruments}

    def on_start(self, ctx: StrategyContext) -> None:
        self._fs.strategy.on_start(ctx)

    def on_stop(self, ctx: StrategyContext) -> None:
        self._fs.strategy.on_stop(ctx)

    def on_bar(self, bar: Bar, ctx: StrategyContext) -> Sequence[OrderIntent]:
        index = self._feed_of.get((bar.venue, bar.instrument))
        if index is None:
            return ()
        fs = self._fs
        decided = fs.decisions.get(self._replay.step)
        if decided is None:
            if (self.name, index) not in self._replay.unsettled:
                # its position already equals its target (positions move only with its own
                # fills, and on_fill settles those): the sync would send nothing
                return ()
        else:
            fs.take(decided, index, ctx.equity)
        intent = _target_intent(fs, index, bar.venue, bar.instrument,
                                ctx.position(bar.instrument, bar.venue), bar.ts_ns, ctx,
                                self._replay)
        return () if intent is None else (intent,)

    def on_fill(self, fill: Fill, ctx: StrategyContext) -> Sequence[OrderIntent]:
        index = self._feed_of.get((fill.venue, fill.instrument))
        if index is not None:
            target = self._fs.current.get(index, 0.0)
            held = ctx.position(fill.instrument, fill.venue)
            key = (self.name, index)
            if settled(target, held):
                self._replay.unsettled.discard(key)  # filled (at once, or at the next open)
            else:
                self._replay.unsettled.add(key)  # partly, or by an order not its own
        return ()



class _Run:
    """State of one backtest run (kept out of ``run_backtest`` to keep each step readable)."""

    def __init__(self, plan: BacktestPlan, host: PluginHost, pipeline: TradingPipeline,
                 fast: list[_FastStrategy], tl: _Timeline, replay: _Replay) -> None:
        self.plan = plan
        self.host = host
        self.pipeline = pipeline
        self.fast = fast
        self.feeds = plan.feeds
        self.tl = tl
        self.replay = replay
        n = self.tl.steps
        self.equity = np.full(n, np.nan)
        self.in_market = np.zeros(n, dtype=np.bool_)
        self.fills = 0
        """Fills booked so far (positions change only with a fill)."""
        self._market_fills = -1
        self._holding = False
        """Whether any feed's (venue, instrument) is held, as of ``_market_fills`` fills."""
        pipeline.fill_listeners.append(self._count_fill)
        self.feed_keys = [(f.venue, f.instrument) for f in self.feeds]
        self.unsettled = replay.unsettled
        """(strategy, feed) pairs whose position differs from their target."""
        self.traders: dict[int, list[_FastStrategy]] = {}
        for fs in fast:
            for index, feed in enumerate(self.feeds):
                if feed.kind == "ohlcv" and feed.venue in fs.strategy.venues and \
                        feed.instrument in fs.strategy.instruments:
                    self.traders.setdefault(index, []).append(fs)
            traded = [self.feed_keys[i] for i, t in self.traders.items()
                      if any(other is fs for other in t)]
            fs.always_sync = len(set(traded)) < len(traded)
        self.any_always_sync = any(fs.always_sync for fs in fast)
        self.deciding: dict[int, set[int]] = {}
        """step -> feeds on which some fast strategy's target changes (see :meth:`decided`)."""

    def decided(self) -> None:
        """Index the strategies' decisions by step, once their targets are known."""
        for fs in self.fast:
            for step, changes in fs.decisions.items():
                self.deciding.setdefault(step, set()).update(index for index, _ in changes)

    # -- one step through the pipeline --------------------------------------------------------

    def process(self, step: int) -> None:
        """Replay every event of ``step`` through the pipeline; after each bar, the fast
        strategies trading it act as their ``on_bar`` would (see :meth:`_sync`).

        A strategy whose target did not change on this step and whose position already equals
        it would send nothing: :meth:`_sync` is skipped for it (``always_sync`` turns that off
        for a strategy trading one (venue, instrument) through two feeds, whose positions
        another feed's orders can move), and while the engine is liquidating (its orders move
        the strategies' positions)."""
        tl, pipeline = self.tl, self.pipeline
        feeds, traders, unsettled = self.feeds, self.traders, self.unsettled
        on_bar, on_quote = pipeline.on_bar, pipeline.on_quote
        ev_feed, ev_row = tl.ev_feed, tl.ev_row
        deciding = self.deciding.get(step)
        self.replay.step = step
        for k in range(tl.step_start.item(step), tl.step_start.item(step + 1)):
            feed_index = ev_feed.item(k)
            feed = feeds[feed_index]
            event = feed.event(ev_row.item(k))
            if feed.kind == "ohlcv":
                on_bar(event)
            else:
                on_quote(event)
            trading = traders.get(feed_index)
            if not trading:
                continue
            liquidating = pipeline.risk.liquidating
            if not unsettled and not liquidating and not self.any_always_sync and \
                    (deciding is None or feed_index not in deciding):
                continue  # every strategy on this feed holds its target and keeps it
            for fs in trading:
                decided = fs.decisions.get(step)
                if decided is not None:
                    fs.take(decided, feed_index, pipeline.portfolio.equity)
                elif not (unsettled and (fs.name, feed_index) in unsettled) and \
                        not liquidating and not fs.always_sync:
                    continue
                self._sync(fs, feed, feed_index, event.ts_ns)
        portfolio = pipeline.portfolio
        self.equity[step] = portfolio.equity
        if self.fills != self._market_fills:  # no fill, no position changed
            self._market_fills = self.fills
            position = portfolio.position
            self._holding = any(position(instrument, venue) != 0.0
                                for venue, instrument in self.feed_keys)
        self.in_market[step] = self._holding

    def _count_fill(self, fill: object) -> None:
        self.fills += 1

    def _sync(self, fs: _FastStrategy, feed: Feed, feed_index: int, ts_ns: int) -> None:
        """Trade the difference between the strategy's target and its position, as the
        target-position strategies' ``on_bar`` does (see :func:`_target_intent`). Once an order
        is cut or refused, :meth:`_still_exact` ends the fast run."""
        ctx = fs.ctx
        assert ctx is not None  # set by _execute before the run
        position = self.pipeline.portfolio.position
        intent = _target_intent(fs, feed_index, feed.venue, feed.instrument,
                                position(feed.instrument, feed.venue, fs.name), ts_ns, ctx,
                                self.replay)
        if intent is None:
            return
        self.pipeline.submit((intent,), ts_ns)
        target = fs.current.get(feed_index, 0.0)
        if settled(target, position(feed.instrument, feed.venue, fs.name)):
            self.unsettled.discard((fs.name, feed_index))  # filled at once (fill_on_close, quotes)

    # -- the loops ----------------------------------------------------------------------------

    def run_events(self, progress: ProgressCallback | None) -> None:
        n = self.tl.steps
        every = max(n // 100, 1)
        for step in range(n):
            self.process(step)
            if progress is not None and step % every == 0:
                progress(step, n)

    def run_mixed(self, progress: ProgressCallback | None) -> None:
        """Every step through the pipeline, where :class:`_BatchTargets` stand in for the exact
        strategies; checked after every step like the fast path."""
        n = self.tl.steps
        every = max(n // 100, 1)
        for step in range(n):
            self.process(step)
            self._still_exact(step)
            if progress is not None and step % every == 0:
                progress(step, n)

    def run_fast(self, progress: ProgressCallback | None) -> None:
        from bot_core.kernels.risk_scan import scan_equity

        tl, pipeline, risk = self.tl, self.pipeline, self.pipeline.risk
        n = tl.steps
        keys = list(dict.fromkeys(self.feed_keys))
        marks = np.vstack([self._marks_of(key) for key in keys])
        cfg = self.plan.resolved.config.risk
        drawdown_pct = cfg.drawdown_liquidation_pct
        daily_pct = cfg.daily_loss_limit_pct
        wake = np.zeros(n, dtype=np.bool_)
        for fs in self.fast:
            due = np.fromiter(fs.decisions, dtype=np.int64, count=len(fs.decisions))
            wake[due] = True
            if len(self.feeds) > 1:
                # the other instruments' marks a decision sees are those of the step before
                wake[np.maximum(due - 1, 0)] = True
        for feed in self.feeds:
            if feed.kind != "ohlcv":
                wake[np.searchsorted(tl.ts, feed.ts_ns)] = True
            else:
                # the venue learns the bar length from two consecutive bars
                wake[np.searchsorted(tl.ts, feed.ts_ns[:2])] = True
            # the last bar marks open trades at the final price
            wake[np.searchsorted(tl.ts, feed.ts_ns[-1:])] = True
        boundaries = self._day_boundary_steps()
        wake[boundaries] = True
        wake[np.maximum(boundaries - 1, 0)] = True
        wake[0] = True
        wake_steps: list[int] = np.flatnonzero(wake).tolist()  # plain ints: cheap compares
        n_wake = len(wake_steps)
        woken = set(wake_steps)
        every = max(n // 100, 1)
        next_report = 0
        step = 0
        w = 0
        while step < n:
            if progress is not None and step >= next_report:
                progress(step, n)
                next_report = step + every
            if pipeline.open_orders or self.unsettled or step in woken or risk.liquidating:
                self.process(step)
                self._still_exact(step)
                step += 1
                continue
            while w < n_wake and wake_steps[w] < step:
                w += 1
            stop = wake_steps[w] if w < n_wake else n
            positions = np.array([pipeline.portfolio.position(i, v) for v, i in keys])
            hit, peak_step, _ = scan_equity(
                marks, positions, pipeline.portfolio.cash, step, stop, risk.equity_peak,
                risk.day_start_equity, drawdown_pct, daily_pct,
                risk.state is not TradingState.REDUCING, not risk.daily_loss_halted,
                self.equity, self.in_market)
            if 0 <= peak_step < hit:
                # a new equity high in the skipped stretch: the engine must know its true peak.
                # No limit can trigger at a new high, so marking is enough (no venue, no
                # strategy): the engine marks the portfolio and updates the peak itself.
                peak_ts = int(tl.ts[peak_step])
                for row, (venue, instrument) in enumerate(keys):
                    price = float(marks[row, peak_step])
                    if price == price:
                        risk.on_market_data(instrument, venue, price, peak_ts)
            if hit < stop:
                self.process(hit)
                self._still_exact(hit)
                step = hit + 1
            else:
                step = stop

    def _still_exact(self, step: int) -> None:
        """Stop the fast path as soon as its result could differ from the event path's.

        The batch targets are the strategies' decisions *when every order fills as decided*;
        once risk reduces or rejects an order, the trading state leaves ACTIVE, an order sent
        for a batch target ends without filling completely (bar volume, a venue reject), or a
        position is left short of its target with nothing in flight, what a strategy's
        ``on_bar`` does next depends on its own code (a target strategy backs off re-sending an
        order that did not fill), so the run is replayed event by event instead.
        """
        pipeline = self.pipeline
        verdicts = pipeline.verdicts
        if len(verdicts) != 1 or _APPROVED_KEY not in verdicts:
            for key in verdicts:
                if not key.startswith("approve:"):
                    raise _NotExact(f"risk verdict {key} at {self._when(step)}")
        state = pipeline.risk.state
        if state is not TradingState.ACTIVE:
            raise _NotExact(f"trading state {state.value} at {self._when(step)}")
        sent = self.replay.sent
        if sent:
            orders, in_flight = pipeline.orders, []
            for client_id in sent:
                order = orders.get(client_id)
                if order is None:
                    continue  # refused before any venue saw it: a verdict above says so
                if not order.status.is_final:
                    in_flight.append(client_id)
                elif order.quantity - order.filled_quantity > _QTY_EPS * order.quantity:
                    raise _NotExact(f"{order.intent.strategy_id} order filled "
                                    f"{order.filled_quantity:g} of {order.quantity:g} "
                                    f"{order.intent.instrument} at {self._when(step)}")
            sent[:] = in_flight
        if self.unsettled and not pipeline.open_orders:
            name, index = sorted(self.unsettled)[0]
            raise _NotExact(f"{name} short of its target on {self.feeds[index].instrument} "
                            f"at {self._when(step)}")

    def _when(self, step: int) -> str:
        return iso_utc(int(self.tl.ts[step]))

    def _marks_of(self, key: tuple[str, str]) -> np.ndarray:
        """Mark price of one (venue, instrument) at every step: that of its latest event (bars
        mark at the close, quotes at the mid; the later feed wins at equal times, as in the
        replay), NaN before the first."""
        n = self.tl.steps
        best_ts = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        best = np.full(n, np.nan)
        for feed in self.feeds:
            if (feed.venue, feed.instrument) != key:
                continue
            idx = np.searchsorted(feed.ts_ns, self.tl.ts, side="right") - 1
            seen = idx >= 0
            ts = np.where(seen, feed.ts_ns[np.maximum(idx, 0)], np.iinfo(np.int64).min)
            newer = seen & (ts >= best_ts)
            best = np.where(newer, feed.mark_prices()[np.maximum(idx, 0)], best)
            best_ts = np.where(newer, ts, best_ts)
        return best

    def _day_boundary_steps(self) -> np.ndarray:
        runtime = self.plan.resolved.config.runtime
        cal = TradingCalendar(runtime.timezone, runtime.trading_day_start)
        ts = self.tl.ts
        day = cal.day_of(int(ts[0]))
        out = []
        boundary = cal.next_boundary_ns(day)
        last = int(ts[-1])
        while boundary <= last:
            step = int(np.searchsorted(ts, boundary, side="left"))
            out.append(step)
            day = cal.day_of(int(ts[step]))
            boundary = cal.next_boundary_ns(day)
        return np.asarray(out, dtype=np.int64)


def _fast_strategies(plan: BacktestPlan, host: PluginHost, fast: bool | None
                     ) -> tuple[list[str], list[str]]:
    """``(exact, inexact)`` bar strategies: those that may answer from batch targets, and those
    that must run their ``on_bar`` (no ``target_positions``, or ``target_positions_exact`` is
    False). Both non-empty is a mixed run."""
    if fast is False:
        return [], []
    config = plan.resolved.config
    names, inexact = [], []
    for name in plan.strategies:
        cls = host.strategy(config.strategies[name].plugin)
        if cls.data_kind != "ohlcv":
            continue
        if callable(getattr(cls, "target_positions", None)) \
                and getattr(cls, "target_positions_exact", True):
            names.append(name)
        else:
            inexact.append(name)
    if names and inexact:
        # a mixed run syncs a strategy per bar event: one (venue, instrument) fed by two
        # datasets would have two targets for one position
        for name in names:
            strat = config.strategies[name]
            keys = [(f.venue, f.instrument) for f in plan.feeds if f.kind == "ohlcv"
                    and f.venue in strat.venues and f.instrument in strat.instruments]
            if len(set(keys)) < len(keys):
                return [], inexact
    return names, inexact


def _fraction_strategies(plan: BacktestPlan, host: PluginHost, inexact: list[str]) -> bool:
    """True when every strategy of ``inexact`` offers ``target_fractions``: the compiled
    replay then runs them from those, next to the exact ones."""
    config = plan.resolved.config
    return bool(inexact) and all(
        callable(getattr(host.strategy(config.strategies[name].plugin), "target_fractions",
                         None)) for name in inexact)


def _fractions(fs: _FastStrategy, feeds: list[Feed]) -> None:
    """A fraction strategy's targets, per feed it trades (see ``Strategy.target_fractions``)."""
    strategy = fs.strategy
    fs.fractions = {}
    for index, feed in enumerate(feeds):
        if feed.kind != "ohlcv" or feed.venue not in strategy.venues or \
                feed.instrument not in strategy.instruments:
            continue
        fractions, band = strategy.target_fractions(feed.frame)  # type: ignore[attr-defined]
        fractions = np.ascontiguousarray(fractions, dtype=np.float64)
        if fractions.shape != (len(feed),):
            raise ValueError(f"{fs.name}.target_fractions returned shape {fractions.shape} "
                             f"for {len(feed)} bars of {feed.dataset}")
        if not 0.0 <= float(band) < math.inf:
            raise ValueError(f"{fs.name}.target_fractions returned band {band!r}")
        fs.fractions[index] = fractions
        fs.band = float(band)


def _targets(fs: _FastStrategy, feeds: list[Feed], tl: _Timeline, equity: float) -> None:
    strategy = fs.strategy
    for index, feed in enumerate(feeds):
        if feed.kind != "ohlcv" or feed.venue not in strategy.venues or \
                feed.instrument not in strategy.instruments:
            continue
        raw = np.asarray(strategy.target_positions(feed.frame, equity),  # type: ignore[attr-defined]
                         dtype=np.float64)
        declared = getattr(strategy, "targets_scale_with_equity", None)
        if isinstance(declared, bool):
            fs.proportional = declared
        else:  # find out: the targets at twice the equity
            double = np.asarray(strategy.target_positions(feed.frame, 2.0 * equity),  # type: ignore[attr-defined]
                                dtype=np.float64)
            fs.proportional = bool(np.allclose(double, 2.0 * raw, rtol=1e-9, atol=0.0,
                                               equal_nan=True))
        fs.sizing_equity = equity
        if raw.shape != (len(feed),):
            raise ValueError(f"{fs.name}.target_positions returned shape {raw.shape} for "
                             f"{len(feed)} bars of {feed.dataset}")
        target = raw.copy()
        valid = np.isfinite(target)
        # NaN = no decision yet (warm-up): hold the last decided target, flat before the first
        idx = np.where(valid, np.arange(len(target)), 0)
        np.maximum.accumulate(idx, out=idx)
        target = np.where(valid[idx], target[idx], 0.0)
        previous = np.concatenate(([0.0], target[:-1]))
        rows = np.flatnonzero(target != previous)
        fs.changes[index] = (np.searchsorted(tl.ts, feed.ts_ns[rows]), target[rows])
        fs.by_step = None


@dataclass(slots=True)
class _Outcome:
    state: _Run
    pipeline: TradingPipeline
    recorder: Recorder
    path: str


def _execute(plan: BacktestPlan, host: PluginHost, fast_names: list[str],
             progress: ProgressCallback | None, *, mixed: bool = False,
             compiled: bool = False, fraction_names: Sequence[str] = ()) -> _Outcome:
    """One run: a fresh pipeline, portfolio, risk engine and venues.

    ``fast_names`` answer from their batch targets: synced by the driver on the steps it
    replays (fast path), or, when ``mixed``, as :class:`_BatchTargets` inside the pipeline while
    every step is replayed (the other bar strategies run their own ``on_bar``). ``compiled``
    tries the compiled replay first (:mod:`bot_core.backtest.compiled`); where it cannot run,
    or gives way, :class:`~bot_core.backtest.compiled.CompiledStop` says why. With
    ``compiled``, ``fraction_names`` (among ``fast_names``) answer from their
    ``target_fractions`` inside the replay."""
    from bot_core.config.resolve import ResolvedConfig
    from bot_core.pipeline import PipelineStrategyContext, build_pipeline

    config = plan.resolved.config
    doc: dict[str, Any] = config.model_dump(mode="json")
    if not mixed:
        for name in fast_names:
            doc["strategies"][name]["enabled"] = False
    event_config = type(config).model_validate(doc)
    resolved = ResolvedConfig(event_config, plan.resolved.sources, plan.resolved.strategy_settings)
    run = RunInfo(f"bt{uuid.uuid4().hex[:10]}", "backtest", time.time_ns(), config)
    tl = _timeline(plan.feeds)
    replay = _Replay()
    fast_list: list[_FastStrategy] = []
    for name in fast_names:
        strat_cfg = config.strategies[name]
        cls = host.strategy(strat_cfg.plugin)
        settings = plan.resolved.strategy_settings[name]
        if not isinstance(settings, StrategySettings):
            raise TypeError(f"strategy {name}: settings are {type(settings).__name__}, "
                            "not a StrategySettings model")
        strategy = cls(settings, name=name, instruments=strat_cfg.instruments,
                       venues=strat_cfg.venues)
        fast_list.append(_FastStrategy(name, strategy))
    stand_ins: dict[str, Strategy] = {fs.name: _BatchTargets(fs, plan.feeds, replay)
                                      for fs in fast_list} if mixed else {}
    pipeline = build_pipeline(resolved, host, run, strategy_overrides=stand_ins)
    # every strategy learns its data's bar length and calendar before anything else (the plan
    # checked the same binding; the stand-ins' strategies are bound through fast_list)
    bind_strategy_feeds([fs.strategy for fs in fast_list]
                        + [s for n, s in pipeline.strategies.items() if n not in stand_ins],
                        [feed.spec() for feed in plan.feeds], sources=plan.resolved.sources)
    recorder = Recorder()
    pipeline.fill_listeners.append(recorder.on_fill)
    pipeline.risk.add_state_listener(recorder.on_trading_state)
    host.configure(config)
    for fs in fast_list:
        fs.ctx = pipeline.contexts[fs.name] if mixed else \
            PipelineStrategyContext(pipeline, fs.name)
    synced = [] if mixed else fast_list  # stand-ins are the pipeline's to call
    state = _Run(plan, host, pipeline, synced, tl, replay)
    if compiled:
        why = why_not_compiled(state)
        if why:
            raise CompiledUnavailable(why)
    for fs in fast_list:
        if fs.name in fraction_names:
            _fractions(fs, plan.feeds)
        else:
            _targets(fs, plan.feeds, state.tl, config.runtime.initial_equity)
    if not compiled:  # the Python paths' index of decision steps (the kernel reads them itself)
        state.decided()
    pipeline.start()
    for fs in synced:
        fs.strategy.on_start(fs.ctx)  # type: ignore[arg-type]
    reason = "end_of_data"
    path = "compiled" if compiled else "mixed" if mixed else "fast" if fast_list else "events"
    try:
        if compiled:
            if progress is not None:
                progress(0, state.tl.steps)
            replay_compiled(state, recorder)
        elif mixed:
            state.run_mixed(progress)
        elif fast_list:
            state.run_fast(progress)
        else:
            state.run_events(progress)
    except _NotExact as exc:
        reason = f"fast path abandoned: {exc}"
        raise
    except CompiledStop as exc:
        reason = f"compiled replay gave way: {exc}"
        raise
    except BaseException:
        reason = "error"
        raise
    finally:
        for fs in synced:
            fs.strategy.on_stop(fs.ctx)  # type: ignore[arg-type]
        pipeline.stop(reason)
    return _Outcome(state, pipeline, recorder, path)


def run_backtest(plan: BacktestPlan, host: PluginHost, *, fast: bool | None = None,
                 compiled: bool | None = None,
                 progress: ProgressCallback | None = None) -> BacktestResult:
    """Run one backtest; see the module docstring for what runs where.

    :param plan: from :func:`bot_core.backtest.plan.plan_backtest`.
    :param host: the plugin host (its observer plugins see every decision, verdict and fill).
    :param fast: None: try the fast path when every bar strategy offers ``target_positions``
        (falling back to the event-by-event replay, from the start, as soon as risk steps in:
        see ``_Run._still_exact``); False: replay every event.
    :param compiled: None or True (the default): a fast run tries the compiled replay first
        (:mod:`bot_core.backtest.compiled`), and takes the Python fast path when it cannot run
        or gives way (``fast_path_note`` says why); the results are the same. False: the Python
        paths only. The replay's kernel compiles once into the on-disk Numba cache (~3.5 s).
    :param progress: called with ``(done, total)`` steps.
    """
    started = time.perf_counter()
    config = plan.resolved.config
    fast_names, inexact = _fast_strategies(plan, host, fast)
    mixed = bool(fast_names and inexact)
    note = ""
    outcome = None
    # the compiled replay takes every bar strategy from its batch targets: exact ones, and
    # those whose targets are fractions of equity with a rebalancing band (the kernel sizes
    # them with the equity of each bar, as their on_bar does)
    fractions = inexact if _fraction_strategies(plan, host, inexact) else []
    if (fast_names or fractions) and compiled is not False:
        try:
            names = [n for n in plan.strategies if n in fast_names or n in fractions]
            outcome = _execute(plan, host, names, progress, compiled=True,
                               fraction_names=fractions)
        except CompiledUnavailable:
            pass  # the Python fast path handles every run the compiled replay does not
        except CompiledStop as exc:
            if exc.final:
                note = f"replayed event by event: {exc}"
                outcome = _execute(plan, host, [], progress)
            else:
                note = f"compiled replay gave way: {exc}"
    try:
        if outcome is None:
            outcome = _execute(plan, host, fast_names, progress, mixed=mixed)
            if mixed:
                mixed_note = (f"mixed: {', '.join(inexact)} event by event (batch targets not "
                              f"exact), {', '.join(fast_names)} from batch targets")
                note = f"{note}; {mixed_note}" if note else mixed_note
    except _NotExact as exc:
        handed = note if note.startswith("compiled replay gave way") else ""
        note = f"{handed}; replayed event by event: {exc}" if handed else \
            f"replayed event by event: {exc}"
        outcome = _execute(plan, host, [], progress)
    state, pipeline, recorder = outcome.state, outcome.pipeline, outcome.recorder
    if progress is not None:
        progress(state.tl.steps, state.tl.steps)
    portfolio = pipeline.portfolio
    marks = {(f.venue, f.instrument): portfolio.last_price(f.instrument, f.venue)
             for f in plan.feeds}
    trades = recorder.book.closed + recorder.book.open_trades(marks)
    trades.sort(key=lambda t: (t.entry_ns, t.exit_ns or 0))
    equity = state.equity
    verdicts, reasons = Recorder.tally(pipeline.verdicts)
    metrics = compute_metrics(
        state.tl.ts, equity, initial_equity=config.runtime.initial_equity, trades=trades,
        fees=recorder.book.fees, traded_notional=recorder.book.traded_notional,
        in_market=state.in_market, sampling=return_sampling(
            [feed.spec() for feed in plan.feeds],
            TradingCalendar(config.runtime.timezone, config.runtime.trading_day_start)),
    )
    return BacktestResult(
        preset=plan.preset, strategies=list(plan.strategies), datasets=list(plan.datasets),
        bars=int(state.tl.ev_feed.shape[0]), ts_ns=state.tl.ts, equity=equity, trades=trades,
        metrics=metrics, elapsed_s=time.perf_counter() - started,
        verdicts=verdicts, reject_reasons=reasons, warnings=list(plan.warnings),
        state_changes=recorder.state_changes, final_state=pipeline.risk.state.value,
        fills=recorder.book.fills, gaps=coverage_gaps(plan.feeds), fast_path_note=note,
        run_id=pipeline.run.run_id, path=outcome.path,
    )
