"""Judging the compiled replay's entry log with the real risk engine.

The kernel (:mod:`bot_core.backtest.kernel`) takes no risk decision: it logs every order and
fill with what the risk engine reads at that moment. Here a fresh
:class:`~bot_core.risk.engine.RiskEngine` with the run's own check instances judges that log:

* all orders at once through the checks' batch forms (:meth:`RiskEngine.judge_batch`, see
  :mod:`bot_core.risk.batch`) when every enabled check has one, the engine then updating the
  checks' state with :meth:`RiskEngine.accept_batch`;
* otherwise order by order through :meth:`RiskEngine.evaluate`, reading a :class:`SnapshotBook`
  loaded from each entry: every order is judged by every enabled check, fills reach the checks'
  ``on_fill`` and release the engine's committed exposure, trading days roll where the event
  path rolls them.

Either way, the first verdict other than a plain approval (or a trading state other than
``ACTIVE``) raises :class:`~bot_core.backtest.layout.CompiledStop`: the event path then gives
the real verdicts. A log in which the kernel modelled a drawdown liquidation (a TRIP entry) is
walked order by order, and there the engine must agree with the kernel's model of it: it goes
``REDUCING`` at the TRIP entry, its own :meth:`~RiskEngine.liquidation_intents` are the
kernel's LIQUIDATE entries (and are approved), and it refuses each REJECTED entry at its state
gate. Its state changes reach the run's recorder, and its final state the pipeline's engine.
"""

from __future__ import annotations

import gc
import math
from typing import TYPE_CHECKING, cast

import numpy as np

from bot_core.backtest.layout import CompiledStop
from bot_core.orderids import NumberedIds
from bot_core.orders import Fill, OrderIntent
from bot_core.portfolio import PositionRecord
from bot_core.risk.check import TradingState, VerdictAction
from bot_core.risk.engine import APPROVED, RiskEngine
from bot_core.rules import position_after_fill
from bot_core.strategy import Strategy
from bot_core.targets import target_intent

if TYPE_CHECKING:
    from bot_core.backtest.kernel import EntryLog
    from bot_core.backtest.layout import ReplayLayout
    from bot_core.backtest.run import BacktestRun
    from bot_core.portfolio import Portfolio

__all__ = ["SnapshotBook", "judge_log"]

REFUSED = "trading_reducing_not_reducing"
"""The engine's reason for a REJECTED entry: its ``REDUCING`` gate."""


class SnapshotBook:
    """The portfolio as the risk engine reads it, at one entry of the kernel's log.

    It answers the engine's and the checks' questions (equity, gross exposure, positions, marks,
    data times) from the entry's snapshot; marking is the kernel's job, so :meth:`mark` does
    nothing. The per-strategy books (which the engine reads only to liquidate) are
    :attr:`books`, kept by whoever walks the log from its fills.
    """

    __slots__ = ("_e", "_instr", "_keys", "_log", "books", "equity", "gross_exposure")

    def __init__(self, keys: list[tuple[str, str]], instruments: list[str], log: EntryLog,
                 initial_cash: float) -> None:
        self._keys = {key: k for k, key in enumerate(keys)}
        self._instr = {name: i for i, name in enumerate(instruments)}
        self._log = log
        self._e = -1
        self.equity = initial_cash
        self.gross_exposure = 0.0
        self.books: dict[tuple[str, str, str], float] = {}
        """(strategy, venue, instrument) -> position, in the order they were first traded."""

    def load(self, entry: int) -> None:
        """Read the snapshot of entry ``entry``."""
        self._e = entry
        self.equity = float(self._log.equity[entry])
        self.gross_exposure = float(self._log.gross[entry])

    def position(self, instrument: str, venue: str | None = None,
                 strategy: str | None = None) -> float:
        if strategy is not None:
            return self.books.get((strategy, venue or "", instrument), 0.0)
        if self._e < 0:
            return 0.0
        if venue is None:
            i = self._instr.get(instrument)
            return 0.0 if i is None else float(self._log.instrument_position[self._e, i])
        k = self._keys.get((venue, instrument))
        return 0.0 if k is None else float(self._log.key_position[self._e, k])

    def last_price(self, instrument: str, venue: str | None = None) -> float:
        if self._e < 0:
            return math.nan
        if venue is not None:
            k = self._keys.get((venue, instrument))
            if k is not None and self._log.key_mark[self._e, k] > 0.0:
                return float(self._log.key_mark[self._e, k])
        i = self._instr.get(instrument)
        if i is None:
            return math.nan
        price = float(self._log.instrument_mark[self._e, i])
        return price if price > 0.0 else math.nan

    def last_update_ns(self, instrument: str, venue: str | None = None) -> int:
        if self._e < 0:
            return 0
        if venue is not None:
            k = self._keys.get((venue, instrument))
            if k is not None and self._log.key_mark[self._e, k] > 0.0:
                return int(self._log.key_ts[self._e, k])
        i = self._instr.get(instrument)
        return 0 if i is None else int(self._log.instrument_ts[self._e, i])

    def positions(self, *, open_only: bool = False) -> list[PositionRecord]:
        """The per-strategy books (:attr:`books`) as position records."""
        return [PositionRecord(strategy, venue, instrument, qty)
                for (strategy, venue, instrument), qty in self.books.items()
                if qty or not open_only]

    def mark(self, instrument: str, price: float, ts_ns: int, venue: str | None = None) -> None:
        """Marks are the kernel's (a no-op here)."""


