"""The compiled replay: a fast-path run whose order path runs in Numba, judged by the real engine.

On the fast path (see :mod:`bot_core.backtest.driver`) every order still goes through the
Python pipeline: risk engine, paper venue, portfolio, trade book, about 150 us per order. When a
run is simple enough, :func:`bot_core.kernels.bar_replay.replay_bars` does the venue's fills,
the portfolio's booking and the engine's equity monitors for the whole run at once, and writes
every order and fill, in event order, into an entry log with what the risk engine reads at that
moment. This module then walks the log through a real :class:`~bot_core.risk.engine.RiskEngine`
with the run's own check instances, reading a :class:`SnapshotBook` loaded from each entry:
every order is judged by every enabled check, fills reach the checks' ``on_fill`` and release
the engine's committed exposure, trading days roll where the event path rolls them.

The compiled replay is a *proof* that the run is a plain sequence of approved, completely filled
orders. It gives way (the driver runs the Python fast path, which falls back to the event path
in turn) as soon as that stops being true: a verdict other than a plain approval, a partial or
unaffordable fill, a limit reached, an order open when its strategy sees the next bar. It runs
only where its model is the venue's own: bar feeds only, every venue offering a
:class:`~bot_core.exchange.BarFillModel`, no observer plugin watching orders or fills (they
would see nothing of the kernel's work), one feed per (venue, instrument) and strategy.

Results equal the event path's up to float rounding (the kernel sums equity in another order
than the portfolio's running sums): the same trades and verdicts, equity within 1e-12 relative
(``tests/backtest/test_compiled.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from bot_core.market import split_symbol
from bot_core.orders import Fill, OrderIntent, OrderType, Side, TimeInForce
from bot_core.risk.check import TradingState
from bot_core.risk.engine import APPROVED, RiskEngine
from bot_core.rules import limit_reached

if TYPE_CHECKING:
    from bot_core.backtest.driver import _FastStrategy, _Run
    from bot_core.backtest.recorder import Recorder
    from bot_core.exchange import BarFillModel
    from bot_core.portfolio import Portfolio

__all__ = ["CompiledStop", "CompiledUnavailable", "SnapshotBook", "replay_compiled", "why_not_compiled"]

_OBSERVED = ("bot_core_on_decision", "bot_core_on_risk_verdict", "bot_core_on_order",
             "bot_core_on_fill", "bot_core_on_trading_state")


class CompiledStop(Exception):
    """The compiled replay cannot promise the event path's result from here on.

    ``final`` when the Python fast path would give way at the same point (risk stepped in, an
    order did not fill completely): the backtest then goes straight to the event path."""

    def __init__(self, message: str, *, final: bool = True) -> None:
        super().__init__(message)
        self.final = final


class CompiledUnavailable(CompiledStop):
    """The run is not one the compiled replay models (see :func:`why_not_compiled`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, final=False)


class SnapshotBook:
    """The portfolio as the risk engine reads it, at one entry of the kernel's log.

    It answers the engine's and the checks' questions (equity, gross exposure, positions, marks,
    data times) from the entry's snapshot; marking is the kernel's job, so :meth:`mark` does
    nothing, and there are no per-strategy books (the engine reads them only to liquidate,
    which the compiled replay never does).
    """

    __slots__ = ("_instr", "_keys", "_ni", "_nk", "_row", "_ts", "equity", "gross_exposure")

    def __init__(self, keys: list[tuple[str, str]], instruments: list[str],
                 initial_cash: float) -> None:
        self._keys = {key: k for k, key in enumerate(keys)}
        self._instr = {name: i for i, name in enumerate(instruments)}
        self._nk = len(keys)
        self._ni = len(instruments)
        width = 2 + 2 * self._nk + 2 * self._ni
        self._row: list[float] = [initial_cash, 0.0] + [0.0] * (width - 2)
        self._ts: list[int] = [0] * (self._nk + self._ni)
        self.equity = initial_cash
        self.gross_exposure = 0.0

    def load(self, row: list[float], ts: list[int]) -> None:
        self._row = row
        self._ts = ts
        self.equity = row[0]
        self.gross_exposure = row[1]

    def position(self, instrument: str, venue: str | None = None,
                 strategy: str | None = None) -> float:
        if strategy is not None:
            raise CompiledStop("a per-strategy position was asked for", final=False)
        if venue is None:
            i = self._instr.get(instrument)
            return 0.0 if i is None else self._row[2 + 2 * self._nk + i]
        k = self._keys.get((venue, instrument))
        return 0.0 if k is None else self._row[2 + k]

    def last_price(self, instrument: str, venue: str | None = None) -> float:
        if venue is not None:
            k = self._keys.get((venue, instrument))
            if k is not None and self._row[2 + self._nk + k] > 0.0:
                return self._row[2 + self._nk + k]
        i = self._instr.get(instrument)
        if i is None:
            return math.nan
        price = self._row[2 + 2 * self._nk + self._ni + i]
        return price if price > 0.0 else math.nan

    def last_update_ns(self, instrument: str, venue: str | None = None) -> int:
        if venue is not None:
            k = self._keys.get((venue, instrument))
            if k is not None and self._row[2 + self._nk + k] > 0.0:
                return self._ts[k]
        i = self._instr.get(instrument)
        return 0 if i is None else self._ts[self._nk + i]

    def mark(self, instrument: str, price: float, ts_ns: int, venue: str | None = None) -> None:
        """Marks are the kernel's (a no-op here)."""


