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
:class:`Slots`, :class:`Limits`); its state is record arrays (:data:`VENUE`, :data:`ASSET`,
:data:`KEY`, :data:`SLOT`, :data:`MARKS` per instrument) and one record of :data:`MONITOR`; the
log it writes is three record arrays (:class:`EntryLog`). Records, not named tuples of arrays,
because every array a compiled helper takes costs an atomic reference count per call, which was
most of an order's time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, cast

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from bot_core.backtest.jit import rules
from bot_core.memory import run_array

__all__ = [
    "ENTRY",
    "ENTRY_DAY",
    "ENTRY_FILL",
    "ENTRY_LIQUIDATE",
    "ENTRY_ORDER",
    "ENTRY_PEAK",
    "ENTRY_REJECTED",
    "ENTRY_TRIP",
    "MARKS",
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
    ("fifo_size", np.int64),
    ("n_valued", np.int64),
])
"""The kernel's scalar state: the portfolio's cash, the engine's equity peak and day start, the
peak the log has told, when the peak was reached, the next trading-day boundary (and its
index), the entries written, whether the drawdown liquidation is in force (1), the orders in
flight, the keys valued so far (the portfolio sums their values in the order of their first
fill)."""

_NEVER = -(1 << 62)
_LAST = 1 << 62

_i64 = cast("Callable[[int], int]", np.int64)
"""Integer constants passed to the helpers go through ``np.int64`` so that Numba types them
int64, not as literals: each literal value would compile the helper once more (cold start)."""


@intrinsic
def _borrowed_view(typingctx: Any, array: Any) -> Any:
    """A view of ``array`` that takes no part in reference counting (no meminfo, no parent):
    Numba's reference counts are atomic instructions on every call, view and rule call that
    takes an array. Only for arrays a caller keeps alive while the view is used, never returned
    or handed to Python."""
    if not isinstance(array, types.Array):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        view = context.make_array(signature.args[0])(context, builder, value=args[0])
        view.meminfo = view.meminfo.type(None)  # a null pointer constant
        view.parent = view.parent.type(None)
        return view._getvalue()

    return array(array), codegen


_borrowed = cast("Callable[[Any], Any]", _borrowed_view)
"""How compiled code calls :func:`_borrowed_view` (as typed for mypy)."""


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

    @classmethod
    def of(cls, *columns: np.ndarray) -> Events:
        """Events from their columns (in field order) as read-only, C-contiguous views: the
        kernel is compiled for read-only columns, which is what pandas hands out, so a
        dataset's columns go in without a copy."""
        views = []
        for column in columns:
            view = np.ascontiguousarray(column).view()
            view.flags.writeable = False
            views.append(view)
        return cls(*views)


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


ENTRY = np.dtype([
    ("ts", np.int64),
    ("slot", np.int64),
    ("order", np.int64),
    ("side", np.int64),
    ("key", np.int64),
    ("reason", np.int64),
    ("quantity", np.float64),
    ("price", np.float64),
    ("fee", np.float64),
    ("equity", np.float64),
    ("gross", np.float64),
    ("peak", np.float64),
    ("day_start", np.float64),
])
"""One entry of the log (its kind, ``ENTRY_*``, is in :attr:`EntryLog.kind`): ``slot`` the
slot of an order or of a fill's order (-1 otherwise); ``order`` the order's number, in order of
the ORDER entries (-1 for day and peak entries); ``side`` +1 buy, -1 sell; ``reason`` an order's
reason code (its strategy's ``DecisionRule.reasons``); ``equity``, ``gross``, ``peak`` (the
engine's equity peak) and ``day_start`` (the equity at the start of the entry's trading day) as
the engine reads them."""

MARKS = np.dtype([("position", np.float64), ("mark", np.float64), ("ts", np.int64)], align=True)
"""A net position, its last mark (0: never) and when it was marked (0: never), per key or per
instrument."""