def judge_log(run: BacktestRun, layout: ReplayLayout, log: EntryLog) -> None:
    """Judge every order of ``log`` with a real risk engine, then book the fills into the
    run's recorder and count the approvals in the pipeline's tally.

    :raises CompiledStop: at the first order not approved as it was sent, or where the
        engine's state would leave ``ACTIVE``.
    """
    from bot_core.backtest.kernel import ENTRY_ORDER, ENTRY_REJECTED, ENTRY_TRIP

    liquidated = bool((log.kind == ENTRY_TRIP).any())
    if liquidated:
        _refuse_strategies_that_answer_rejects(layout)
    # the strategies' orders, refused ones included: each asked its context for a client id
    sent = np.flatnonzero((log.kind == ENTRY_ORDER) | (log.kind == ENTRY_REJECTED))
    # tens of thousands of small, acyclic objects (ids, verdicts, fills, round trips): the
    # cyclic collector would rescan the whole heap every few hundred of them
    collecting = gc.isenabled()
    gc.disable()
    try:
        client_ids = _client_order_ids(run, layout, log.slot[sent])
        if not liquidated and _judge_batched(run, layout, log, sent, client_ids):
            counts = {_key(APPROVED.action.value, APPROVED.reason): len(client_ids)}
        else:  # a liquidation, or a check without a batch form
            counts = _judge_one_by_one(run, layout, log, client_ids)
        _book_fills(run, layout, log)
    finally:
        if collecting:
            gc.enable()
    tally = run.pipeline.verdicts
    for key, count in counts.items():
        if count:
            tally[key] = tally.get(key, 0) + count


def _key(action: str, reason: str) -> str:
    """The pipeline's tally key of a verdict."""
    return f"{action}:{reason}"


def _refuse_strategies_that_answer_rejects(layout: ReplayLayout) -> None:
    """A refused order reaches its strategy's ``on_order_update`` on the event path; the kernel
    models strategies that do not answer it (the batch contract's default)."""
    for strategy, _ in layout.slots:
        if type(strategy).on_order_update is not Strategy.on_order_update:
            raise CompiledStop(f"{strategy.name} answers refused orders (on_order_update)")


def _client_order_ids(run: BacktestRun, layout: ReplayLayout, slots: np.ndarray) -> NumberedIds:
    """Each order's client order id from its strategy's context, in event order (as the
    event path asks for them), as numbers: no id is made into a string unless read."""
    names = [strategy.name for strategy, _ in layout.slots]
    owners = list(dict.fromkeys(names))
    owner = np.array([owners.index(name) for name in names], dtype=np.int64)[slots]
    number = np.empty(len(slots), dtype=np.int64)
    prefixes = []
    for o, name in enumerate(owners):  # each context's ids at once, scattered to its orders
        mine = owner == o
        count = int(mine.sum())
        prefix, first = run.pipeline.contexts[name].reserve_client_order_ids(count)
        prefixes.append(prefix)
        number[mine] = np.arange(first, first + count, dtype=np.int64)
    return NumberedIds(prefixes, owner, number)