def why_not_compiled(run: _Run) -> str:
    """Why ``run`` cannot take the compiled replay ("" when it can)."""
    if not run.fast:
        return "no strategy answers from batch targets"
    if run.pipeline.strategies:  # they would need their on_bar / on_quote on every event
        return f"{', '.join(run.pipeline.strategies)} run event by event"
    if any(feed.kind != "ohlcv" for feed in run.feeds):
        return "quote feeds"
    if run.any_always_sync:
        return "a strategy trades one (venue, instrument) through two feeds"
    watched = [hook for hook in _OBSERVED if run.host.implements(hook)]
    if watched:
        return f"observer plugins implement {', '.join(watched)}"
    for feed in run.feeds:
        venue = run.pipeline.venues.get(feed.venue)
        model = venue.bar_fill_model() if venue is not None else None
        if model is None:
            return f"venue {feed.venue} has no bar fill model"
        if split_symbol(feed.instrument)[1] != model.cash_asset:
            return f"{feed.instrument} is not quoted in {feed.venue}'s cash asset"
    return ""


@dataclass(slots=True)
class _Layout:
    """The run as the kernel's arrays, and the names behind their indices."""

    keys: list[tuple[str, str]]
    instruments: list[str]
    slots: list[tuple[_FastStrategy, int]]
    """(strategy, feed index) per slot."""
    args: tuple[Any, ...]
    n_decisions: int
    n_days: int
    n_fraction_bars: int
    """Bars seen by slots whose targets are fractions of equity (each may order on any)."""
    venues: list[str]
    slot_key: np.ndarray
    """(venue, instrument) key of each slot."""
    key_instrument: np.ndarray
    """Index into ``instruments`` of each key."""
    key_venue: np.ndarray
    """Index into ``venues`` of each key."""
    boundaries: np.ndarray
    """The trading-day boundaries the run crosses (epoch ns), in order."""


