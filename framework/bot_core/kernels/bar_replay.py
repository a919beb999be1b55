"""The order path of a bar backtest, compiled: venue fills, portfolio and equity monitors.

The backtest driver's compiled replay (:mod:`bot_core.backtest.compiled`) hands this kernel
every bar of the run and the batch targets of its strategies. It does, event by event and in
the pipeline's order, what the paper venue, the portfolio and the risk engine's monitors do:

1. the venue sees the bar: it learns the bar length, marks its account at the close and fills
   the market orders that became eligible (bar open, slippage, volume impact, taker fee, the
   account's buying power, the bar's volume unless the venue's volume cap is off);
2. the portfolio books the fills and is marked at the close; the engine's monitors roll the
   trading day, track the equity peak and watch the drawdown and daily-loss limits;
3. each strategy trading the bar puts its new target in force (scaled by the equity now when it
   sizes in % of equity) and trades the difference to its position as a market IOC order, filled
   at the next bar's open (or at once, at the close, with ``fill_on_close``).

It takes no risk decision. Every order and fill goes into an *entry log*, in event order, with
a snapshot of what the risk engine reads (equity, gross exposure, positions, marks, data times),
and the driver walks that log through the real :class:`~bot_core.risk.engine.RiskEngine` and its
checks. The kernel stops (a non-zero status) at the first event where the run stops being a
plain sequence of complete fills: a partial fill, a fill the account cannot carry, a market that
cannot trade, an order still open when its strategy sees the next bar, a position left short of
its target, or an equity path that hits a limit. The driver then runs the Python paths, which
handle all of those.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np
from numba import njit

from bot_core.backtest.jit import rules

__all__ = [
    "ENTRY_DAY",
    "ENTRY_FILL",
    "ENTRY_ORDER",
    "ENTRY_PEAK",
    "STOP_LOG_FULL",
    "STOP_OPEN_ORDER",
    "STOP_REASONS",
    "VENUE_FIELDS",
    "replay_bars",
]

ENTRY_DAY = 0
"""A trading-day boundary seen at a bar (``ts``, ``key``; equity before the bar's mark)."""
ENTRY_PEAK = 1
"""A new equity peak since the last entry (``ts`` of the peak; ``value`` the peak)."""
ENTRY_ORDER = 2
"""A market order (``ref`` its slot, ``side``, ``qty``); snapshot before the order."""
ENTRY_FILL = 3
"""A complete fill (``ref`` its order, ``qty``, ``price``, ``fee``); snapshot after it."""

STOP_REASONS = (
    "",
    "the market price of a bar cannot trade",
    "a fill limited by the bar's volume",
    "a fill the venue account cannot carry",
    "an order the venue would reject for the account's balance",
    "an order still open when its strategy saw the next bar",
    "a position left short of its target",
    "the drawdown limit",
    "the daily loss limit",
    "an entry log too small for the run",
)
"""Why the kernel stopped, by status code (0: it ran to the end)."""
(STOP_NOT_MARKETABLE, STOP_VOLUME, STOP_UNAFFORDABLE, STOP_VENUE_REJECT, STOP_OPEN_ORDER,
 STOP_SHORT_OF_TARGET, STOP_DRAWDOWN, STOP_DAILY_LOSS, STOP_LOG_FULL) = range(1, len(STOP_REASONS))

VENUE_FIELDS = ("taker_fee_rate", "slippage_rate", "volume_impact_bps", "participation_rate",
                "latency_ns", "fill_on_close", "margin", "max_leverage", "quote_balance",
                "volume_cap")
"""Columns of the ``venues`` parameter (one row per venue)."""

_NEVER = -(1 << 62)
_LAST = 1 << 62


@njit(cache=True, nogil=True)
def _account_equity(venue: int, quote: np.ndarray, base: np.ndarray, base_mark: np.ndarray,
                    asset_venue: np.ndarray) -> tuple[float, float]:
    """(equity, gross exposure) of one venue's account: unmarked assets at face value."""
    equity = quote[venue]
    gross = 0.0
    for a in range(base.shape[0]):
        if asset_venue[a] == venue:
            m = base_mark[a]
            if m > 0.0:
                equity += base[a] * m
                gross += abs(base[a]) * m
            else:
                equity += base[a]
    return equity, gross


@njit(cache=True, nogil=True)
def _affordable(venue: int, asset: int, side: int, quantity: float, price: float,
                fee_rate: float, margin: bool, max_leverage: float, quote: np.ndarray,
                base: np.ndarray, base_mark: np.ndarray, asset_venue: np.ndarray) -> float:
    """The paper account's buying power (``PaperAccount.affordable``: the rule
    :func:`bot_core.rules.affordable_quantity`, with the asset marked at ``price`` when the
    rule reads the account's value)."""
    held = base[asset]
    equity = gross = 0.0
    if rules.needs_account_value(side, quantity, price, margin, held):
        base_mark[asset] = price
        equity, gross = _account_equity(venue, quote, base, base_mark, asset_venue)
    return rules.affordable_quantity(side, quantity, price, fee_rate, margin, max_leverage,
                                     quote[venue], held, equity, gross)


@njit(cache=True, nogil=True)
def _equity(cash: float, net_key: np.ndarray, mark_key: np.ndarray) -> tuple[float, float]:
    equity = cash
    gross = 0.0
    for k in range(net_key.shape[0]):
        q = net_key[k]
        if q != 0.0:
            value = q * mark_key[k]
            equity += value
            gross += abs(value)
    return equity, gross



# scalar state, kept in two small arrays so the helpers can update it in place
_CASH, _PEAK, _DAY_START, _TOLD_PEAK = 0, 1, 2, 3
_PEAK_TS, _NEXT_BOUNDARY, _BOUNDARY, _ENTRIES = 0, 1, 2, 3


_i64 = cast("Callable[[int], int]", np.int64)
"""Integer constants passed to the helpers go through ``np.int64`` so that Numba types them
int64, not as literals: each literal value would compile the helper once more (cold start)."""


@njit(cache=True, nogil=True)
def _record(kind: int, ts: int, r0: int, r1: int, r2: int, v0: float, v1: float, v2: float,
            equity: float, gross: float, book: np.ndarray, key_ts: np.ndarray,
            instr: np.ndarray, instr_ts: np.ndarray, ent_kind: np.ndarray, ent_ts: np.ndarray,
            ent_ref: np.ndarray, ent_val: np.ndarray, snap: np.ndarray, snap_ts: np.ndarray,
            si: np.ndarray) -> None:
    """Append one entry and the snapshot the risk engine reads at it (past the log's end:
    only counted, and the kernel stops with ``STOP_LOG_FULL`` at the end of the step)."""
    n = si[_ENTRIES]
    if n >= ent_kind.shape[0]:
        si[_ENTRIES] = n + 1
        return
    ent_kind[n] = kind
    ent_ts[n] = ts
    ent_ref[n, 0] = r0
    ent_ref[n, 1] = r1
    ent_ref[n, 2] = r2
    ent_val[n, 0] = v0
    ent_val[n, 1] = v1
    ent_val[n, 2] = v2
    nk = book.shape[1]
    ni = instr.shape[1]
    snap[n, 0] = equity
    snap[n, 1] = gross
    for k in range(nk):
        snap[n, 2 + k] = book[0, k]
        snap[n, 2 + nk + k] = book[1, k]
        snap_ts[n, k] = key_ts[k]
    for i in range(ni):
        snap[n, 2 + 2 * nk + i] = instr[0, i]
        snap[n, 2 + 2 * nk + ni + i] = instr[1, i]
        snap_ts[n, nk + i] = instr_ts[i]
    si[_ENTRIES] = n + 1


@njit(cache=True, nogil=True)
def _tell_peak(sf: np.ndarray, si: np.ndarray, book: np.ndarray, key_ts: np.ndarray,
               instr: np.ndarray, instr_ts: np.ndarray, ent_kind: np.ndarray,
               ent_ts: np.ndarray, ent_ref: np.ndarray, ent_val: np.ndarray, snap: np.ndarray,
               snap_ts: np.ndarray) -> None:
    """Before an entry the engine judges by, a PEAK entry if equity rose above what the
    engine has seen (its peak is the highest equity it watched, fills and marks alike)."""
    if sf[_PEAK] > sf[_TOLD_PEAK]:
        _record(_i64(ENTRY_PEAK), si[_PEAK_TS], _i64(-1), _i64(0), _i64(-1), sf[_PEAK], 0.0, 0.0,
                sf[_PEAK], 0.0, book,
                key_ts, instr, instr_ts, ent_kind, ent_ts, ent_ref, ent_val, snap, snap_ts, si)
        sf[_TOLD_PEAK] = sf[_PEAK]


@njit(cache=True, nogil=True)
def _watch(equity: float, ts: int, sf: np.ndarray, si: np.ndarray, drawdown_pct: float,
           daily_pct: float) -> int:
    """The engine's ``_watch_equity``: new peak, then ``STOP_DRAWDOWN`` or ``STOP_DAILY_LOSS``
    for a limit hit (:func:`bot_core.rules.limit_reached`), else 0."""
    if equity > sf[_PEAK]:
        sf[_PEAK] = equity
        si[_PEAK_TS] = ts
    if rules.limit_reached(sf[_PEAK], equity, drawdown_pct):
        return STOP_DRAWDOWN
    if rules.limit_reached(sf[_DAY_START], equity, daily_pct):
        return STOP_DAILY_LOSS
    return 0


@njit(cache=True, nogil=True)
def _roll_day(ts: int, equity: float, boundaries: np.ndarray, sf: np.ndarray,
              si: np.ndarray) -> bool:
    """The engine's day roll when ``ts`` reached the next boundary: the day starts at
    ``equity``. Returns whether it rolled."""
    if not rules.day_rolls(ts, si[_NEXT_BOUNDARY]):
        return False
    b = si[_BOUNDARY]
    while b < boundaries.shape[0] and boundaries[b] <= ts:
        b += 1
    si[_BOUNDARY] = b
    si[_NEXT_BOUNDARY] = boundaries[b] if b < boundaries.shape[0] else _LAST
    sf[_DAY_START] = equity
    return True


@njit(cache=True, nogil=True)
def _match(o: int, j: int, k: int, v: int, asset: int, ts: int, market: float, volume: float,
           side: int, qty: float, venues: np.ndarray, quote: np.ndarray, base: np.ndarray,
           base_mark: np.ndarray, asset_venue: np.ndarray, used_ts: np.ndarray,
           used: np.ndarray, held: np.ndarray, key_instr: np.ndarray,
           book: np.ndarray, instr: np.ndarray, sf: np.ndarray) -> tuple[int, float, float]:
    """Fill market order ``o`` of slot ``j`` completely at ``market`` (bar open, or close with
    ``fill_on_close``) as the paper venue does, and book it into the portfolio. Returns
    ``(status, price, fee)``; a non-zero status changes nothing."""
    if not rules.tradable_price(market):
        return STOP_NOT_MARKETABLE, 0.0, 0.0
    price = rules.slipped_price(market, side, venues[v, 1])
    if venues[v, 9] > 0.0:  # the volume cap: participation_rate x the bar's volume
        used_now = used[k] if used_ts[k] == ts else 0.0
        if rules.volume_room(volume, venues[v, 3], used_now) < qty:
            return STOP_VOLUME, 0.0, 0.0
    price = rules.impact_price(price, side, venues[v, 2], qty, volume)
    if _affordable(v, asset, side, qty, price, venues[v, 0], venues[v, 6] > 0.0, venues[v, 7],
                   quote, base, base_mark, asset_venue) < qty - rules.BALANCE_EPSILON:
        return STOP_UNAFFORDABLE, 0.0, 0.0
    # the venue's account (PaperAccount.apply_fill)
    fee = rules.fill_fee(qty, price, venues[v, 0])
    base[asset], quote[v] = rules.account_after_fill(base[asset], quote[v], side, qty, price,
                                                     fee)
    if used_ts[k] == ts:
        used[k] += qty
    else:
        used_ts[k] = ts
        used[k] = qty
    # the portfolio (Portfolio.apply_fill; average prices are the trade book's, from the fills)
    signed = side * qty
    old = held[j]
    new = rules.position_after_fill(old, signed, qty)
    held[j] = new
    sf[_CASH] += rules.cash_flow(signed, price, fee)
    book[0, k] = rules.net_after_fill(book[0, k], new - old, qty)
    i = key_instr[k]
    instr[0, i] = rules.net_after_fill(instr[0, i], new - old, qty)
    return 0, price, fee


@njit(cache=True, nogil=True)
def _filled(o: int, side: int, k: int, qty: float, price: float, fee: float, ts: int,
            target: float, held: float, boundaries: np.ndarray, drawdown_pct: float,
            daily_pct: float, sf: np.ndarray, si: np.ndarray, book: np.ndarray,
            key_ts: np.ndarray, instr: np.ndarray, instr_ts: np.ndarray, ent_kind: np.ndarray,
            ent_ts: np.ndarray, ent_ref: np.ndarray, ent_val: np.ndarray, snap: np.ndarray,
            snap_ts: np.ndarray) -> int:
    """After :func:`_match` booked order ``o``: what the engine's ``on_fill`` does (day roll
    after booking, equity watch), the FILL entry, and whether its strategy now holds its
    target. Returns 0 or a stop code."""
    equity, gross = _equity(sf[_CASH], book[0], book[1])
    _roll_day(ts, equity, boundaries, sf, si)
    _record(_i64(ENTRY_FILL), ts, o, side, k, qty, price, fee, equity, gross, book, key_ts, instr,
            instr_ts, ent_kind, ent_ts, ent_ref, ent_val, snap, snap_ts, si)
    sf[_TOLD_PEAK] = max(sf[_TOLD_PEAK], equity)  # the engine watches it in on_fill
    status = _watch(equity, ts, sf, si, drawdown_pct, daily_pct)
    if status != 0:
        return status
    return 0 if rules.settled(target, held) else STOP_SHORT_OF_TARGET


@njit(cache=True, nogil=True)
def replay_bars(
    step_start: np.ndarray, ev_feed: np.ndarray, ev_ts: np.ndarray, ev_bar: np.ndarray,
    feed_key: np.ndarray, feed_slot_start: np.ndarray, feed_slots: np.ndarray,
    slot_key: np.ndarray, slot_sizing: np.ndarray, dec_start: np.ndarray, dec_step: np.ndarray,
    dec_value: np.ndarray, key_instr: np.ndarray, key_venue: np.ndarray, key_asset: np.ndarray,
    asset_venue: np.ndarray, n_instr: int, venues: np.ndarray, initial_cash: float,
    boundaries: np.ndarray, drawdown_pct: float, daily_pct: float,
    ev_row: np.ndarray, slot_band: np.ndarray, frac_start: np.ndarray, frac: np.ndarray,
    equity_out: np.ndarray, in_market_out: np.ndarray,
    ent_kind: np.ndarray, ent_ts: np.ndarray, ent_ref: np.ndarray, ent_val: np.ndarray,
    snap: np.ndarray, snap_ts: np.ndarray,
) -> tuple[int, int, int]:
    """Replay every bar; return ``(status, entries, event)``.

    :param step_start: events of step ``s`` are ``step_start[s]:step_start[s + 1]``.
    :param ev_feed: feed of each event; ``ev_ts`` its time (int64 ns); ``ev_bar`` (events, 3)
        its open, close and volume.
    :param feed_key: (venue, instrument) key of each feed.
    :param feed_slot_start: the slots (strategy x feed) trading feed ``f`` are
        ``feed_slots[feed_slot_start[f]:feed_slot_start[f + 1]]``, in the strategies' order.
    :param slot_key: key of each slot; ``slot_sizing`` the equity its targets were computed
        with, or 0 when its targets do not scale with equity.
    :param dec_start: the decisions of slot ``j`` are ``dec_step/dec_value[dec_start[j]:
        dec_start[j + 1]]``: from that step on, its target is that value.
    :param key_instr: instrument index of each key (``n_instr`` in all); ``key_venue`` its
        venue; ``key_asset`` its base asset in that venue's account (``asset_venue``).
    :param venues: (venues, len(VENUE_FIELDS)) the paper venues' parameters.
    :param boundaries: trading-day boundaries (int64 ns, increasing) from the day of the first
        event to past the last.
    :param drawdown_pct: the engine's drawdown limit, percent; ``daily_pct`` its daily-loss
        limit.
    :param ev_row: row of each event in its feed.
    :param slot_band: for a slot whose targets are fractions of equity (``frac_start[j] >=
        0``), its rebalancing band as a share of equity; its fraction at the bar of row ``r``
        is ``frac[frac_start[j] + r]`` (NaN: hold). On every bar it sees, such a slot's target
        is ``fraction * equity / close``, taken when ``|target - held| * close >= band *
        equity`` (a missing price or equity holds), as the strategy's ``on_bar`` decides
        (``Strategy.target_fractions``). Other slots have ``frac_start[j] < 0``.
    :param equity_out: (steps,) equity after each step; ``in_market_out`` whether any feed's key
        is held after it.
    :param ent_kind: the entry log (``ENTRY_*``): kind, ``ent_ts`` time, ``ent_ref`` (entries, 3)
        slot (ORDER) or order (FILL), side, key; ``ent_val`` (entries, 3) quantity, price, fee
        (FILL), quantity and last close (ORDER), close (DAY), the peak (PEAK).
    :param snap: (entries, 2 + 2 * keys + 2 * instruments) what the risk engine reads at each
        entry: equity, gross exposure, net position and mark per key, net position and last mark
        on any venue per instrument; ``snap_ts`` (entries, keys + instruments) the marks' times.
        Capacity: three entries per order and two per trading day, plus two; a log that is
        too small stops the kernel with ``STOP_LOG_FULL`` (the caller retries a larger one).
    :return: status 0 and the number of entries, or the ``STOP_REASONS`` code, the entries so
        far and the event where it stopped.
    """
    n_keys = key_instr.shape[0]
    n_slots = slot_key.shape[0]
    n_venues = venues.shape[0]
    n_assets = asset_venue.shape[0]
    # the venues
    quote = np.empty(n_venues)
    clock = np.empty(n_venues, np.int64)
    for v in range(n_venues):
        quote[v] = venues[v, 8]
        clock[v] = _NEVER
    base = np.zeros(n_assets)
    base_mark = np.zeros(n_assets)
    last_ts = np.empty(n_keys, np.int64)
    interval = np.empty(n_keys, np.int64)
    used_ts = np.empty(n_keys, np.int64)
    for k in range(n_keys):
        last_ts[k] = _NEVER
        interval[k] = -1
        used_ts[k] = _NEVER
    used = np.zeros(n_keys)
    # the portfolio: net position and mark per key and per instrument, each strategy's book
    book = np.zeros((2, n_keys))
    key_ts = np.zeros(n_keys, dtype=np.int64)
    instr = np.zeros((2, n_instr))
    instr_ts = np.zeros(n_instr, dtype=np.int64)
    held = np.zeros(n_slots)
    target = np.zeros(n_slots)
    cursor = np.empty(n_slots, np.int64)
    inflight = np.empty(n_slots, np.int64)
    for j in range(n_slots):
        cursor[j] = dec_start[j]
        inflight[j] = -1
    # orders in flight: at most one per slot, matched in arrival order
    n_max = dec_step.shape[0] + frac.shape[0] + 1  # a decision or a fraction bar each
    order_slot = np.empty(n_max, np.int64)
    order_side = np.empty(n_max, np.int64)
    order_eligible = np.empty(n_max, np.int64)
    order_qty = np.empty(n_max)
    fifo = np.empty(n_slots, np.int64)
    n_fifo = 0
    n_orders = _i64(0)
    # the engine's monitors
    sf = np.empty(4)
    sf[:] = initial_cash
    si = np.zeros(4, np.int64)
    si[_NEXT_BOUNDARY] = _NEVER

    for s in range(step_start.shape[0] - 1):
        for e in range(step_start[s], step_start[s + 1]):
            f = ev_feed[e]
            k = feed_key[f]
            v = key_venue[k]
            asset = key_asset[k]
            ts = ev_ts[e]
            close = ev_bar[e, 1]
            volume = ev_bar[e, 2]
            # -- 1. the venue: bar length, account mark, the orders now eligible -------------
            if last_ts[k] != _NEVER and ts > last_ts[k]:
                gap = ts - last_ts[k]
                if interval[k] < 0 or gap < interval[k]:
                    interval[k] = gap
            last_ts[k] = ts
            if ts > clock[v]:
                clock[v] = ts
            if rules.tradable_price(close):
                base_mark[asset] = close
            i = 0
            while i < n_fifo:
                o = fifo[i]
                j = order_slot[o]
                if slot_key[j] != k or ts < order_eligible[o]:
                    i += 1
                    continue
                status, price, fee = _match(o, j, k, v, asset, ts, ev_bar[e, 0], volume,
                                            order_side[o], order_qty[o], venues, quote, base,
                                            base_mark, asset_venue, used_ts, used, held,
                                            key_instr, book, instr, sf)
                if status == 0:
                    status = _filled(o, order_side[o], k, order_qty[o], price, fee, ts,
                                     target[j], held[j], boundaries, drawdown_pct, daily_pct,
                                     sf, si, book, key_ts, instr, instr_ts, ent_kind, ent_ts,
                                     ent_ref, ent_val, snap, snap_ts)
                if status != 0:
                    return status, si[_ENTRIES], e
                inflight[j] = -1
                for r in range(i, n_fifo - 1):
                    fifo[r] = fifo[r + 1]
                n_fifo -= 1
            # -- 2. the engine: day roll, portfolio mark, monitors ----------------------------
            equity, gross = _equity(sf[_CASH], book[0], book[1])
            if rules.day_rolls(ts, si[_NEXT_BOUNDARY]):
                _tell_peak(sf, si, book, key_ts, instr, instr_ts, ent_kind, ent_ts, ent_ref,
                           ent_val, snap, snap_ts)
                _roll_day(ts, equity, boundaries, sf, si)
                _record(_i64(ENTRY_DAY), ts, _i64(-1), _i64(0), k, close, 0.0, 0.0, equity, gross,
                        book, key_ts, instr, instr_ts, ent_kind, ent_ts, ent_ref, ent_val, snap, snap_ts, si)
            if rules.tradable_price(close):
                book[1, k] = close
                key_ts[k] = ts
                instr[1, key_instr[k]] = close
                instr_ts[key_instr[k]] = ts
                equity, gross = _equity(sf[_CASH], book[0], book[1])
            status = _watch(equity, ts, sf, si, drawdown_pct, daily_pct)
            if status != 0:
                return status, si[_ENTRIES], e
            # -- 3. the strategies trading this feed, in the config's order ------------------
            for q in range(feed_slot_start[f], feed_slot_start[f + 1]):
                j = feed_slots[q]
                if inflight[j] >= 0:
                    return STOP_OPEN_ORDER, si[_ENTRIES], e
                if frac_start[j] >= 0:
                    # a target in fractions of equity, with a rebalancing band
                    fraction = frac[frac_start[j] + ev_row[e]]
                    if fraction != fraction or not (rules.tradable_price(close) and equity > 0.0):
                        continue
                    value = fraction * equity / close
                    if not (abs(value - held[j]) * close >= slot_band[j] * equity
                            and value != held[j]):
                        continue
                else:
                    c = cursor[j]
                    if c >= dec_start[j + 1] or dec_step[c] != s:
                        continue
                    cursor[j] = c + 1
                    value = dec_value[c]
                    if slot_sizing[j] > 0.0:
                        value = value * (equity / slot_sizing[j])
                target[j] = value
                delta = value - held[j]
                if delta - delta != 0.0 or rules.settled(value, held[j]):  # NaN or inf
                    continue
                side = _i64(1) if delta > 0.0 else _i64(-1)
                qty = abs(delta)
                _tell_peak(sf, si, book, key_ts, instr, instr_ts, ent_kind, ent_ts, ent_ref,
                           ent_val, snap, snap_ts)
                _record(_i64(ENTRY_ORDER), ts, j, side, k, qty, close, 0.0, equity, gross, book,
                        key_ts, instr, instr_ts, ent_kind, ent_ts, ent_ref, ent_val, snap,
                        snap_ts, si)
                # the venue's intake: refused when the account cannot pay for any of it, else
                # eligible from the deciding bar's close + latency
                if _affordable(v, asset, side, qty, close, venues[v, 0], venues[v, 6] > 0.0,
                               venues[v, 7], quote, base, base_mark, asset_venue) \
                        <= rules.BALANCE_EPSILON:
                    return STOP_VENUE_REJECT, si[_ENTRIES], e
                o = n_orders
                n_orders += 1
                order_slot[o] = j
                order_side[o] = side
                order_qty[o] = qty
                order_eligible[o] = rules.eligible_ns(clock[v] if clock[v] > ts else ts, ts,
                                                      interval[k] if interval[k] > 0 else 0,
                                                      _i64(venues[v, 4]))
                if venues[v, 5] == 0.0:
                    inflight[j] = o
                    fifo[n_fifo] = o
                    n_fifo += 1
                    continue
                # fill_on_close: matched at once at this bar's close
                status, price, fee = _match(o, j, k, v, asset, ts, close, volume, side, qty,
                                            venues, quote, base, base_mark, asset_venue,
                                            used_ts, used, held, key_instr, book, instr, sf)
                if status == 0:
                    status = _filled(o, side, k, qty, price, fee, ts, target[j], held[j],
                                     boundaries, drawdown_pct, daily_pct, sf, si, book, key_ts,
                                     instr, instr_ts, ent_kind, ent_ts, ent_ref, ent_val, snap,
                                     snap_ts)
                if status != 0:
                    return status, si[_ENTRIES], e
                equity, gross = _equity(sf[_CASH], book[0], book[1])
        if si[_ENTRIES] > ent_kind.shape[0]:
            return STOP_LOG_FULL, si[_ENTRIES], step_start[s]
        equity, _ = _equity(sf[_CASH], book[0], book[1])
        equity_out[s] = equity
        holding = False
        for f in range(feed_key.shape[0]):
            if book[0, feed_key[f]] != 0.0:
                holding = True
        in_market_out[s] = holding
    return 0, si[_ENTRIES], -1