class EntryLog(NamedTuple):
    """Every order, fill, day roll and new peak, in event order, with what the risk engine
    reads there (a snapshot per entry). Its capacity is the length of its arrays.

    Record arrays, so that the kernel's helpers take a few references, not one per column
    (each is an atomic reference count per call); the columns are views of them, but for the
    kind, which every pass of the judge reads: a column of its own, contiguous."""

    entries: np.ndarray
    """(entries,) of :data:`ENTRY`."""
    keys: np.ndarray
    """(entries, keys) of :data:`MARKS`: per (venue, instrument)."""
    instruments: np.ndarray
    """(entries, instruments) of :data:`MARKS`: net over all venues, the last mark on any
    venue."""
    kind: np.ndarray
    """(entries,) int64: ``ENTRY_*``."""

    @classmethod
    def allocate(cls, capacity: int, keys: int, instruments: int) -> EntryLog:
        return cls(run_array(capacity, ENTRY), run_array((capacity, keys), MARKS),
                   run_array((capacity, instruments), MARKS), run_array(capacity, np.int64))

    def head(self, n: int) -> EntryLog:
        """The first ``n`` entries."""
        return EntryLog(self.entries[:n], self.keys[:n], self.instruments[:n], self.kind[:n])

    @property
    def ts(self) -> np.ndarray:
        return self.entries["ts"]

    @property
    def slot(self) -> np.ndarray:
        return self.entries["slot"]

    @property
    def order(self) -> np.ndarray:
        return self.entries["order"]

    @property
    def side(self) -> np.ndarray:
        return self.entries["side"]

    @property
    def key(self) -> np.ndarray:
        return self.entries["key"]

    @property
    def reason(self) -> np.ndarray:
        return self.entries["reason"]

    @property
    def quantity(self) -> np.ndarray:
        return self.entries["quantity"]

    @property
    def price(self) -> np.ndarray:
        return self.entries["price"]

    @property
    def fee(self) -> np.ndarray:
        return self.entries["fee"]

    @property
    def equity(self) -> np.ndarray:
        return self.entries["equity"]

    @property
    def gross(self) -> np.ndarray:
        return self.entries["gross"]

    @property
    def peak(self) -> np.ndarray:
        return self.entries["peak"]

    @property
    def day_start(self) -> np.ndarray:
        return self.entries["day_start"]

    @property
    def key_position(self) -> np.ndarray:
        return self.keys["position"]

    @property
    def key_mark(self) -> np.ndarray:
        return self.keys["mark"]

    @property
    def key_ts(self) -> np.ndarray:
        return self.keys["ts"]

    @property
    def instrument_position(self) -> np.ndarray:
        return self.instruments["position"]

    @property
    def instrument_mark(self) -> np.ndarray:
        return self.instruments["mark"]

    @property
    def instrument_ts(self) -> np.ndarray:
        return self.instruments["ts"]


# The kernel's state: one record array per kind of thing, so that a helper call costs one
# reference count per array it takes, not one per column (measured: a helper taking a named
# tuple of 20 arrays costs ~50 ns a call in reference counts, a record ~15 ns).

VENUE = np.dtype([
    ("quote", np.float64),
    ("clock", np.int64),
    ("taker_fee_rate", np.float64),
    ("slippage_rate", np.float64),
    ("volume_impact_bps", np.float64),
    ("participation_rate", np.float64),
    ("latency_ns", np.int64),
    ("max_leverage", np.float64),
    ("fill_on_close", np.bool_),
    ("margin", np.bool_),
    ("volume_cap", np.bool_),
], align=True)
"""A venue: its account's cash (``quote``) and clock, and its :class:`Venues` fill model."""

ASSET = np.dtype([("base", np.float64), ("base_mark", np.float64), ("venue", np.int64)],
                 align=True)
"""A venue account's base asset: its balance, its mark (0: never) and its venue."""

KEY = np.dtype([
    ("net", np.float64),
    ("mark", np.float64),
    ("ts", np.int64),
    ("last_ts", np.int64),
    ("interval", np.int64),
    ("used_ts", np.int64),
    ("used", np.float64),
    ("instrument", np.int64),
    ("venue", np.int64),
    ("asset", np.int64),
], align=True)
"""A (venue, instrument) key: the portfolio's net position, mark and mark time; the venue's last
bar time, bar length (-1: unknown) and volume used at ``used_ts``; where the key belongs."""