def _intents(run: BacktestRun, layout: ReplayLayout, log: EntryLog, orders: np.ndarray,
             client_ids: NumberedIds) -> list[OrderIntent]:
    """The log's orders, as ``on_bar`` sends them (:func:`bot_core.targets.target_intent`)."""
    feeds = run.feeds
    out: list[OrderIntent] = []
    for slot, side, qty, ts, reason, client_id in zip(
            log.slot[orders].tolist(), log.side[orders].tolist(), log.quantity[orders].tolist(),
            log.ts[orders].tolist(), log.reason[orders].tolist(), client_ids, strict=True):
        strategy, index = layout.slots[slot]
        feed = feeds[index]
        out.append(target_intent(strategy.name, feed.venue, feed.instrument, side * qty,
                                 client_id, ts, layout.rules[slot].tag(reason)))
    return out


def _judge_one_by_one(run: BacktestRun, layout: ReplayLayout, log: EntryLog,
                      client_ids: NumberedIds) -> dict[str, int]:
    """Every order through :meth:`RiskEngine.evaluate`, with the book at each entry; returns
    the verdict counts (tally keys)."""
    from bot_core.backtest.kernel import (
        ENTRY_DAY,
        ENTRY_FILL,
        ENTRY_LIQUIDATE,
        ENTRY_ORDER,
        ENTRY_REJECTED,
        ENTRY_TRIP,
    )

    kinds = log.kind.tolist()
    sent = np.flatnonzero((log.kind == ENTRY_ORDER) | (log.kind == ENTRY_REJECTED))
    numbered = np.flatnonzero((log.kind == ENTRY_ORDER) | (log.kind == ENTRY_REJECTED) |
                              (log.kind == ENTRY_LIQUIDATE))
    intents: list[OrderIntent | None] = [None] * len(numbered)
    for number, intent in zip(np.searchsorted(numbered, sent).tolist(),
                              _intents(run, layout, log, sent, client_ids), strict=True):
        intents[number] = intent
    reducing_from, tripping_fill = _trip_entries(log)
    config = run.plan.resolved.config
    book = SnapshotBook(layout.keys, layout.instruments, log, config.runtime.initial_equity)
    engine = RiskEngine(config, run.pipeline.risk.checks, cast("Portfolio", book))
    engine.add_state_listener(run.recorder.on_trading_state)
    evaluate, on_fill, on_closed = engine.evaluate, engine.on_fill, engine.on_order_closed
    names = [(strategy.name, run.feeds[index].venue, run.feeds[index].instrument)
             for strategy, index in layout.slots]
    trade_seq = dict.fromkeys(layout.venues, 0)
    approved = refused = 0
    liquidations: dict[tuple[str, str, str], OrderIntent] = {}
    for e, (kind, ts, order, key) in enumerate(zip(kinds, log.ts.tolist(), log.order.tolist(),
                                                   log.key.tolist(), strict=True)):
        book.load(e)
        if kind in (ENTRY_ORDER, ENTRY_REJECTED):
            verdict = evaluate(intents[order], ts)
            if kind == ENTRY_ORDER and verdict is APPROVED:
                approved += 1
            elif kind == ENTRY_REJECTED and verdict.action is VerdictAction.REJECT and \
                    verdict.reason == REFUSED:
                refused += 1
            else:
                raise CompiledStop(f"risk verdict {verdict.action.value}:{verdict.reason} at "
                                   f"{run.timeline.when(run.timeline.step_of(ts))}")
        elif kind == ENTRY_LIQUIDATE:
            if not liquidations:  # the engine's orders of this event, all at once
                liquidations = {(i.strategy_id, i.venue, i.instrument): i
                                for i in engine.liquidation_intents(ts)}
            intent = _liquidation(liquidations, names[int(log.slot[e])], int(log.side[e]),
                                  float(log.quantity[e]), run, ts)
            intents[order] = intent
            if evaluate(intent, ts) is not APPROVED:
                raise CompiledStop(f"a liquidation order not approved at "
                                   f"{run.timeline.when(run.timeline.step_of(ts))}")
            approved += 1
        elif kind == ENTRY_FILL:
            intent = intents[order]
            assert intent is not None
            trade_seq[intent.venue] += 1
            qty = float(log.quantity[e])
            held = (intent.strategy_id, intent.venue, intent.instrument)
            book.books[held] = position_after_fill(book.books.get(held, 0.0),
                                                   float(intent.side) * qty, qty)
            on_fill(Fill(f"{intent.venue}-{trade_seq[intent.venue]}", intent.client_order_id,
                         intent.venue, intent.instrument, intent.side, qty,
                         float(log.price[e]), float(log.fee[e]), ts, "taker",
                         intent.strategy_id))
            on_closed(intent.client_order_id)
        elif kind == ENTRY_TRIP:
            if engine.state is TradingState.ACTIVE:  # not yet tripped by the fill walked last
                venue, instrument = layout.keys[key]
                engine.on_market_data(instrument, venue, float(log.price[e]), ts)
        else:  # a day or peak entry: the market event the engine's monitors saw there
            venue, instrument = layout.keys[key] if kind == ENTRY_DAY else layout.keys[0]
            engine.on_market_data(instrument, venue,
                                  float(log.price[e]) if kind == ENTRY_DAY else math.nan, ts)
        if liquidations and kind != ENTRY_LIQUIDATE:
            raise CompiledStop(f"the engine would liquidate {sorted(liquidations)} at "
                               f"{run.timeline.when(run.timeline.step_of(ts))}")
        expected = TradingState.REDUCING if e >= reducing_from else TradingState.ACTIVE
        if engine.state is not expected and not 0 <= tripping_fill <= e < reducing_from:
            raise CompiledStop(f"trading state {engine.state.value} at "
                               f"{run.timeline.when(run.timeline.step_of(ts))}")
    if liquidations:
        raise CompiledStop(f"the engine would liquidate {sorted(liquidations)} at the end")
    if engine.state is not TradingState.ACTIVE:
        run.pipeline.risk.restore(engine.snapshot())  # the run's final state
    return {_key(APPROVED.action.value, APPROVED.reason): approved,
            _key(VerdictAction.REJECT.value, REFUSED): refused}