def _layout(run: _Run) -> _Layout:
    from bot_core.kernels.bar_replay import VENUE_FIELDS  # Numba: imported when it runs
    from bot_core.risk.tradingday import TradingCalendar

    feeds, tl = run.feeds, run.tl
    keys = list(dict.fromkeys((f.venue, f.instrument) for f in feeds))
    key_index = {key: k for k, key in enumerate(keys)}
    instruments = list(dict.fromkeys(instrument for _, instrument in keys))
    venue_names = list(dict.fromkeys(venue for venue, _ in keys))
    models: list[BarFillModel] = []
    for name in venue_names:
        model = run.pipeline.venues[name].bar_fill_model()
        assert model is not None  # why_not_compiled checked it
        models.append(model)
    rows = [{"taker_fee_rate": m.taker_fee_bps / 1e4, "slippage_rate": m.slippage_bps / 1e4,
             "volume_impact_bps": m.volume_impact_bps,
             "participation_rate": m.participation_rate,
             "latency_ns": float(int(m.latency_ms * 1_000_000)),
             "fill_on_close": float(m.fill_on_close), "margin": float(m.margin),
             "max_leverage": m.max_leverage, "quote_balance": m.cash,
             "volume_cap": float(m.volume_cap)} for m in models]
    venues = np.array([[row[name] for name in VENUE_FIELDS] for row in rows], dtype=np.float64)
    assets: dict[tuple[str, str], int] = {}
    key_asset = []
    for venue, instrument in keys:
        key_asset.append(assets.setdefault((venue, split_symbol(instrument)[0]), len(assets)))
    if len(assets) < len(keys):
        raise CompiledStop("two instruments of one venue share a base asset")
    asset_venue = np.array([venue_names.index(venue) for venue, _ in assets], dtype=np.int64)

    # events: open, close, volume of every bar in timeline order
    offsets = np.cumsum([0] + [len(f) for f in feeds])[:-1]
    where = offsets[tl.ev_feed] + tl.ev_row
    ev_bar = np.empty((len(where), 3))
    for c, name in enumerate(("open", "close", "volume")):
        ev_bar[:, c] = np.concatenate([f.columns[name] for f in feeds])[where]
    ev_ts = np.concatenate([f.ts_ns for f in feeds])[where]

    # slots: strategy x feed, per feed in the strategies' order
    slots: list[tuple[_FastStrategy, int]] = []
    feed_slot_start = [0]
    feed_slots: list[int] = []
    for index in range(len(feeds)):
        for fs in run.traders.get(index, []):
            feed_slots.append(len(slots))
            slots.append((fs, index))
        feed_slot_start.append(len(feed_slots))
    dec_start: list[int] = [0]
    dec_step: list[np.ndarray] = []
    dec_value: list[np.ndarray] = []
    frac_start: list[int] = []
    frac_parts: list[np.ndarray] = []
    frac_bars = 0
    slot_band = np.zeros(len(slots))
    for j, (fs, index) in enumerate(slots):
        if fs.fractions is not None:
            frac_start.append(frac_bars)
            frac_parts.append(fs.fractions[index])
            frac_bars += len(fs.fractions[index])
            slot_band[j] = fs.band
        else:
            frac_start.append(-1)
    empty = (np.empty(0, dtype=np.int64), np.empty(0))
    for fs, index in slots:
        steps, values = fs.changes.get(index, empty)
        dec_step.append(steps)
        dec_value.append(values)
        dec_start.append(dec_start[-1] + len(steps))

    runtime = run.plan.resolved.config.runtime
    cal = TradingCalendar(runtime.timezone, runtime.trading_day_start)
    first, last = int(tl.ts[0]), int(tl.ts[-1])
    boundaries = [cal.next_boundary_ns(cal.day_of(first))]
    while boundaries[-1] <= last:
        boundaries.append(cal.next_boundary_ns(cal.day_of(boundaries[-1])))
    risk = run.plan.resolved.config.risk
    day_boundaries = np.array(boundaries, dtype=np.int64)
    slot_key = np.array([key_index[(feeds[i].venue, feeds[i].instrument)] for _, i in slots],
                        dtype=np.int64)
    key_instrument = np.array([instruments.index(i) for _, i in keys], dtype=np.int64)
    key_venue = np.array([venue_names.index(v) for v, _ in keys], dtype=np.int64)
    args = (
        tl.step_start, tl.ev_feed, ev_ts, ev_bar,
        np.array([key_index[(f.venue, f.instrument)] for f in feeds], dtype=np.int64),
        np.array(feed_slot_start, dtype=np.int64), np.array(feed_slots, dtype=np.int64),
        slot_key,
        np.array([fs.sizing_equity if fs.proportional else 0.0 for fs, _ in slots]),
        np.array(dec_start, dtype=np.int64),
        np.concatenate([empty[0], *dec_step]).astype(np.int64),
        np.concatenate([empty[1], *dec_value]).astype(np.float64),
        key_instrument, key_venue,
        np.array(key_asset, dtype=np.int64), asset_venue, len(instruments), venues,
        float(runtime.initial_equity), day_boundaries,
        risk.drawdown_liquidation_pct, risk.daily_loss_limit_pct,
        tl.ev_row, slot_band, np.array(frac_start, dtype=np.int64),
        np.concatenate(frac_parts) if frac_parts else np.empty(0),
    )
    return _Layout(keys, instruments, slots, args, dec_start[-1], len(boundaries), frac_bars,
                   venue_names, slot_key, key_instrument, key_venue, day_boundaries)