SLOT = np.dtype([
    ("held", np.float64),
    ("target", np.float64),
    ("order", np.int64),
    ("side", np.int64),
    ("qty", np.float64),
    ("eligible", np.int64),
    ("last_side", np.int64),
    ("last_position", np.float64),
    ("retries", np.int64),
    ("wait", np.int64),
    ("key", np.int64),
    ("liquidating", np.bool_),
], align=True)
"""A slot: its position and target; its order in flight (``order`` its number, -1: none; side,
quantity, when it becomes eligible; ``liquidating``: it is a liquidation); its
``TargetTracker`` (the side of the last order sent, 0: reset; the position it was sent from,
NaN: reset; the re-sends of the same order so far; the bars still to wait); its key."""


@njit(cache=True, nogil=True)
def _state(venues: Venues, books: Books, slot_key: np.ndarray) -> tuple[Any, Any, Any, Any, Any]:
    """Fresh ``(venue, asset, key, instrument, slot)`` records of a run."""
    venue = np.zeros(venues.cash.shape[0], dtype=VENUE)
    for v in range(venue.shape[0]):
        venue[v].quote = venues.cash[v]
        venue[v].clock = _NEVER
        venue[v].taker_fee_rate = venues.taker_fee_rate[v]
        venue[v].slippage_rate = venues.slippage_rate[v]
        venue[v].volume_impact_bps = venues.volume_impact_bps[v]
        venue[v].participation_rate = venues.participation_rate[v]
        venue[v].latency_ns = venues.latency_ns[v]
        venue[v].max_leverage = venues.max_leverage[v]
        venue[v].fill_on_close = venues.fill_on_close[v]
        venue[v].margin = venues.margin[v]
        venue[v].volume_cap = venues.volume_cap[v]
    asset = np.zeros(books.asset_venue.shape[0], dtype=ASSET)
    for a in range(asset.shape[0]):
        asset[a].venue = books.asset_venue[a]
    key = np.zeros(books.key_instrument.shape[0], dtype=KEY)
    for k in range(key.shape[0]):
        key[k].last_ts = _NEVER
        key[k].interval = -1
        key[k].used_ts = _NEVER
        key[k].instrument = books.key_instrument[k]
        key[k].venue = books.key_venue[k]
        key[k].asset = books.key_asset[k]
    instrument = np.zeros(books.n_instruments, dtype=MARKS)
    slot = np.zeros(slot_key.shape[0], dtype=SLOT)
    for j in range(slot.shape[0]):
        slot[j].order = -1
        slot[j].last_position = np.nan
        slot[j].key = slot_key[j]
    return venue, asset, key, instrument, slot


@njit(cache=True, nogil=True)
def _account_equity(v: int, quote: float, asset: np.ndarray) -> tuple[float, float]:
    """(equity, gross exposure) of venue ``v``'s account: unmarked assets at face value."""
    equity = quote
    gross = 0.0
    for a in range(asset.shape[0]):
        if asset[a].venue == v:
            m = asset[a].base_mark
            if m > 0.0:
                equity += asset[a].base * m
                gross += abs(asset[a].base) * m
            else:
                equity += asset[a].base
    return equity, gross


@njit(cache=True, nogil=True)
def _affordable(v: int, a: int, side: int, quantity: float, price: float, venue: np.ndarray,
                asset: np.ndarray) -> float:
    """The paper account's buying power (``PaperAccount.affordable``: the rule
    :func:`bot_core.rules.affordable_quantity`, with the asset marked at ``price`` when the
    rule reads the account's value)."""
    vr = venue[v]
    held = asset[a].base
    equity = gross = 0.0
    if rules.needs_account_value(side, quantity, price, vr.margin, held):
        asset[a].base_mark = price
        equity, gross = _account_equity(v, vr.quote, asset)
    return rules.affordable_quantity(side, quantity, price, vr.taker_fee_rate, vr.margin,
                                     vr.max_leverage, vr.quote, held, equity, gross)


@njit(cache=True, nogil=True)
def _equity(cash: float, key: np.ndarray, value_order: np.ndarray, n_valued: int
            ) -> tuple[float, float]:
    """The portfolio's (equity, gross exposure) from its cash, net positions and marks, summed
    as ``Portfolio.equity`` sums them (:func:`bot_core.rules.add_value`)."""
    market = gross = 0.0
    for n in range(n_valued):
        kr = key[value_order[n]]
        market, gross = rules.add_value(market, gross, kr.net * kr.mark)
    return cash + market, gross


