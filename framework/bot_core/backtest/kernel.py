"""The compiled replay's kernel: a bar backtest's order path in Numba, event by event.

:func:`replay_bars` does, in the pipeline's order and with the host's own rules
(:mod:`bot_core.rules`, compiled from the same source), what the event path does for every bar
of a run whose strategies all offer the batch contract:

1. the venue sees the bar: it learns the bar length, marks its account at the close and fills
   the market orders that became eligible (bar open, slippage, volume impact, taker fee, the
   account's buying power, the bar's volume unless the venue's volume cap is off);
2. the portfolio books the fills and is marked at the close; the engine's monitors roll the
   trading day, track the equity peak and watch the drawdown and daily-loss limits;
3. each strategy trading the bar calls its compiled ``decide`` (a function pointer: one
   compiled kernel for every strategy) with this bar's signal row, the close, its position, the
   equity and its state, and trades the difference between the target and its position as one
   market IOC order, filled at the next bar's open (or at once, at the close, with
   ``fill_on_close``): what ``Strategy.on_bar`` does with the same function.

It takes no risk decision. Every order and fill goes into an :class:`EntryLog`, in event order,
with what the risk engine reads at that moment (equity, gross exposure, equity peak, day start,
positions, marks, data times); :mod:`bot_core.backtest.judge` walks that log through the real
risk engine and its checks. The kernel stops (a non-zero status, :data:`STOP_REASONS`) at the
first event where the run stops being a plain sequence of complete fills: a partial fill, a fill
the account cannot carry, a market that cannot trade, an order still open when its strategy sees
the next bar, a position left short of its target, or a daily loss limit hit. The backtest is
then replayed event by event.

The drawdown liquidation is modelled, as the engine does it (``REDUCING`` until an operator
clears it, which no backtest does): at the trip (a TRIP entry), every open position is closed
by a market reduce-only order (LIQUIDATE entries) placed at that event, as
``RiskEngine.liquidation_intents``, and from then on every strategy order that does not reduce
its position (open orders included) is refused by the engine's state gate (REJECTED entries;
never sent). Strategies back off from refused orders as :class:`~bot_core.TargetTracker` does
(:func:`bot_core.rules.back_off`). Where that model is not the whole story (orders open at the
trip, which the pipeline would cancel; two strategies' books on one market; fills at the close;
an order the gate would let through in part), the kernel stops as before.

Its inputs are named tuples of arrays (:class:`Events`, :class:`Books`, :class:`Venues`,
:class:`Slots`, :class:`Limits`); its scalar state is one record of :data:`MONITOR`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, cast

import numpy as np
from numba import njit

from bot_core.backtest.jit import rules

__all__ = [
    "ENTRY_DAY",
    "ENTRY_FILL",
    "ENTRY_LIQUIDATE",
    "ENTRY_ORDER",
    "ENTRY_PEAK",
    "ENTRY_REJECTED",
    "ENTRY_TRIP",
    "MONITOR",
    "STOP_LOG_FULL",
    "STOP_OPEN_ORDER",
    "STOP_REASONS",
    "Books",
    "EntryLog",
    "Events",
    "Limits",
    "Slots",
    "Venues",
    "replay_bars",
]

ENTRY_DAY = 0
"""A trading-day boundary seen at a bar (``key``; ``price`` the close; equity before the mark)."""
ENTRY_PEAK = 1
"""A new equity peak since the last entry (``ts`` of the peak; ``price`` the peak)."""
ENTRY_ORDER = 2
"""A market order (``slot``, ``side``, ``key``, ``reason``, ``quantity``; ``price`` the close
it was decided at); the snapshot is from before it."""
ENTRY_FILL = 3
"""A complete fill of order number ``order`` (``quantity``, ``price``, ``fee``); the snapshot
is from after it."""
ENTRY_TRIP = 4
"""The drawdown limit reached: the engine goes ``REDUCING`` (``key``, ``price`` the close;
``reason`` 1 when a market event tripped it, 0 when the fill just logged did)."""
ENTRY_LIQUIDATE = 5
"""A liquidation order (``slot``, ``side``, ``key``, ``quantity``: the slot's whole position),
market and reduce-only; the snapshot is from before it."""
ENTRY_REJECTED = 6
"""A strategy's order that the engine's ``REDUCING`` gate refuses (fields as an ORDER entry):
numbered, never sent."""

STOP_REASONS = (
    "",
    "the market price of a bar cannot trade",
    "a fill limited by the bar's volume",
    "a fill the venue account cannot carry",
    "an order the venue would reject for the account's balance",
    "an order still open when its strategy saw the next bar",
    "a position left short of its target",
    "the drawdown limit with orders open, fills at the close or two books on one market",
    "the daily loss limit",
    "an entry log too small for the run",
    "an order that reduces a position while liquidating",
)
"""Why the kernel stopped, by status code (0: it ran to the end)."""
(STOP_NOT_MARKETABLE, STOP_VOLUME, STOP_UNAFFORDABLE, STOP_VENUE_REJECT, STOP_OPEN_ORDER,
 STOP_SHORT_OF_TARGET, STOP_DRAWDOWN, STOP_DAILY_LOSS, STOP_LOG_FULL,
 STOP_REDUCING_ORDER) = range(1, len(STOP_REASONS))

MONITOR = np.dtype([
    ("cash", np.float64),
    ("peak", np.float64),
    ("day_start", np.float64),
    ("told_peak", np.float64),
    ("peak_ts", np.int64),
    ("next_boundary", np.int64),
    ("boundary", np.int64),
    ("entries", np.int64),
    ("reducing", np.int64),
])
"""The kernel's scalar state: the portfolio's cash, the engine's equity peak and day start, the
peak the log has told, when the peak was reached, the next trading-day boundary (and its
index), the entries written, whether the drawdown liquidation is in force (1)."""

_NEVER = -(1 << 62)
_LAST = 1 << 62

_i64 = cast("Callable[[int], int]", np.int64)
"""Integer constants passed to the helpers go through ``np.int64`` so that Numba types them
int64, not as literals: each literal value would compile the helper once more (cold start)."""


class Events(NamedTuple):
    """Every bar of the run, in timeline order (one event per bar of every feed)."""

    step_start: np.ndarray
    """int64 (steps + 1,): the events of step ``s`` are ``step_start[s]:step_start[s + 1]``."""
    feed: np.ndarray
    """int64: the feed of each event."""
    row: np.ndarray
    """int64: its row in that feed."""
    ts: np.ndarray
    """int64: its time, UTC ns."""
    open: np.ndarray
    close: np.ndarray
    volume: np.ndarray


class Books(NamedTuple):
    """How feeds map to the books: keys are (venue, instrument) pairs."""

    feed_key: np.ndarray
    """int64: the key of each feed."""
    key_instrument: np.ndarray
    """int64: index of each key's instrument (``n_instruments`` in all)."""
    key_venue: np.ndarray
    """int64: index of each key's venue."""
    key_asset: np.ndarray
    """int64: the key's base asset in its venue's account (indexes ``asset_venue``)."""
    asset_venue: np.ndarray
    """int64: the venue of each account asset."""
    n_instruments: int


class Venues(NamedTuple):
    """Each venue's :class:`~bot_core.BarFillModel`, one entry per venue."""

    taker_fee_rate: np.ndarray
    slippage_rate: np.ndarray
    volume_impact_bps: np.ndarray
    participation_rate: np.ndarray
    latency_ns: np.ndarray
    """int64."""
    fill_on_close: np.ndarray
    """bool."""
    margin: np.ndarray
    """bool."""
    max_leverage: np.ndarray
    cash: np.ndarray
    """The account's starting balance of its cash asset."""
    volume_cap: np.ndarray
    """bool."""


class Slots(NamedTuple):
    """The strategies trading each feed: one slot per (strategy, feed), per feed in the
    strategies' order."""

    feed_slot_start: np.ndarray
    """int64 (feeds + 1,): feed ``f`` is traded by slots ``feed_slots[feed_slot_start[f]:
    feed_slot_start[f + 1]]``."""
    feed_slots: np.ndarray
    key: np.ndarray
    """int64: the key each slot trades."""
    rule: np.ndarray
    """int64: the index of each slot's ``decide`` in the rules list."""
    signal: np.ndarray
    """float64: every slot's signal, flat: the row of slot ``j`` for its feed's row ``r`` is
    ``signal[signal_start[j] + r * signal_width[j]:][:signal_width[j]]``."""
    signal_start: np.ndarray
    signal_width: np.ndarray
    state: np.ndarray
    """float64: every slot's rule state, flat (``state[state_start[j]:state_start[j + 1]]``),
    updated in place."""
    state_start: np.ndarray
    params: np.ndarray
    """float64: every slot's rule parameters, flat (``params_start`` as ``state_start``)."""
    params_start: np.ndarray


class Limits(NamedTuple):
    """The engine's monitors."""

    initial_cash: float
    boundaries: np.ndarray
    """int64: the trading-day boundaries from the first event's day to past the last event."""
    drawdown_pct: float
    daily_loss_pct: float


class EntryLog(NamedTuple):
    """Every order, fill, day roll and new peak, in event order, with what the risk engine
    reads there (a snapshot per entry). Its capacity is the length of its columns."""

    kind: np.ndarray
    """int64: ``ENTRY_*``."""
    ts: np.ndarray
    slot: np.ndarray
    """int64: the slot of an order, or of a fill's order (-1 otherwise)."""
    order: np.ndarray
    """int64: the order's number, in order of the ORDER entries (-1 for day and peak entries)."""
    side: np.ndarray
    """int64: +1 buy, -1 sell."""
    key: np.ndarray
    reason: np.ndarray
    """int64: an order's reason code (its strategy's ``DecisionRule.reasons``)."""
    quantity: np.ndarray
    price: np.ndarray
    fee: np.ndarray
    equity: np.ndarray
    gross: np.ndarray
    peak: np.ndarray
    """The engine's equity peak at the entry."""
    day_start: np.ndarray
    """The engine's equity at the start of the entry's trading day."""
    key_position: np.ndarray
    """(entries, keys): net position per (venue, instrument)."""
    key_mark: np.ndarray
    key_ts: np.ndarray
    """int64 (entries, keys): when each key was last marked (0: never)."""
    instrument_position: np.ndarray
    """(entries, instruments): net position over all venues."""
    instrument_mark: np.ndarray
    """The last mark on any venue (0: never)."""
    instrument_ts: np.ndarray

    @classmethod
    def allocate(cls, capacity: int, keys: int, instruments: int) -> EntryLog:
        whole = ("kind", "ts", "slot", "order", "side", "key", "reason", "key_ts",
                 "instrument_ts")
        shapes = {"key_position": keys, "key_mark": keys, "key_ts": keys,
                  "instrument_position": instruments, "instrument_mark": instruments,
                  "instrument_ts": instruments}
        columns = {name: np.empty((capacity, shapes[name]) if name in shapes else capacity,
                                  dtype=np.int64 if name in whole else np.float64)
                   for name in cls._fields}
        return cls(**columns)

    def head(self, n: int) -> EntryLog:
        """The first ``n`` entries."""
        return EntryLog(*(column[:n] for column in self))


class _Account(NamedTuple):
    """The venues' state: cash and asset balances, marks, clocks, bar lengths, volume used."""

    quote: np.ndarray
    clock: np.ndarray
    base: np.ndarray
    base_mark: np.ndarray
    last_ts: np.ndarray
    interval: np.ndarray
    used_ts: np.ndarray
    used: np.ndarray


class _Portfolio(NamedTuple):
    """The portfolio: net position, mark and mark time per key and per instrument; each slot's
    position and target; each slot's order in flight."""

    key_net: np.ndarray
    key_mark: np.ndarray
    key_ts: np.ndarray
    instrument_net: np.ndarray
    instrument_mark: np.ndarray
    instrument_ts: np.ndarray
    held: np.ndarray
    target: np.ndarray
    order: np.ndarray
    """int64: the number of each slot's order in flight (-1: none)."""
    order_side: np.ndarray
    order_qty: np.ndarray
    order_eligible: np.ndarray
    fifo: np.ndarray
    """int64: the slots with an order in flight, in arrival order (``fifo_size``)."""
    fifo_size: np.ndarray
    """int64 (1,)."""
    liquidating: np.ndarray
    """bool: the slot's order in flight is a liquidation."""
    last_side: np.ndarray
    """int64: each slot's ``TargetTracker``: the side of its last order sent (0: reset)..."""
    last_position: np.ndarray
    """... the position it was sent from (NaN: reset) ..."""
    retries: np.ndarray
    """int64: ... the re-sends of the same order so far ..."""
    wait: np.ndarray
    """int64: ... and the bars still to wait before the next."""
    value_order: np.ndarray
    """int64: the keys in the order of their first fill (``n_valued`` of them), the order in
    which the portfolio sums their values."""
    n_valued: np.ndarray
    """int64 (1,)."""


@njit(cache=True, nogil=True)
def _account_equity(venue: int, account: _Account, asset_venue: np.ndarray
                    ) -> tuple[float, float]:
    """(equity, gross exposure) of one venue's account: unmarked assets at face value."""
    equity = account.quote[venue]
    gross = 0.0
    for a in range(account.base.shape[0]):
        if asset_venue[a] == venue:
            m = account.base_mark[a]
            if m > 0.0:
                equity += account.base[a] * m
                gross += abs(account.base[a]) * m
            else:
                equity += account.base[a]
    return equity, gross


@njit(cache=True, nogil=True)
def _affordable(v: int, asset: int, side: int, quantity: float, price: float,
                venues: Venues, account: _Account, asset_venue: np.ndarray) -> float:
    """The paper account's buying power (``PaperAccount.affordable``: the rule
    :func:`bot_core.rules.affordable_quantity`, with the asset marked at ``price`` when the
    rule reads the account's value)."""
    held = account.base[asset]
    margin = venues.margin[v]
    equity = gross = 0.0
    if rules.needs_account_value(side, quantity, price, margin, held):
        account.base_mark[asset] = price
        equity, gross = _account_equity(v, account, asset_venue)
    return rules.affordable_quantity(side, quantity, price, venues.taker_fee_rate[v], margin,
                                     venues.max_leverage[v], account.quote[v], held, equity,
                                     gross)


@njit(cache=True, nogil=True)
def _equity(cash: float, book: Any) -> tuple[float, float]:
    """The portfolio's (equity, gross exposure) from its cash, net positions and marks, summed
    as ``Portfolio.equity`` sums them (:func:`bot_core.rules.add_value`)."""
    market = gross = 0.0
    for n in range(book.n_valued[0]):
        k = book.value_order[n]
        market, gross = rules.add_value(market, gross, book.key_net[k] * book.key_mark[k])
    return cash + market, gross


@njit(cache=True, nogil=True)
def _record(kind: int, ts: int, slot: int, order: int, side: int, key: int, reason: int,
            quantity: float, price: float, fee: float, equity: float, gross: float,
            book: _Portfolio, monitor: Any, log: EntryLog) -> None:
    """Append one entry and the snapshot the risk engine reads at it (past the log's end:
    only counted, and the kernel stops with ``STOP_LOG_FULL`` at the end of the step)."""
    n = monitor.entries
    monitor.entries = n + 1
    if n >= log.kind.shape[0]:
        return
    log.kind[n] = kind
    log.ts[n] = ts
    log.slot[n] = slot
    log.order[n] = order
    log.side[n] = side
    log.key[n] = key
    log.reason[n] = reason
    log.quantity[n] = quantity
    log.price[n] = price
    log.fee[n] = fee
    log.equity[n] = equity
    log.gross[n] = gross
    log.peak[n] = monitor.peak
    log.day_start[n] = monitor.day_start
    for k in range(book.key_net.shape[0]):  # loops: a row copy costs more for a few values
        log.key_position[n, k] = book.key_net[k]
        log.key_mark[n, k] = book.key_mark[k]
        log.key_ts[n, k] = book.key_ts[k]
    for i in range(book.instrument_net.shape[0]):
        log.instrument_position[n, i] = book.instrument_net[i]
        log.instrument_mark[n, i] = book.instrument_mark[i]
        log.instrument_ts[n, i] = book.instrument_ts[i]


@njit(cache=True, nogil=True)
def _tell_peak(book: _Portfolio, monitor: Any, log: EntryLog) -> None:
    """Before an entry the engine judges by, a PEAK entry if equity rose above what the
    engine has seen (its peak is the highest equity it watched, fills and marks alike)."""
    if monitor.peak > monitor.told_peak:
        none = _i64(-1)
        _record(_i64(ENTRY_PEAK), monitor.peak_ts, none, none, _i64(0), none, _i64(0), 0.0,
                monitor.peak, 0.0, monitor.peak, 0.0, book, monitor, log)
        monitor.told_peak = monitor.peak


@njit(cache=True, nogil=True)
def _watch(equity: float, ts: int, monitor: Any, limits: Limits) -> int:
    """The engine's ``_watch_equity``: new peak, then ``STOP_DRAWDOWN`` or ``STOP_DAILY_LOSS``
    for a limit hit (:func:`bot_core.rules.limit_reached`), else 0 (always 0 once
    liquidating)."""
    if equity > monitor.peak:
        monitor.peak = equity
        monitor.peak_ts = ts
    if monitor.reducing:  # REDUCING until cleared: a daily halt does not change the state
        return 0
    if rules.limit_reached(monitor.peak, equity, limits.drawdown_pct):
        return STOP_DRAWDOWN
    if rules.limit_reached(monitor.day_start, equity, limits.daily_loss_pct):
        return STOP_DAILY_LOSS
    return 0


@njit(cache=True, nogil=True)
def _roll_day(ts: int, equity: float, monitor: Any, limits: Limits) -> bool:
    """The engine's day roll (:func:`bot_core.rules.day_rolls`): the day starts at
    ``equity``. Returns whether it rolled."""
    if not rules.day_rolls(ts, monitor.next_boundary):
        return False
    b = monitor.boundary
    boundaries = limits.boundaries
    while b < boundaries.shape[0] and boundaries[b] <= ts:
        b += 1
    monitor.boundary = b
    monitor.next_boundary = boundaries[b] if b < boundaries.shape[0] else _LAST
    monitor.day_start = equity
    return True


@njit(cache=True, nogil=True)
def _match(j: int, k: int, v: int, asset: int, ts: int, market: float, volume: float,
           venues: Venues, books: Books, account: _Account, book: _Portfolio,
           monitor: Any) -> tuple[int, float, float]:
    """Fill slot ``j``'s order in flight completely at ``market`` (bar open, or close with
    ``fill_on_close``) as the paper venue does, and book it into the portfolio. Returns
    ``(status, price, fee)``; a non-zero status changes nothing."""
    side = book.order_side[j]
    qty = book.order_qty[j]
    if not rules.tradable_price(market):
        return STOP_NOT_MARKETABLE, 0.0, 0.0
    price = rules.slipped_price(market, side, venues.slippage_rate[v])
    if venues.volume_cap[v]:  # participation_rate x the bar's volume
        used = account.used[k] if account.used_ts[k] == ts else 0.0
        if rules.volume_room(volume, venues.participation_rate[v], used) < qty:
            return STOP_VOLUME, 0.0, 0.0
    price = rules.impact_price(price, side, venues.volume_impact_bps[v], qty, volume)
    if _affordable(v, asset, side, qty, price, venues, account, books.asset_venue) \
            < qty - rules.BALANCE_EPSILON:
        return STOP_UNAFFORDABLE, 0.0, 0.0
    # the venue's account (PaperAccount.apply_fill)
    fee = rules.fill_fee(qty, price, venues.taker_fee_rate[v])
    account.base[asset], account.quote[v] = rules.account_after_fill(
        account.base[asset], account.quote[v], side, qty, price, fee)
    if account.used_ts[k] == ts:
        account.used[k] += qty
    else:
        account.used_ts[k] = ts
        account.used[k] = qty
    # the portfolio (Portfolio.apply_fill; average prices are the trade book's, from the fills)
    signed = side * qty
    old = book.held[j]
    new = rules.position_after_fill(old, signed, qty)
    book.held[j] = new
    monitor.cash += rules.cash_flow(signed, price, fee)
    book.key_net[k] = rules.net_after_fill(book.key_net[k], new - old, qty)
    if book.n_valued[0] < book.value_order.shape[0]:  # the key's first fill: valued from now
        first = True
        for n in range(book.n_valued[0]):
            if book.value_order[n] == k:
                first = False
        if first:
            book.value_order[book.n_valued[0]] = k
            book.n_valued[0] += 1
    i = books.key_instrument[k]
    book.instrument_net[i] = rules.net_after_fill(book.instrument_net[i], new - old, qty)
    return 0, price, fee


@njit(cache=True, nogil=True)
def _filled(j: int, k: int, ts: int, price: float, fee: float, book: _Portfolio,
            monitor: Any, limits: Limits, log: EntryLog) -> int:
    """After :func:`_match` booked slot ``j``'s order: what the engine's ``on_fill`` does (day
    roll after booking, equity watch), the FILL entry, and whether the strategy now holds its
    target. Returns 0 or a stop code."""
    equity, gross = _equity(monitor.cash, book)
    _roll_day(ts, equity, monitor, limits)
    _record(_i64(ENTRY_FILL), ts, j, book.order[j], book.order_side[j], k, _i64(0),
            book.order_qty[j], price, fee, equity, gross, book, monitor, log)
    monitor.told_peak = max(monitor.told_peak, equity)  # the engine watches it in on_fill
    book.order[j] = -1
    status = _watch(equity, ts, monitor, limits)
    if status != 0:
        return status
    if book.liquidating[j]:  # closes the position: no target to reach
        book.liquidating[j] = False
        return 0
    return 0 if rules.settled(book.target[j], book.held[j]) else STOP_SHORT_OF_TARGET


@njit(cache=True, nogil=True)
def _trip(ts: int, k: int, price: float, by_market: int, venues: Venues, slots: Slots,
          book: _Portfolio, monitor: Any, log: EntryLog) -> int:
    """The drawdown limit reached at ``ts``: the engine goes ``REDUCING`` (a TRIP entry), or
    ``STOP_DRAWDOWN`` where the kernel's model of what follows is not the whole story: orders
    in flight (the pipeline cancels them), fills at the close, two books on one market."""
    if book.fifo_size[0] != 0:
        return STOP_DRAWDOWN
    for v in range(venues.fill_on_close.shape[0]):
        if venues.fill_on_close[v]:
            return STOP_DRAWDOWN
    for j in range(slots.key.shape[0]):
        if book.held[j] != 0.0:
            for other in range(j + 1, slots.key.shape[0]):
                if slots.key[other] == slots.key[j] and book.held[other] != 0.0:
                    return STOP_DRAWDOWN
    monitor.reducing = 1
    equity, gross = _equity(monitor.cash, book)
    _tell_peak(book, monitor, log)
    none = _i64(-1)
    _record(_i64(ENTRY_TRIP), ts, none, none, _i64(0), k, by_market, 0.0,
            price, 0.0, equity, gross, book, monitor, log)
    return 0


@njit(cache=True, nogil=True)
def _intake(j: int, k: int, v: int, asset: int, side: int, qty: float, price: float, ts: int,
            number: int, venues: Venues, books: Books, account: _Account,
            book: _Portfolio) -> bool:
    """The venue's intake of slot ``j``'s market order number ``number`` on key ``k``, priced
    at ``price`` (the market's last close): False (refused) when the account cannot pay for any
    of it, else in flight, eligible after the close of the market's last bar + latency."""
    if _affordable(v, asset, side, qty, price, venues, account, books.asset_venue) \
            <= rules.BALANCE_EPSILON:
        return False
    book.order[j] = number
    book.order_side[j] = side
    book.order_qty[j] = qty
    book.order_eligible[j] = rules.eligible_ns(max(account.clock[v], ts), account.last_ts[k],
                                               max(account.interval[k], 0),
                                               venues.latency_ns[v])
    return True


@njit(cache=True, nogil=True)
def _pending(k: int, side: int, book: _Portfolio, slots: Slots) -> float:
    """The quantity of the orders in flight on key ``k`` going ``side`` (the engine's
    committed orders at that venue)."""
    total = 0.0
    for q in range(book.fifo_size[0]):
        j = book.fifo[q]
        if slots.key[j] == k and book.order_side[j] == side:
            total += book.order_qty[j]
    return total


@njit(cache=True, nogil=True)
def replay_bars(events: Events, books: Books, venues: Venues, slots: Slots, limits: Limits,
                decide: Any, monitor_state: np.ndarray, equity_out: np.ndarray,
                in_market_out: np.ndarray, log: EntryLog,
                liquidation: bool | None = None) -> tuple[int, int, int]:
    """Replay every bar; return ``(status, entries, event)``.

    Left out (None, the default), ``liquidation`` compiles a kernel without the drawdown
    liquidation's model (Numba prunes the ``liquidation is not None`` branches), which stops at
    the trip (``STOP_DRAWDOWN``): most runs never trip, and the model's code would add seconds
    to every cold start. ``True`` compiles (once) and runs the kernel with it.

    :param decide: the strategies' compiled rules (a typed list of
        ``bot_core.kernels.DECIDE_TYPE``), indexed by ``slots.rule``.
    :param monitor_state: one zeroed record of :data:`MONITOR`.
    :param equity_out: (steps,) equity after each step; ``in_market_out`` whether any feed's
        key is held after it.
    :param log: where the entries go. Capacity: three entries per order and two per trading
        day, plus two; a log that is too small stops the kernel with ``STOP_LOG_FULL`` (the
        caller retries with a larger one).
    :return: status 0 and the number of entries, or the ``STOP_REASONS`` code, the entries so
        far and the event where it stopped.
    """
    n_keys = books.key_instrument.shape[0]
    n_slots = slots.key.shape[0]
    n_venues = venues.cash.shape[0]
    n_assets = books.asset_venue.shape[0]
    account = _Account(venues.cash.copy(), np.full(n_venues, _NEVER, np.int64),
                       np.zeros(n_assets), np.zeros(n_assets), np.full(n_keys, _NEVER, np.int64),
                       np.full(n_keys, -1, np.int64), np.full(n_keys, _NEVER, np.int64),
                       np.zeros(n_keys))
    book = _Portfolio(np.zeros(n_keys), np.zeros(n_keys), np.zeros(n_keys, np.int64),
                      np.zeros(books.n_instruments), np.zeros(books.n_instruments),
                      np.zeros(books.n_instruments, np.int64), np.zeros(n_slots),
                      np.zeros(n_slots), np.full(n_slots, -1, np.int64),
                      np.zeros(n_slots, np.int64), np.zeros(n_slots),
                      np.zeros(n_slots, np.int64), np.zeros(n_slots, np.int64),
                      np.zeros(1, np.int64), np.zeros(n_slots, np.bool_),
                      np.zeros(n_slots, np.int64), np.full(n_slots, np.nan),
                      np.zeros(n_slots, np.int64), np.zeros(n_slots, np.int64),
                      np.zeros(n_keys, np.int64), np.zeros(1, np.int64))
    monitor = monitor_state[0]
    monitor.cash = limits.initial_cash
    monitor.peak = limits.initial_cash
    monitor.day_start = limits.initial_cash
    monitor.told_peak = limits.initial_cash
    monitor.next_boundary = _NEVER
    orders = _i64(0)
    # the first four rules in locals (a typed list's item costs ~30 ns a call) and each bar's
    # signal row copied into one buffer (a fresh view of the flat signal costs more)
    last = len(decide) - 1
    rule0, rule1 = decide[0], decide[min(1, last)]
    rule2, rule3 = decide[min(2, last)], decide[min(3, last)]
    row_buffer = np.empty(max(slots.signal_width.max() if n_slots else 1, 1))
    # the first slot's views of it, of its state and of its parameters made once: a view made
    # per bar costs atomic reference counts, measured as 40 % of a quiet bar's time (a call
    # site per slot would add a second of compile time each, so the others make theirs)
    row0, state0, params0 = row_buffer, row_buffer, row_buffer
    if n_slots:
        row0 = row_buffer[:slots.signal_width[0]]
        state0 = slots.state[slots.state_start[0]:slots.state_start[1]]
        params0 = slots.params[slots.params_start[0]:slots.params_start[1]]

    for s in range(events.step_start.shape[0] - 1):
        for e in range(events.step_start[s], events.step_start[s + 1]):
            f = events.feed[e]
            k = books.feed_key[f]
            v = books.key_venue[k]
            asset = books.key_asset[k]
            ts = events.ts[e]
            close = events.close[e]
            volume = events.volume[e]
            # -- 1. the venue: bar length, account mark, the orders now eligible -------------
            if account.last_ts[k] != _NEVER and ts > account.last_ts[k]:
                gap = ts - account.last_ts[k]
                if account.interval[k] < 0 or gap < account.interval[k]:
                    account.interval[k] = gap
            account.last_ts[k] = ts
            if ts > account.clock[v]:
                account.clock[v] = ts
            if rules.tradable_price(close):
                account.base_mark[asset] = close
            q = 0
            while q < book.fifo_size[0]:
                j = book.fifo[q]
                if slots.key[j] != k or ts < book.order_eligible[j]:
                    q += 1
                    continue
                status, price, fee = _match(j, k, v, asset, ts, events.open[e], volume, venues,
                                            books, account, book, monitor)
                if status != 0:
                    return status, monitor.entries, e
                for r in range(q, book.fifo_size[0] - 1):
                    book.fifo[r] = book.fifo[r + 1]
                book.fifo_size[0] -= 1
                status = _filled(j, k, ts, price, fee, book, monitor, limits, log)
                if status == STOP_DRAWDOWN:  # noqa: SIM102 (Numba prunes a lone None test)
                    if liquidation is not None:
                        status = _trip(ts, k, price, _i64(0), venues, slots, book, monitor, log)
                if status != 0:
                    return status, monitor.entries, e
            # -- 2. the engine: day roll, portfolio mark, monitors ----------------------------
            equity, gross = _equity(monitor.cash, book)
            if rules.day_rolls(ts, monitor.next_boundary):
                _tell_peak(book, monitor, log)
                _roll_day(ts, equity, monitor, limits)
                _record(_i64(ENTRY_DAY), ts, _i64(-1), _i64(-1), _i64(0), k, _i64(0), 0.0,
                        close, 0.0, equity, gross, book, monitor, log)
            if rules.tradable_price(close):
                i = books.key_instrument[k]
                book.key_mark[k] = close
                book.key_ts[k] = ts
                book.instrument_mark[i] = close
                book.instrument_ts[i] = ts
                equity, gross = _equity(monitor.cash, book)
            status = _watch(equity, ts, monitor, limits)
            if status == STOP_DRAWDOWN:  # noqa: SIM102
                if liquidation is not None:
                    status = _trip(ts, k, close, _i64(1), venues, slots, book, monitor, log)
            if status != 0:
                return status, monitor.entries, e
            # -- the engine's liquidation orders (RiskEngine.liquidation_intents) -------------
            if liquidation is not None:  # noqa: SIM102
                if monitor.reducing:
                    for j in range(n_slots):
                        if book.held[j] == 0.0 or book.liquidating[j]:
                            continue
                        kj = slots.key[j]
                        vj = books.key_venue[kj]
                        side = _i64(-1) if book.held[j] > 0.0 else _i64(1)
                        qty = abs(book.held[j])
                        _tell_peak(book, monitor, log)
                        _record(_i64(ENTRY_LIQUIDATE), ts, j, orders, side, kj, _i64(0), qty,
                                close, 0.0, equity, gross, book, monitor, log)
                        if not _intake(j, kj, vj, books.key_asset[kj], side, qty,
                                       book.key_mark[kj], ts, orders, venues, books, account,
                                       book):
                            return STOP_VENUE_REJECT, monitor.entries, e
                        book.liquidating[j] = True
                        book.fifo[book.fifo_size[0]] = j
                        book.fifo_size[0] += 1
                        orders += 1
            # -- 3. the strategies trading this feed, in the config's order ------------------
            row = events.row[e]
            for p in range(slots.feed_slot_start[f], slots.feed_slot_start[f + 1]):
                j = slots.feed_slots[p]
                if book.order[j] >= 0 and not book.liquidating[j]:
                    return STOP_OPEN_ORDER, monitor.entries, e
                width = slots.signal_width[j]
                at = slots.signal_start[j] + row * width
                for c in range(width):
                    row_buffer[c] = slots.signal[at + c]
                r = slots.rule[j]
                rule = rule0 if r == 0 else rule1 if r == 1 else rule2 if r == 2 else \
                    rule3 if r == 3 else decide[r]
                held = book.held[j]
                if j == 0:
                    target, reason = rule(row0, close, held, equity, state0, params0)
                else:
                    target, reason = rule(
                        row_buffer[:width], close, held, equity,
                        slots.state[slots.state_start[j]:slots.state_start[j + 1]],
                        slots.params[slots.params_start[j]:slots.params_start[j + 1]])
                delta = target - held
                if delta - delta != 0.0 or rules.settled(target, held):  # NaN, inf
                    if book.last_side[j] != 0:  # TargetTracker.reset
                        book.last_side[j] = 0
                        book.last_position[j] = np.nan
                        book.retries[j] = 0
                        book.wait[j] = 0
                    continue
                side = _i64(1) if delta > 0.0 else _i64(-1)
                send, book.retries[j], book.wait[j] = rules.back_off(
                    side, held, book.last_side[j], book.last_position[j], book.retries[j],
                    book.wait[j])
                if not send:
                    continue
                book.last_side[j] = side
                book.last_position[j] = held
                qty = abs(delta)
                kind = _i64(ENTRY_ORDER)
                if liquidation is not None:  # noqa: SIM102
                    if monitor.reducing:  # the engine's state gate, open orders included
                        at_venue = book.key_net[k] + side * _pending(k, side, book, slots)
                        if rules.reducing_quantity(at_venue, side, qty) > rules.QTY_EPSILON:
                            return STOP_REDUCING_ORDER, monitor.entries, e
                        kind = _i64(ENTRY_REJECTED)
                _tell_peak(book, monitor, log)
                _record(kind, ts, j, orders, side, k, reason, qty, close, 0.0, equity, gross,
                        book, monitor, log)
                if kind == ENTRY_REJECTED:  # refused: never sent
                    orders += 1
                    continue
                book.target[j] = target
                if not _intake(j, k, v, asset, side, qty, close, ts, orders, venues, books,
                               account, book):
                    return STOP_VENUE_REJECT, monitor.entries, e
                orders += 1
                if not venues.fill_on_close[v]:
                    book.fifo[book.fifo_size[0]] = j
                    book.fifo_size[0] += 1
                    continue
                # fill_on_close: matched at once at this bar's close
                status, price, fee = _match(j, k, v, asset, ts, close, volume, venues, books,
                                            account, book, monitor)
                if status == 0:
                    status = _filled(j, k, ts, price, fee, book, monitor, limits, log)
                if status != 0:
                    return status, monitor.entries, e
                equity, gross = _equity(monitor.cash, book)
        if monitor.entries > log.kind.shape[0]:
            return STOP_LOG_FULL, monitor.entries, events.step_start[s]
        equity, _ = _equity(monitor.cash, book)
        equity_out[s] = equity
        holding = False
        for f in range(books.feed_key.shape[0]):
            if book.key_net[books.feed_key[f]] != 0.0:
                holding = True
        in_market_out[s] = holding
    return 0, monitor.entries, -1