def replay_compiled(run: _Run, recorder: Recorder) -> None:
    """Fill ``run.equity`` and ``run.in_market``, book every fill into ``recorder`` and count
    the verdicts in the pipeline's tally, with every order judged by a real risk engine.

    :raises CompiledStop: when the run is not a plain sequence of approved, complete fills
        (nothing of the pipeline's own state was touched but its final marks).
    """
    from bot_core.kernels.bar_replay import (
        STOP_LOG_FULL,
        STOP_OPEN_ORDER,
        STOP_REASONS,
        replay_bars,
    )

    layout = _layout(run)
    nk, ni = len(layout.keys), len(layout.instruments)
    # three entries per order and two per trading day; slots sized in fractions of equity
    # order when their band is crossed, which only the run tells: start from a guess
    cap = 3 * (layout.n_decisions + layout.n_fraction_bars // 16) + 2 * layout.n_days + 2
    kernel: Callable[..., tuple[int, int, int]] = replay_bars
    while True:
        ent_kind = np.empty(cap, dtype=np.int64)
        ent_ts = np.empty(cap, dtype=np.int64)
        ent_ref = np.empty((cap, 3), dtype=np.int64)
        ent_val = np.empty((cap, 3))
        snap = np.empty((cap, 2 + 2 * nk + 2 * ni))
        snap_ts = np.empty((cap, nk + ni), dtype=np.int64)
        status, n, event = kernel(*layout.args, run.equity, run.in_market, ent_kind, ent_ts,
                                  ent_ref, ent_val, snap, snap_ts)
        if status != STOP_LOG_FULL:
            break
        cap = 2 * max(cap, n) + 3 * layout.n_fraction_bars // 8
    if status:
        step = int(np.searchsorted(run.tl.step_start, event, side="right")) - 1
        # an order open when its strategy sees the next bar (latency) is one the fast path
        # re-syncs; every other stop is one where it gives way too
        raise CompiledStop(f"{STOP_REASONS[status]} at {run._when(step)}",
                           final=status != STOP_OPEN_ORDER)

    pipeline = run.pipeline
    log = (ent_kind[:n], ent_ts[:n], ent_ref[:n], ent_val[:n], snap[:n], snap_ts[:n])
    client_ids = _client_order_ids(layout, ent_kind[:n], ent_ref[:n])
    if not _walk_batched(run, layout, client_ids, log, recorder):
        # a check without a batch form: every order through evaluate()
        for fill in _walk(run, layout, client_ids, log):
            recorder.on_fill(fill)
    tally = pipeline.verdicts
    approved = f"{APPROVED.action.value}:{APPROVED.reason}"
    if client_ids:
        tally[approved] = tally.get(approved, 0) + len(client_ids)
    # the pipeline's portfolio gives the results their final marks (open trades)
    latest: dict[tuple[str, str], tuple[int, float]] = {}
    for feed in run.feeds:  # the later feed wins at equal times, as in the timeline
        closes = feed.columns["close"]
        valid = np.flatnonzero((closes > 0.0) & np.isfinite(closes))
        if len(valid):
            row = int(valid[-1])
            key = (feed.venue, feed.instrument)
            mark = (int(feed.ts_ns[row]), float(closes[row]))
            if key not in latest or mark[0] >= latest[key][0]:
                latest[key] = mark
    for (venue, instrument), (ts, price) in latest.items():
        pipeline.portfolio.mark(instrument, price, ts, venue)


def _client_order_ids(layout: _Layout, kinds: np.ndarray, refs: np.ndarray) -> list[str]:
    """Each order's client order id from its strategy's context, in event order (as the fast
    path asks for them)."""
    from bot_core.kernels.bar_replay import ENTRY_ORDER

    contexts = []
    for fs, _ in layout.slots:
        assert fs.ctx is not None
        contexts.append(fs.ctx.new_client_order_id)
    return [contexts[slot]() for slot in refs[kinds == ENTRY_ORDER, 0].tolist()]


def _intents(run: _Run, layout: _Layout, client_ids: list[str],
             log: tuple[np.ndarray, ...]) -> list[OrderIntent]:
    """The log's orders as the fast path builds them."""
    from bot_core.kernels.bar_replay import ENTRY_ORDER

    kinds, stamps, refs, values = log[:4]
    rows = kinds == ENTRY_ORDER
    intents: list[OrderIntent] = []
    slots, feeds = layout.slots, run.feeds
    for (slot, side), qty, ts, client_id in zip(refs[rows, :2].tolist(),
                                                values[rows, 0].tolist(),
                                                stamps[rows].tolist(), client_ids, strict=True):
        fs, index = slots[slot]
        feed = feeds[index]
        # positional, as the fast path's _target_intent builds it
        intents.append(OrderIntent(fs.name, feed.venue, feed.instrument,
                                   Side.BUY if side > 0 else Side.SELL, qty, client_id,
                                   OrderType.MARKET, None, TimeInForce.IOC, False, None, ts,
                                   "target"))
    return intents


def _orders_one_at_a_time(kinds: np.ndarray) -> bool:
    """True when every order of the log is judged with no other order open (each one's fill
    comes before the next order): the case an :class:`~bot_core.risk.batch.OrderBatch`
    describes, with nothing pending."""
    from bot_core.kernels.bar_replay import ENTRY_FILL, ENTRY_ORDER

    is_order = kinds == ENTRY_ORDER
    open_before = np.cumsum(is_order) - np.cumsum(kinds == ENTRY_FILL) - is_order
    return not bool((open_before[is_order] != 0).any())


def _committed(layout: _Layout, client_ids: list[str], log: tuple[np.ndarray, ...],
               rows: np.ndarray, key: np.ndarray, side: np.ndarray, price: np.ndarray
               ) -> dict[str, np.ndarray]:
    """What the engine's book of open orders answers at each order of the log
    (``pending_*`` of :class:`~bot_core.risk.batch.OrderBatch`), every earlier order approved:
    the engine's own :class:`~bot_core.risk.committed.CommittedOrders`, fed as it would be
    (an approved order at its approval price, released by its fill and its close). Empty when
    every order fills before the next one is judged (nothing is ever pending)."""
    from bot_core.kernels.bar_replay import ENTRY_FILL, ENTRY_ORDER
    from bot_core.risk.committed import CommittedOrders

    kinds, _, refs, values = log[:4]
    if _orders_one_at_a_time(kinds):
        return {}
    n, symbols = len(rows), layout.instruments
    at_venue, notional = np.zeros(n), np.zeros(n)
    buys, sells = np.zeros((n, len(symbols))), np.zeros((n, len(symbols)))
    book = CommittedOrders()
    order = 0
    names = [(layout.keys[k][1], layout.keys[k][0]) for k in key.tolist()]
    sides, prices = side.tolist(), price.tolist()
    quantity = book.quantity
    column = {symbol: j for j, symbol in enumerate(symbols)}
    fills = kinds == ENTRY_FILL
    filled = dict(zip(np.flatnonzero(fills).tolist(),
                      zip(refs[fills, 0].tolist(), values[fills, 0].tolist(), strict=True),
                      strict=True))
    for e in np.flatnonzero((kinds == ENTRY_ORDER) | fills).tolist():
        if e in filled:
            ref, qty = filled[e]
            book.release(client_ids[ref], qty)  # the engine's on_fill
            book.release(client_ids[ref])  # and on_order_closed
            continue
        instrument, venue = names[order]
        sign = sides[order]
        if book:
            at_venue[order] = quantity(instrument, sign, venue)
            for (symbol, direction), open_qty in book.open_by_instrument().items():
                j = column.get(symbol)
                if j is not None:
                    (buys if direction > 0 else sells)[order, j] = open_qty
            notional[order] = book.notional
        book.add(client_ids[order], venue, instrument, sign, float(values[e, 0]), prices[order])
        order += 1
    return {"pending_at_venue": at_venue, "pending_buys": buys, "pending_sells": sells,
            "pending_notional": notional}


def _walk(run: _Run, layout: _Layout, client_ids: list[str],
          log: tuple[np.ndarray, ...]) -> list[Fill]:
    """Every order through :meth:`RiskEngine.evaluate`, with the book at each entry."""
    from bot_core.kernels.bar_replay import ENTRY_DAY, ENTRY_FILL, ENTRY_ORDER

    kinds, stamps, refs, values = (column.tolist() for column in log[:4])
    rows, row_ts = log[4].tolist(), log[5].tolist()
    intents = _intents(run, layout, client_ids, log)
    config = run.plan.resolved.config
    book = SnapshotBook(layout.keys, layout.instruments, config.runtime.initial_equity)
    engine = RiskEngine(config, run.pipeline.risk.checks, cast("Portfolio", book))
    trade_seq = dict.fromkeys((venue for venue, _ in layout.keys), 0)
    fills: list[Fill] = []
    evaluate, on_fill, on_closed = engine.evaluate, engine.on_fill, engine.on_order_closed
    order = 0
    for e, (kind, ts, ref) in enumerate(zip(kinds, stamps, refs, strict=True)):
        book.load(rows[e], row_ts[e])
        if kind == ENTRY_ORDER:
            verdict = evaluate(intents[order], ts)
            order += 1
            if verdict is not APPROVED:
                raise CompiledStop(f"risk verdict {verdict.action.value}:{verdict.reason} at "
                                   f"{run._when(_step_of(run, ts))}")
        elif kind == ENTRY_FILL:
            intent = intents[ref[0]]
            venue = intent.venue
            trade_seq[venue] += 1
            qty, price, fee = values[e]
            fill = Fill(f"{venue}-{trade_seq[venue]}", intent.client_order_id, venue,
                        intent.instrument, intent.side, qty, price, fee, ts, "taker",
                        intent.strategy_id)
            on_fill(fill)
            fills.append(fill)
            on_closed(intent.client_order_id)
        else:  # a day or peak entry: the market event the engine's monitors saw there
            venue, instrument = layout.keys[ref[2]] if kind == ENTRY_DAY else layout.keys[0]
            engine.on_market_data(instrument, venue,
                                  values[e][0] if kind == ENTRY_DAY else math.nan, ts)
        if engine.state is not TradingState.ACTIVE:
            raise CompiledStop(f"trading state {engine.state.value} at "
                               f"{run._when(_step_of(run, ts))}")
    return fills


def _monitors(run: _Run, layout: _Layout, kinds: np.ndarray, stamps: np.ndarray,
              equity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The equity peak and the day's start equity at every entry, as a fresh
    :class:`RiskEngine` walking the log keeps them (its ``_roll_day`` and ``_watch_equity``):
    the day rolls at the first entry of each trading day, taking that entry's equity; the peak
    rises on every fill, day and peak entry (not on orders). A peak entry carries the time of
    the peak, which may be before the entry before it: as in the engine, an entry from a day
    already started does not roll it again.

    :raises CompiledStop: where the engine's monitors would leave ``ACTIVE``.
    """
    from bot_core.kernels.bar_replay import ENTRY_ORDER

    n = len(kinds)
    day = np.searchsorted(layout.boundaries, stamps, side="right")
    rolls = np.ones(n, dtype=bool)
    rolls[1:] = day[1:] > np.maximum.accumulate(day)[:-1]  # a later day than any so far
    start = equity[np.maximum.accumulate(np.where(rolls, np.arange(n), 0))]
    watched = (kinds != ENTRY_ORDER) & np.isfinite(equity)
    risk = run.plan.resolved.config.risk
    initial = run.plan.resolved.config.runtime.initial_equity
    peak = np.maximum(np.maximum.accumulate(np.where(watched, equity, -np.inf)), initial)
    reached = cast("Callable[[np.ndarray, np.ndarray, float], np.ndarray]", limit_reached)
    with np.errstate(invalid="ignore"):  # the engine's rule, element by element
        drawdown = watched & reached(peak, equity, risk.drawdown_liquidation_pct)
        daily = watched & reached(start, equity, risk.daily_loss_limit_pct)
    tripped = np.flatnonzero(drawdown | daily)
    if len(tripped):
        e = int(tripped[0])
        state = TradingState.REDUCING if drawdown[e] else TradingState.HALTED
        raise CompiledStop(f"trading state {state.value} at "
                           f"{run._when(_step_of(run, int(stamps[e])))}")
    return peak, start


def _walk_batched(run: _Run, layout: _Layout, client_ids: list[str],
                  log: tuple[np.ndarray, ...], recorder: Recorder) -> bool:
    """Every order of the log at once through :meth:`RiskEngine.judge_batch`, then the fills
    into ``recorder``. False (nothing changed) when a check has no batch form for it, or when
    an order is not approved in full: :func:`_walk` then judges order by order, and stops at
    that order with its verdict.

    :raises CompiledStop: where the engine's monitors would leave ``ACTIVE``.
    """
    from bot_core.kernels.bar_replay import ENTRY_FILL, ENTRY_ORDER
    from bot_core.risk.batch import OrderBatch

    kinds, stamps, refs, values, snap, snap_ts = log
    peak, start = _monitors(run, layout, kinds, stamps, snap[:, 0])
    config = run.plan.resolved.config
    nk, ni = len(layout.keys), len(layout.instruments)
    rows = np.flatnonzero(kinds == ENTRY_ORDER)
    each = np.arange(len(rows))
    orders = snap[rows]
    key = layout.slot_key[refs[rows, 0]]
    instrument = layout.key_instrument[key]
    venue_price = orders[each, 2 + nk + key]
    mark = orders[each, 2 + 2 * nk + ni + instrument]
    at_venue = venue_price > 0.0  # SnapshotBook.last_price / last_update_ns, venue first
    marks = orders[:, 2 + 2 * nk + ni:2 + 2 * nk + 2 * ni]
    side = np.where(refs[rows, 1] > 0, 1.0, -1.0)
    price = np.where(at_venue, venue_price, np.where(mark > 0.0, mark, math.nan))
    batch = OrderBatch(
        instruments=layout.instruments, venues=layout.venues, limits=config.risk,
        buckets=config.buckets, now_ns=stamps[rows], instrument=instrument,
        venue=layout.key_venue[key], side=side, quantity=values[rows, 0],
        client_order_id=client_ids, equity=orders[:, 0], gross_exposure=orders[:, 1],
        equity_peak=peak[rows], day_start_equity=start[rows],
        price=price,
        last_update_ns=np.where(at_venue, snap_ts[rows, key], snap_ts[rows, nk + instrument]),
        position_at_venue=orders[each, 2 + key],
        positions=orders[:, 2 + 2 * nk:2 + 2 * nk + ni],
        marks=np.where(marks > 0.0, marks, math.nan),
        **_committed(layout, client_ids, log, rows, key, side, price),
    )
    engine = RiskEngine(config, run.pipeline.risk.checks,
                        cast("Portfolio", SnapshotBook(layout.keys, layout.instruments,
                                                       config.runtime.initial_equity)))
    judged = engine.judge_batch(batch)
    if judged is None:
        return False
    first, _ = judged
    if first < len(batch):
        # risk steps in: the order-by-order walk (which stops at that order) gives its verdict
        return False
    engine.accept_batch(batch)

    # the fills, in event order, straight from the log into the trade book
    filled = np.flatnonzero(kinds == ENTRY_FILL)
    order = refs[filled, 0]
    names = [(fs.name, run.feeds[index].venue, run.feeds[index].instrument)
             for fs, index in layout.slots]
    record = recorder.on_fill_values
    for slot, sign, qty, price, fee, ts in zip(refs[rows[order], 0].tolist(),
                                               side[order].tolist(),
                                               values[filled, 0].tolist(),
                                               values[filled, 1].tolist(),
                                               values[filled, 2].tolist(),
                                               stamps[filled].tolist(), strict=True):
        strategy, venue, instrument_name = names[slot]
        record(strategy, venue, instrument_name, sign, qty, price, fee, ts)
    return True


def _step_of(run: _Run, ts: int) -> int:
    return max(int(np.searchsorted(run.tl.ts, ts, side="left")), 0)