@njit(cache=True, nogil=True)
def _record(kind: int, ts: int, slot: int, order: int, side: int, k: int, reason: int,
            quantity: float, price: float, fee: float, equity: float, gross: float,
            key: np.ndarray, instrument: np.ndarray, monitor: Any, log: EntryLog) -> None:
    """Append one entry and the snapshot the risk engine reads at it (past the log's end:
    only counted, and the kernel stops with ``STOP_LOG_FULL`` at the end of the step)."""
    n = monitor.entries
    monitor.entries = n + 1
    if n >= log.entries.shape[0]:
        return
    log.kind[n] = kind
    entry = log.entries[n]
    entry.ts = ts
    entry.slot = slot
    entry.order = order
    entry.side = side
    entry.key = k
    entry.reason = reason
    entry.quantity = quantity
    entry.price = price
    entry.fee = fee
    entry.equity = equity
    entry.gross = gross
    entry.peak = monitor.peak
    entry.day_start = monitor.day_start
    keys = log.keys
    for c in range(key.shape[0]):
        keys[n, c].position = key[c].net
        keys[n, c].mark = key[c].mark
        keys[n, c].ts = key[c].ts
    instruments = log.instruments
    for i in range(instrument.shape[0]):
        instruments[n, i].position = instrument[i].position
        instruments[n, i].mark = instrument[i].mark
        instruments[n, i].ts = instrument[i].ts


@njit(cache=True, nogil=True)
def _tell_peak(key: np.ndarray, instrument: np.ndarray, monitor: Any, log: EntryLog) -> None:
    """Before an entry the engine judges by, a PEAK entry if equity rose above what the
    engine has seen (its peak is the highest equity it watched, fills and marks alike)."""
    if monitor.peak > monitor.told_peak:
        none = _i64(-1)
        _record(_i64(ENTRY_PEAK), monitor.peak_ts, none, none, _i64(0), none, _i64(0), 0.0,
                monitor.peak, 0.0, monitor.peak, 0.0, key, instrument, monitor, log)
        monitor.told_peak = monitor.peak


@njit(cache=True, nogil=True)
def _watch(equity: float, ts: int, monitor: Any, drawdown_pct: float, daily_loss_pct: float
           ) -> int:
    """The engine's ``_watch_equity``: new peak, then ``STOP_DRAWDOWN`` or ``STOP_DAILY_LOSS``
    for a limit hit (:func:`bot_core.rules.limit_reached`), else 0 (always 0 once
    liquidating)."""
    if equity > monitor.peak:
        monitor.peak = equity
        monitor.peak_ts = ts
    if monitor.reducing:  # REDUCING until cleared: a daily halt does not change the state
        return 0
    if rules.limit_reached(monitor.peak, equity, drawdown_pct):
        return STOP_DRAWDOWN
    if rules.limit_reached(monitor.day_start, equity, daily_loss_pct):
        return STOP_DAILY_LOSS
    return 0


@njit(cache=True, nogil=True)
def _roll_day(ts: int, equity: float, monitor: Any, boundaries: np.ndarray) -> bool:
    """The engine's day roll (:func:`bot_core.rules.day_rolls`): the day starts at
    ``equity``. Returns whether it rolled."""
    if not rules.day_rolls(ts, monitor.next_boundary):
        return False
    b = monitor.boundary
    while b < boundaries.shape[0] and boundaries[b] <= ts:
        b += 1
    monitor.boundary = b
    monitor.next_boundary = boundaries[b] if b < boundaries.shape[0] else _LAST
    monitor.day_start = equity
    return True