def _trip_entries(log: EntryLog) -> tuple[int, int]:
    """The TRIP entry, from which the engine is ``REDUCING`` (past the end: none), and the fill
    that tripped it (-1: a market event did). From that fill on the engine may be
    ``REDUCING`` already, when the peak it knows there is the kernel's (the log tells the peak
    before orders, not before fills); else the TRIP entry trips it, at the same time and for
    the same cause."""
    from bot_core.backtest.kernel import ENTRY_FILL, ENTRY_TRIP

    trips = np.flatnonzero(log.kind == ENTRY_TRIP)
    if not len(trips):
        return len(log.kind), -1
    trip = int(trips[0])
    if log.reason[trip]:
        return trip, -1
    fills = np.flatnonzero(log.kind[:trip] == ENTRY_FILL)
    return trip, int(fills[-1]) if len(fills) else -1


def _liquidation(pending: dict[tuple[str, str, str], OrderIntent], name: tuple[str, str, str],
                 side: int, quantity: float, run: BacktestRun, ts: int) -> OrderIntent:
    """The engine's liquidation order for the book ``name``, checked against the kernel's."""
    intent = pending.pop(name, None)
    if intent is None or int(intent.side) != side or \
            not math.isclose(intent.quantity, quantity, rel_tol=1e-9, abs_tol=1e-12):
        raise CompiledStop(f"the engine's liquidation of {name} differs from the kernel's at "
                           f"{run.timeline.when(run.timeline.step_of(ts))}")
    return intent


def _orders_one_at_a_time(kinds: np.ndarray) -> bool:
    """True when every order of the log is judged with no other order open (each one's fill
    comes before the next order): the case an :class:`~bot_core.risk.batch.OrderBatch`
    describes with nothing pending."""
    from bot_core.backtest.kernel import ENTRY_FILL, ENTRY_ORDER

    is_order = kinds == ENTRY_ORDER
    open_before = np.cumsum(is_order) - np.cumsum(kinds == ENTRY_FILL) - is_order
    return not bool((open_before[is_order] != 0).any())


