"""Running a backtest: one simulation, two speeds.

Every run is the event path's run: each market event goes through
:class:`~bot_core.pipeline.TradingPipeline` exactly as in paper and live trading (venue
matching, risk update, strategies, risk verdicts, orders; :mod:`bot_core.backtest.events`).

When every bar strategy of the run offers the batch contract (its signal for a whole frame and
its decision as one compiled function, ``Strategy.decision_rule``), the venues offer a
:class:`~bot_core.exchange.BarFillModel` and no observer plugin watches orders or fills, the
driver tries the **compiled replay** first (:mod:`bot_core.backtest.compiled`): the same rules,
compiled from the same source, over the whole run at once, every order judged by the real risk
engine. It is a proof that the run is a plain sequence of approved, completely filled orders,
and gives way (:class:`~bot_core.backtest.compiled.CompiledStop`) where it stops being one: risk
stepping in, an order that does not fill completely, a limit reached. The backtest is then
replayed event by event from the start, and ``BacktestResult.fast_path_note`` says why;
``BacktestResult.path`` says which path produced the result. The two give the same orders,
verdicts, fills, trades and equity (``tests/backtest/test_differential.py``).

The buy-and-hold benchmark needs only the timeline: it is computed on a helper thread
(:mod:`bot_core.helpers`) while the run replays. On the compiled path the equity curve is final
once the kernel has run, before its log is judged: the curve's metrics are computed on a helper
thread meanwhile (:class:`_Ahead`; their compiled passes and numpy release the GIL).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from bot_core.backtest.benchmark import BuyAndHold, buy_and_hold
from bot_core.backtest.compiled import CompiledStop, replay_compiled, why_not_compiled
from bot_core.backtest.events import replay_events
from bot_core.backtest.feeds import coverage_gaps
from bot_core.backtest.metrics import (
    CurveMetrics,
    ReturnSampling,
    compute_metrics,
    curve_metrics,
    return_sampling,
)
from bot_core.backtest.recorder import Recorder
from bot_core.backtest.results import BacktestPath, BacktestResult
from bot_core.backtest.run import BacktestRun, ProgressCallback, prepare_run
from bot_core.helpers import helper_pool
from bot_core.risk.tradingday import TradingCalendar

if TYPE_CHECKING:
    from bot_core.backtest.plan import BacktestPlan
    from bot_core.plugins import PluginHost

__all__ = ["ProgressCallback", "run_backtest"]


class _Ahead:
    """The result's parts that need only the timeline, or only the final equity curve,
    computed on a helper thread (:mod:`bot_core.helpers`) while the replay goes on: the
    kernel, the curve's compiled passes and numpy release the GIL, and judging the kernel's
    log is Python on the first thread."""

    def __init__(self, run: BacktestRun) -> None:
        """The benchmark (the timeline's: the same for every run of the plan) starts on the
        helper thread while this one replays ``run``."""
        self._benchmark: Future[BuyAndHold | None] = helper_pool().submit(
            buy_and_hold, run.plan.feeds, run.timeline.ts, _initial(run))
        self._curve: tuple[BacktestRun, Future[CurveMetrics]] | None = None

    def equity_ready(self, run: BacktestRun) -> None:
        """``run.equity`` is final: its metrics start on the helper thread while this one
        judges the log."""
        self._curve = (run, helper_pool().submit(curve_metrics, run.timeline.ts, run.equity,
                                                 initial_equity=_initial(run),
                                                 sampling=_sampling(run)))

    def benchmark(self) -> BuyAndHold | None:
        """The buy-and-hold benchmark of the plan's timeline."""
        return self._benchmark.result()

    def curve(self, run: BacktestRun) -> CurveMetrics | None:
        """``run``'s curve metrics, if they were started (a compiled attempt that gave way
        started them for a run that is no longer the result's)."""
        if self._curve is None or self._curve[0] is not run:
            return None
        return self._curve[1].result()


def _initial(run: BacktestRun) -> float:
    return float(run.plan.resolved.config.runtime.initial_equity)


def _sampling(run: BacktestRun) -> ReturnSampling:
    runtime = run.plan.resolved.config.runtime
    calendar = TradingCalendar(runtime.timezone, runtime.trading_day_start)
    return return_sampling([feed.spec() for feed in run.plan.feeds], calendar)


def _replay(run: BacktestRun, path: BacktestPath, progress: ProgressCallback | None,
            equity_ready: Callable[[BacktestRun], None] | None = None) -> None:
    """Start the pipeline, replay on ``path``, stop it (with the reason the run ended)."""
    pipeline = run.pipeline
    pipeline.start()
    reason = "end_of_data"
    try:
        if progress is not None:
            progress(0, run.timeline.steps)
        if path is BacktestPath.COMPILED:
            replay_compiled(run, equity_ready)
        else:
            replay_events(run, progress)
    except CompiledStop as exc:
        reason = f"compiled replay gave way: {exc}"
        raise
    except BaseException:
        reason = "error"
        raise
    finally:
        pipeline.stop(reason)


def run_backtest(plan: BacktestPlan, host: PluginHost, *, fast: bool | None = None,
                 compiled: bool | None = None,
                 progress: ProgressCallback | None = None) -> BacktestResult:
    """Run one backtest; see the module docstring for what runs where.

    :param plan: from :func:`bot_core.backtest.plan.plan_backtest`.
    :param host: the plugin host (its observer plugins see every decision, verdict and fill).
    :param fast: False: replay event by event (the same as ``compiled=False``).
    :param compiled: None or True (the default): try the compiled replay first where the run
        allows it; False: replay event by event. The results are the same. The replay's
        kernel compiles once into the on-disk Numba cache.
    :param progress: called with ``(done, total)`` steps.
    """
    started = time.perf_counter()
    note = ""
    run = prepare_run(plan, host)
    path = BacktestPath.EVENTS if fast is False or compiled is False else BacktestPath.COMPILED
    ahead = _Ahead(run)
    if path is BacktestPath.COMPILED:
        why = why_not_compiled(run)
        if why:
            note, path = f"event by event: {why}", BacktestPath.EVENTS
        else:
            try:
                _replay(run, path, progress, ahead.equity_ready)
            except CompiledStop as exc:
                note, path = f"replayed event by event: {exc}", BacktestPath.EVENTS
                run = prepare_run(plan, host)  # the compiled attempt's books are discarded
    if path is BacktestPath.EVENTS:
        _replay(run, path, progress)
    if progress is not None:
        progress(run.timeline.steps, run.timeline.steps)
    return _result(run, path, note, started, ahead)


def _result(run: BacktestRun, path: BacktestPath, note: str, started: float,
            ahead: _Ahead) -> BacktestResult:
    plan, pipeline, book = run.plan, run.pipeline, run.recorder.book
    config = plan.resolved.config
    portfolio = pipeline.portfolio
    marks = {(f.venue, f.instrument): portfolio.last_price(f.instrument, f.venue)
             for f in plan.feeds}
    trades = book.round_trips(marks)
    verdicts, reasons = Recorder.tally(pipeline.verdicts)
    metrics = compute_metrics(
        run.timeline.ts, run.equity, initial_equity=config.runtime.initial_equity,
        trades=trades, fees=book.fees, traded_notional=book.traded_notional,
        in_market=run.in_market, sampling=_sampling(run), curve=ahead.curve(run))
    return BacktestResult(
        preset=plan.preset, strategies=list(plan.strategies), datasets=list(plan.datasets),
        bars=run.timeline.events, ts_ns=run.timeline.ts, equity=run.equity, trades=trades,
        metrics=metrics, elapsed_s=time.perf_counter() - started, verdicts=verdicts,
        reject_reasons=reasons, warnings=list(plan.warnings),
        state_changes=run.recorder.state_changes, final_state=pipeline.risk.state.value,
        fills=book.fills, gaps=coverage_gaps(plan.feeds), fast_path_note=note,
        run_id=pipeline.run.run_id, path=path, currency=config.runtime.base_currency,
        timezone=config.runtime.timezone,
        benchmark=ahead.benchmark())