@njit(cache=True, nogil=True)
def _match(j: int, k: int, ts: int, market: float, volume: float, venue: np.ndarray,
           asset: np.ndarray, key: np.ndarray, instrument: np.ndarray, slot: np.ndarray,
           value_order: np.ndarray, monitor: Any) -> tuple[int, float, float]:
    """Fill slot ``j``'s order in flight completely at ``market`` (bar open, or close with
    ``fill_on_close``) on key ``k`` as the paper venue does, and book it into the portfolio.
    Returns ``(status, price, fee)``; a non-zero status changes nothing."""
    sj = slot[j]
    kr = key[k]
    v = kr.venue
    a = kr.asset
    vr = venue[v]
    side = sj.side
    qty = sj.qty
    if not rules.tradable_price(market):
        return STOP_NOT_MARKETABLE, 0.0, 0.0
    price = rules.slipped_price(market, side, vr.slippage_rate)
    if vr.volume_cap:  # participation_rate x the bar's volume
        used = kr.used if kr.used_ts == ts else 0.0
        if rules.volume_room(volume, vr.participation_rate, used) < qty:
            return STOP_VOLUME, 0.0, 0.0
    price = rules.impact_price(price, side, vr.volume_impact_bps, qty, volume)
    if _affordable(v, a, side, qty, price, venue, asset) < qty - rules.BALANCE_EPSILON:
        return STOP_UNAFFORDABLE, 0.0, 0.0
    # the venue's account (PaperAccount.apply_fill)
    fee = rules.fill_fee(qty, price, vr.taker_fee_rate)
    ar = asset[a]
    ar.base, vr.quote = rules.account_after_fill(ar.base, vr.quote, side, qty, price, fee)
    if kr.used_ts == ts:
        kr.used += qty
    else:
        kr.used_ts = ts
        kr.used = qty
    # the portfolio (Portfolio.apply_fill; average prices are the trade book's, from the fills)
    signed = side * qty
    old = sj.held
    new = rules.position_after_fill(old, signed, qty)
    sj.held = new
    monitor.cash += rules.cash_flow(signed, price, fee)
    kr.net = rules.net_after_fill(kr.net, new - old, qty)
    if monitor.n_valued < value_order.shape[0]:  # the key's first fill: valued from now
        first = True
        for n in range(monitor.n_valued):
            if value_order[n] == k:
                first = False
        if first:
            value_order[monitor.n_valued] = k
            monitor.n_valued += 1
    ir = instrument[kr.instrument]
    ir.position = rules.net_after_fill(ir.position, new - old, qty)
    return 0, price, fee


@njit(cache=True, nogil=True)
def _filled(j: int, k: int, ts: int, price: float, fee: float, key: np.ndarray,
            instrument: np.ndarray, slot: np.ndarray, value_order: np.ndarray, monitor: Any,
            boundaries: np.ndarray, drawdown_pct: float, daily_loss_pct: float, log: EntryLog
            ) -> int:
    """After :func:`_match` booked slot ``j``'s order: what the engine's ``on_fill`` does (day
    roll after booking, equity watch), the FILL entry, and whether the strategy now holds its
    target. Returns 0 or a stop code."""
    sj = slot[j]
    equity, gross = _equity(monitor.cash, key, value_order, monitor.n_valued)
    _roll_day(ts, equity, monitor, boundaries)
    _record(_i64(ENTRY_FILL), ts, j, sj.order, sj.side, k, _i64(0), sj.qty, price, fee, equity,
            gross, key, instrument, monitor, log)
    monitor.told_peak = max(monitor.told_peak, equity)  # the engine watches it in on_fill
    sj.order = -1
    status = _watch(equity, ts, monitor, drawdown_pct, daily_loss_pct)
    if status != 0:
        return status
    if sj.liquidating:  # closes the position: no target to reach
        sj.liquidating = False
        return 0
    return 0 if rules.settled(sj.target, sj.held) else STOP_SHORT_OF_TARGET


@njit(cache=True, nogil=True)
def _trip(ts: int, k: int, price: float, by_market: int, venue: np.ndarray, key: np.ndarray,
          instrument: np.ndarray, slot: np.ndarray, value_order: np.ndarray, monitor: Any,
          log: EntryLog) -> int:
    """The drawdown limit reached at ``ts``: the engine goes ``REDUCING`` (a TRIP entry), or
    ``STOP_DRAWDOWN`` where the kernel's model of what follows is not the whole story: orders
    in flight (the pipeline cancels them), fills at the close, two books on one market."""
    if monitor.fifo_size != 0:
        return STOP_DRAWDOWN
    for v in range(venue.shape[0]):
        if venue[v].fill_on_close:
            return STOP_DRAWDOWN
    for j in range(slot.shape[0]):
        if slot[j].held != 0.0:
            for other in range(j + 1, slot.shape[0]):
                if slot[other].key == slot[j].key and slot[other].held != 0.0:
                    return STOP_DRAWDOWN
    monitor.reducing = 1
    equity, gross = _equity(monitor.cash, key, value_order, monitor.n_valued)
    _tell_peak(key, instrument, monitor, log)
    none = _i64(-1)
    _record(_i64(ENTRY_TRIP), ts, none, none, _i64(0), k, by_market, 0.0,
            price, 0.0, equity, gross, key, instrument, monitor, log)
    return 0


