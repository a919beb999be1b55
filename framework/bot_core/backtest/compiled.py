"""The compiled replay: a backtest's order path in Numba, every order judged by the real engine.

On the event path every bar goes through the Python pipeline (venue, risk engine, strategies,
portfolio, trade book). When every bar strategy of a run offers the batch contract
(``Strategy.decision_rule``, docs/plugins.md), :func:`bot_core.backtest.kernel.replay_bars`
does the whole run at once: each strategy's compiled ``decide`` on every bar, the paper
venue's fills, the portfolio's booking and the engine's equity monitors, all with the host's
rules compiled from the same source (:mod:`bot_core.rules`). It writes every order and fill,
in event order, into an entry log with what the risk engine reads at that moment, and
:mod:`bot_core.backtest.judge` walks the log through a real
:class:`~bot_core.risk.engine.RiskEngine` with the run's own checks.

The compiled replay is a *proof* that the run is a plain sequence of approved, completely
filled orders. It gives way (:class:`CompiledStop`; the backtest is then replayed event by
event) as soon as that stops being true: a verdict other than a plain approval, a partial or
unaffordable fill, a limit reached, an order open when its strategy sees the next bar. It runs
only where its model is the venue's own (:func:`why_not_compiled`): bar feeds only, every
venue offering a :class:`~bot_core.exchange.BarFillModel`, no observer plugin watching orders
or fills (they would see nothing of the kernel's work).

Results equal the event path's up to float rounding (the kernel sums equity in another order
than the portfolio's running sums): the same orders, verdicts, fills and trades, equity within
1e-9 relative (``tests/backtest/test_differential.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from bot_core.backtest.layout import CompiledStop, CompiledUnavailable, ReplayLayout, layout
from bot_core.market import split_symbol

if TYPE_CHECKING:
    from bot_core.backtest.kernel import EntryLog
    from bot_core.backtest.run import BacktestRun

__all__ = ["CompiledStop", "CompiledUnavailable", "ReplayLayout", "replay_compiled",
           "why_not_compiled"]

OBSERVED = ("bot_core_on_decision", "bot_core_on_risk_verdict", "bot_core_on_order",
            "bot_core_on_fill", "bot_core_on_trading_state")
"""Observer hooks that would miss the kernel's orders and fills: a plugin implementing one
keeps the run on the event path."""
_LOG_BYTES = 1 << 30
"""Largest entry log the replay allocates; a run that needs more replays event by event."""


def why_not_compiled(run: BacktestRun) -> str:
    """Why ``run`` cannot take the compiled replay ("" when it can)."""
    pipeline = run.pipeline
    if not pipeline.strategies:
        return "no strategy"
    for name, strategy in pipeline.strategies.items():
        if strategy.data_kind != "ohlcv":
            return f"{name} trades quotes"
        if not strategy.venues or not strategy.instruments:
            return f"{name} trades every instrument it is given"
        if strategy.batch_rule() is None:
            return f"{name} does not offer the batch contract (decision_rule)"
    if any(feed.kind != "ohlcv" for feed in run.feeds):
        return "quote feeds"
    watched = [hook for hook in OBSERVED if run.host.implements(hook)]
    if watched:
        return f"observer plugins implement {', '.join(watched)}"
    for feed in run.feeds:
        venue = pipeline.venues.get(feed.venue)
        model = venue.bar_fill_model() if venue is not None else None
        if model is None:
            return f"venue {feed.venue} has no bar fill model"
        if split_symbol(feed.instrument)[1] != model.cash_asset:
            return f"{feed.instrument} is not quoted in {feed.venue}'s cash asset"
    return ""


def _kernel_rules(layout: ReplayLayout) -> Any:
    """Every strategy's ``decide``, as the kernel's typed list of function pointers."""
    from bot_core.kernels import decide_list

    rules = []
    for strategy in dict.fromkeys(s for s, _ in layout.slots):  # Slots.rule indexes these
        rule = strategy.batch_rule()
        assert rule is not None
        rules.append(rule.decide)
    return decide_list(rules)


def run_kernel(layout: ReplayLayout, run: BacktestRun) -> EntryLog:
    """Run the kernel over the whole run (growing the entry log until it fits); fill the
    run's equity curve.

    :raises CompiledStop: where the run stops being a plain sequence of complete fills.
    """
    from bot_core.backtest import ahead
    from bot_core.backtest.kernel import (
        MONITOR,
        STOP_DRAWDOWN,
        STOP_LOG_FULL,
        STOP_REASONS,
        EntryLog,
        replay_bars,
    )

    decide = _kernel_rules(layout)
    nk, ni = len(layout.keys), len(layout.instruments)
    row_bytes = 8 * (14 + 3 * nk + 3 * ni)
    events = layout.events
    capacity = layout.log_capacity(len(events.feed))
    liquidation = False  # the kernel without the liquidation's model first: it compiles faster
    if ahead.running():  # meanwhile, compile (or load) the result's curve passes here
        from bot_core.backtest.curve import warm

        warm()
    ahead.wait()  # a kernel being compiled ahead in a helper process: load it from the cache
    while True:
        if capacity * row_bytes > _LOG_BYTES:
            raise CompiledStop(f"an entry log of {capacity:,} entries would not fit in memory")
        log = EntryLog.allocate(capacity, nk, ni)
        slots = layout.slot_inputs._replace(state=np.zeros_like(layout.slot_inputs.state))
        inputs = (events, layout.books, layout.venue_models, slots, layout.limits, decide,
                  np.zeros(1, dtype=MONITOR), run.equity, run.in_market, log)
        status, n, event = replay_bars(*inputs, True) if liquidation else replay_bars(*inputs)
        if status == STOP_DRAWDOWN and not liquidation:
            liquidation = True  # again from the start, with the model
            continue
        if status != STOP_LOG_FULL:
            break
        # the entries so far, over the share of the run done so far, with room to spare
        done = max(int(event), 1) / max(len(events.feed), 1)
        capacity = int(n / done * 1.25) + 1024
    if status:
        step = int(np.searchsorted(events.step_start, event, side="right")) - 1
        raise CompiledStop(f"{STOP_REASONS[status]} at {run.timeline.when(step)}")
    return log.head(n)


def replay_compiled(run: BacktestRun,
                    equity_ready: Callable[[BacktestRun], None] | None = None) -> None:
    """Fill ``run.equity`` and ``run.in_market``, book every fill into the run's recorder and
    count the verdicts in the pipeline's tally, with every order judged by a real risk engine.
    ``equity_ready`` is called when ``run.equity`` is final, before the orders are judged.

    :raises CompiledUnavailable: the run is not one the compiled replay models.
    :raises CompiledStop: the run is not a plain sequence of approved, complete fills (nothing
        of the pipeline's own state was touched but its final marks).
    """
    from bot_core.backtest.judge import judge_log

    why = why_not_compiled(run)
    if why:
        raise CompiledUnavailable(why)
    plan = layout(run)
    log = run_kernel(plan, run)
    if equity_ready is not None:
        equity_ready(run)
    judge_log(run, plan, log)
    # the pipeline's portfolio gives the results their final marks (open trades)
    latest: dict[tuple[str, str], tuple[int, float]] = {}
    for feed in run.feeds:  # the later feed wins at equal times, as in the timeline
        closes = feed.columns["close"]
        row = len(closes) - 1  # the last row, unless it is not a price (then search back)
        if row >= 0 and not (closes[row] > 0.0 and math.isfinite(closes[row])):
            valid = np.flatnonzero((closes > 0.0) & np.isfinite(closes))
            row = int(valid[-1]) if len(valid) else -1
        if row >= 0:
            key = (feed.venue, feed.instrument)
            mark = (int(feed.ts_ns[row]), float(closes[row]))
            if key not in latest or mark[0] >= latest[key][0]:
                latest[key] = mark
    for (venue, instrument), (ts, price) in latest.items():
        run.pipeline.portfolio.mark(instrument, price, ts, venue)