def _committed(layout: ReplayLayout, log: EntryLog, orders: np.ndarray,
               client_ids: NumberedIds, price: np.ndarray) -> dict[str, np.ndarray]:
    """What the engine's book of open orders answers at each order of the log
    (``pending_*`` of :class:`~bot_core.risk.batch.OrderBatch`), every earlier order approved:
    the engine's own :class:`~bot_core.risk.committed.CommittedOrders`, fed as it would be (an
    approved order at its approval price, released by its fill and its close). Empty when every
    order fills before the next one is judged (nothing is ever pending)."""
    from bot_core.backtest.kernel import ENTRY_FILL, ENTRY_ORDER
    from bot_core.risk.committed import CommittedOrders

    if _orders_one_at_a_time(log.kind):
        return {}
    n, symbols = len(orders), layout.instruments
    at_venue, notional = np.zeros(n), np.zeros(n)
    buys, sells = np.zeros((n, len(symbols))), np.zeros((n, len(symbols)))
    book = CommittedOrders()
    column = {symbol: j for j, symbol in enumerate(symbols)}
    names = [(layout.keys[k][1], layout.keys[k][0]) for k in log.key[orders].tolist()]
    sides, prices, quantities = log.side[orders].tolist(), price.tolist(), \
        log.quantity[orders].tolist()
    kinds, refs, filled_qty = log.kind.tolist(), log.order.tolist(), log.quantity.tolist()
    ids = client_ids.tolist()  # (orders overlap: rare, and each id is read thrice)
    order = 0
    for e, kind in enumerate(kinds):
        if kind == ENTRY_FILL:
            book.release(ids[refs[e]], filled_qty[e])  # the engine's on_fill
            book.release(ids[refs[e]])  # and on_order_closed
            continue
        if kind != ENTRY_ORDER:
            continue
        instrument, venue = names[order]
        sign = float(sides[order])
        if book:
            at_venue[order] = book.quantity(instrument, sign, venue)
            for (symbol, direction), open_qty in book.open_by_instrument().items():
                j = column.get(symbol)
                if j is not None:
                    (buys if direction > 0 else sells)[order, j] = open_qty
            notional[order] = book.notional
        book.add(ids[order], venue, instrument, sign, quantities[order], prices[order])
        order += 1
    return {"pending_at_venue": at_venue, "pending_buys": buys, "pending_sells": sells,
            "pending_notional": notional}


def _judge_batched(run: BacktestRun, layout: ReplayLayout, log: EntryLog, orders: np.ndarray,
                   client_ids: NumberedIds) -> bool:
    """Every order of the log at once through :meth:`RiskEngine.judge_batch`. False (nothing
    changed) when a check has no batch form for it, or when an order is not approved in full:
    the order-by-order walk then judges, and stops at that order with its verdict."""
    from bot_core.risk.batch import OrderBatch

    config = run.plan.resolved.config
    key = log.key[orders]
    instrument = layout.books.key_instrument[key]
    venue_price = log.key_mark[orders, key]
    mark = log.instrument_mark[orders, instrument]
    at_venue = venue_price > 0.0  # SnapshotBook.last_price / last_update_ns, venue first
    marks = log.instrument_mark[orders]
    side = log.side[orders].astype(np.float64)
    price = np.where(at_venue, venue_price, np.where(mark > 0.0, mark, math.nan))
    batch = OrderBatch(
        instruments=layout.instruments, venues=layout.venues, limits=config.risk,
        buckets=config.buckets, now_ns=log.ts[orders], instrument=instrument,
        venue=layout.books.key_venue[key], side=side, quantity=log.quantity[orders],
        client_order_id=client_ids, equity=log.equity[orders], gross_exposure=log.gross[orders],
        equity_peak=log.peak[orders], day_start_equity=log.day_start[orders], price=price,
        last_update_ns=np.where(at_venue, log.key_ts[orders, key],
                                log.instrument_ts[orders, instrument]),
        position_at_venue=log.key_position[orders, key],
        positions=log.instrument_position[orders],
        marks=np.where(marks > 0.0, marks, math.nan),
        **_committed(layout, log, orders, client_ids, price),
    )
    book = SnapshotBook(layout.keys, layout.instruments, log, config.runtime.initial_equity)
    engine = RiskEngine(config, run.pipeline.risk.checks, cast("Portfolio", book))
    judged = engine.judge_batch(batch)
    if judged is None or judged[0] < len(batch):
        return False  # no batch form, or risk steps in: the walk gives the verdict
    engine.accept_batch(batch)
    return True


def _book_fills(run: BacktestRun, layout: ReplayLayout, log: EntryLog) -> None:
    """The fills, in event order, straight from the log into the trade book."""
    from bot_core.backtest.kernel import ENTRY_FILL

    filled = np.flatnonzero(log.kind == ENTRY_FILL)
    names = [(strategy.name, run.feeds[index].venue, run.feeds[index].instrument)
             for strategy, index in layout.slots]
    run.recorder.on_fill_columns(names, log.slot[filled], log.side[filled].astype(np.float64),
                                 log.quantity[filled], log.price[filled], log.fee[filled],
                                 log.ts[filled])