@njit(cache=True, nogil=True)
def _intake(j: int, k: int, side: int, qty: float, price: float, ts: int, number: int,
            venue: np.ndarray, asset: np.ndarray, key: np.ndarray, slot: np.ndarray) -> bool:
    """The venue's intake of slot ``j``'s market order number ``number`` on key ``k``, priced
    at ``price`` (the market's last close): False (refused) when the account cannot pay for any
    of it, else in flight, eligible after the close of the market's last bar + latency."""
    kr = key[k]
    v = kr.venue
    if _affordable(v, kr.asset, side, qty, price, venue, asset) <= rules.BALANCE_EPSILON:
        return False
    sj = slot[j]
    sj.order = number
    sj.side = side
    sj.qty = qty
    sj.eligible = rules.eligible_ns(max(venue[v].clock, ts), kr.last_ts, max(kr.interval, 0),
                                    venue[v].latency_ns)
    return True


@njit(cache=True, nogil=True)
def _pending(k: int, side: int, slot: np.ndarray, fifo: np.ndarray, fifo_size: int) -> float:
    """The quantity of the orders in flight on key ``k`` going ``side`` (the engine's
    committed orders at that venue)."""
    total = 0.0
    for q in range(fifo_size):
        sj = slot[fifo[q]]
        if sj.key == k and sj.side == side:
            total += sj.qty
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
    n_slots = slots.key.shape[0]
    venue, asset, key, instrument, slot = _state(venues, books, slots.key)
    fifo = np.zeros(n_slots, np.int64)
    value_order = np.zeros(key.shape[0], np.int64)
    # this frame owns the state for the whole replay: _replay works on borrowed views
    return _replay(events, books, slots, limits, decide, monitor_state, equity_out,
                   in_market_out, log, venue, asset, key, instrument, slot, fifo, value_order,
                   liquidation)


@njit(cache=True, nogil=True)
def _replay(events: Events, books: Books, slots: Slots, limits: Limits, decide: Any,
            monitor_state: np.ndarray, equity_out: np.ndarray, in_market_out: np.ndarray,
            log: EntryLog, venue: np.ndarray, asset: np.ndarray, key: np.ndarray,
            instrument: np.ndarray, slot: np.ndarray, fifo: np.ndarray, value_order: np.ndarray,
            liquidation: bool | None) -> tuple[int, int, int]:
    """:func:`replay_bars`, on arrays its caller keeps alive: ``fifo`` the slots with an order
    in flight, in arrival order (``monitor.fifo_size``); ``value_order`` the keys in the order
    of their first fill (``monitor.n_valued``)."""
    # every array borrowed once here: a helper call, a view or a rule call then costs no
    # atomic reference count (they were half of a quiet bar's time and most of an order's)
    venue, asset, key = _borrowed(venue), _borrowed(asset), _borrowed(key)
    instrument, slot = _borrowed(instrument), _borrowed(slot)
    fifo, value_order = _borrowed(fifo), _borrowed(value_order)
    step_start, ev_feed, ev_row = (_borrowed(events.step_start), _borrowed(events.feed),
                                   _borrowed(events.row))
    ev_ts, ev_open, ev_close = _borrowed(events.ts), _borrowed(events.open), \
        _borrowed(events.close)
    ev_volume, feed_key = _borrowed(events.volume), _borrowed(books.feed_key)
    feed_slot_start, feed_slots = _borrowed(slots.feed_slot_start), _borrowed(slots.feed_slots)
    slot_rule, signal = _borrowed(slots.rule), _borrowed(slots.signal)
    signal_start, signal_width = _borrowed(slots.signal_start), _borrowed(slots.signal_width)
    state, state_start = _borrowed(slots.state), _borrowed(slots.state_start)
    params, params_start = _borrowed(slots.params), _borrowed(slots.params_start)
    boundaries = _borrowed(limits.boundaries)
    drawdown_pct, daily_loss_pct = limits.drawdown_pct, limits.daily_loss_pct
    log = EntryLog(_borrowed(log.entries), _borrowed(log.keys), _borrowed(log.instruments),
                   _borrowed(log.kind))
    equity_out, in_market_out = _borrowed(equity_out), _borrowed(in_market_out)
    n_slots = slot.shape[0]
    monitor = monitor_state[0]
    monitor.cash = limits.initial_cash
    monitor.peak = limits.initial_cash
    monitor.day_start = limits.initial_cash
    monitor.told_peak = limits.initial_cash
    monitor.next_boundary = _NEVER
    orders = _i64(0)
    # the first four rules in locals (a typed list's item costs ~30 ns a call)
    last = len(decide) - 1
    rule0, rule1 = decide[0], decide[min(1, last)]
    rule2, rule3 = decide[min(2, last)], decide[min(3, last)]

    for s in range(step_start.shape[0] - 1):
        for e in range(step_start[s], step_start[s + 1]):
            f = ev_feed[e]
            k = feed_key[f]
            kr = key[k]
            v = kr.venue
            vr = venue[v]
            ts = ev_ts[e]
            close = ev_close[e]
            volume = ev_volume[e]
            # -- 1. the venue: bar length, account mark, the orders now eligible -------------
            if kr.last_ts != _NEVER and ts > kr.last_ts:
                gap = ts - kr.last_ts
                if kr.interval < 0 or gap < kr.interval:
                    kr.interval = gap
            kr.last_ts = ts
            if ts > vr.clock:
                vr.clock = ts
            if rules.tradable_price(close):
                asset[kr.asset].base_mark = close
            q = 0
            while q < monitor.fifo_size:
                j = fifo[q]
                if slot[j].key != k or ts < slot[j].eligible:
                    q += 1
                    continue
                status, price, fee = _match(j, k, ts, ev_open[e], volume, venue, asset, key,
                                            instrument, slot, value_order, monitor)
                if status != 0:
                    return status, monitor.entries, e
                for r in range(q, monitor.fifo_size - 1):
                    fifo[r] = fifo[r + 1]
                monitor.fifo_size -= 1
                status = _filled(j, k, ts, price, fee, key, instrument, slot, value_order,
                                 monitor, boundaries, drawdown_pct, daily_loss_pct, log)
                if status == STOP_DRAWDOWN:  # noqa: SIM102 (Numba prunes a lone None test)
                    if liquidation is not None:
                        status = _trip(ts, k, price, _i64(0), venue, key, instrument, slot,
                                       value_order, monitor, log)
                if status != 0:
                    return status, monitor.entries, e
            # -- 2. the engine: day roll, portfolio mark, monitors ----------------------------
            equity, gross = _equity(monitor.cash, key, value_order, monitor.n_valued)
            if rules.day_rolls(ts, monitor.next_boundary):
                _tell_peak(key, instrument, monitor, log)
                _roll_day(ts, equity, monitor, boundaries)
                _record(_i64(ENTRY_DAY), ts, _i64(-1), _i64(-1), _i64(0), k, _i64(0), 0.0,
                        close, 0.0, equity, gross, key, instrument, monitor, log)
            if rules.tradable_price(close):
                ir = instrument[kr.instrument]
                kr.mark = close
                kr.ts = ts
                ir.mark = close
                ir.ts = ts
                equity, gross = _equity(monitor.cash, key, value_order, monitor.n_valued)
            status = _watch(equity, ts, monitor, drawdown_pct, daily_loss_pct)
            if status == STOP_DRAWDOWN:  # noqa: SIM102
                if liquidation is not None:
                    status = _trip(ts, k, close, _i64(1), venue, key, instrument, slot,
                                   value_order, monitor, log)
            if status != 0:
                return status, monitor.entries, e
            # -- the engine's liquidation orders (RiskEngine.liquidation_intents) -------------
            if liquidation is not None:  # noqa: SIM102
                if monitor.reducing:
                    for j in range(n_slots):
                        sj = slot[j]
                        if sj.held == 0.0 or sj.liquidating:
                            continue
                        kj = sj.key
                        side = _i64(-1) if sj.held > 0.0 else _i64(1)
                        qty = abs(sj.held)
                        _tell_peak(key, instrument, monitor, log)
                        _record(_i64(ENTRY_LIQUIDATE), ts, j, orders, side, kj, _i64(0), qty,
                                close, 0.0, equity, gross, key, instrument, monitor, log)
                        if not _intake(j, kj, side, qty, key[kj].mark, ts, orders, venue,
                                       asset, key, slot):
                            return STOP_VENUE_REJECT, monitor.entries, e
                        sj.liquidating = True
                        fifo[monitor.fifo_size] = j
                        monitor.fifo_size += 1
                        orders += 1
            # -- 3. the strategies trading this feed, in the config's order ------------------
            row = ev_row[e]
            for p in range(feed_slot_start[f], feed_slot_start[f + 1]):
                j = feed_slots[p]
                sj = slot[j]
                if sj.order >= 0 and not sj.liquidating:
                    return STOP_OPEN_ORDER, monitor.entries, e
                width = signal_width[j]
                at = signal_start[j] + row * width
                r = slot_rule[j]
                rule = rule0 if r == 0 else rule1 if r == 1 else rule2 if r == 2 else \
                    rule3 if r == 3 else decide[r]
                held = sj.held
                target, reason = rule(signal[at:at + width], close, held, equity,
                                      state[state_start[j]:state_start[j + 1]],
                                      params[params_start[j]:params_start[j + 1]])
                delta = target - held
                if delta - delta != 0.0 or rules.settled(target, held):  # NaN, inf
                    if sj.last_side != 0:  # TargetTracker.reset
                        sj.last_side = 0
                        sj.last_position = np.nan
                        sj.retries = 0
                        sj.wait = 0
                    continue
                side = _i64(1) if delta > 0.0 else _i64(-1)
                send, sj.retries, sj.wait = rules.back_off(side, held, sj.last_side,
                                                           sj.last_position, sj.retries, sj.wait)
                if not send:
                    continue
                sj.last_side = side
                sj.last_position = held
                qty = abs(delta)
                kind = _i64(ENTRY_ORDER)
                if liquidation is not None:  # noqa: SIM102
                    if monitor.reducing:  # the engine's state gate, open orders included
                        at_venue = kr.net + side * _pending(k, side, slot, fifo,
                                                            monitor.fifo_size)
                        if rules.reducing_quantity(at_venue, side, qty) > rules.QTY_EPSILON:
                            return STOP_REDUCING_ORDER, monitor.entries, e
                        kind = _i64(ENTRY_REJECTED)
                _tell_peak(key, instrument, monitor, log)
                _record(kind, ts, j, orders, side, k, reason, qty, close, 0.0, equity, gross,
                        key, instrument, monitor, log)
                if kind == ENTRY_REJECTED:  # refused: never sent
                    orders += 1
                    continue
                sj.target = target
                if not _intake(j, k, side, qty, close, ts, orders, venue, asset, key, slot):
                    return STOP_VENUE_REJECT, monitor.entries, e
                orders += 1
                if not vr.fill_on_close:
                    fifo[monitor.fifo_size] = j
                    monitor.fifo_size += 1
                    continue
                # fill_on_close: matched at once at this bar's close
                status, price, fee = _match(j, k, ts, close, volume, venue, asset, key,
                                            instrument, slot, value_order, monitor)
                if status == 0:
                    status = _filled(j, k, ts, price, fee, key, instrument, slot, value_order,
                                     monitor, boundaries, drawdown_pct, daily_loss_pct,
                                     log)
                if status != 0:
                    return status, monitor.entries, e
                equity, gross = _equity(monitor.cash, key, value_order, monitor.n_valued)
        if monitor.entries > log.entries.shape[0]:
            return STOP_LOG_FULL, monitor.entries, step_start[s]
        equity, _ = _equity(monitor.cash, key, value_order, monitor.n_valued)
        equity_out[s] = equity
        holding = False
        for f in range(feed_key.shape[0]):
            if key[feed_key[f]].net != 0.0:
                holding = True
        in_market_out[s] = holding
    return 0, monitor.entries, -1
