"""The simulation's rules, written once: plain functions of floats for both speeds of a backtest.

The event path (the paper venue, the portfolio, the risk engine, :class:`~bot_core.TargetTracker`)
calls these functions, and the backtest's compiled replay (:mod:`bot_core.backtest.kernel`)
compiles the very same functions with ``numba.njit``, so the two agree by construction rather
than by tests (:mod:`bot_core.backtest.jit` registers them with Numba). Each takes and returns
plain floats, ints and bools, has no side effect and calls only other rules; the caller
gathers its inputs from its own books (dicts on the event path, arrays in the kernel). This
module imports neither numpy nor numba.

A compiled kernel keeps its own copy of the rules in Numba's on-disk cache, which tracks only
the kernel's own source file: after editing this module during development, clear the caches
(``find framework -name '*.nbi' -delete``) or set ``NUMBA_CACHE_DIR`` to a fresh directory.

=====================================  ========================================================
rule                                   used by
=====================================  ========================================================
:func:`tradable_price`,                the paper venue (``submit``, ``_price``, ``_match``), the
:func:`eligible_ns`,                   kernel's intake and fills; a venue's
:func:`slipped_price`,                 :class:`~bot_core.BarFillModel` states these numbers
:func:`impact_price`,
:func:`volume_room`, :func:`fill_fee`
:func:`needs_account_value`,           ``PaperAccount.affordable`` and the kernel's intake and
:func:`affordable_quantity`            fills (buying power, spot and margin)
:func:`account_after_fill`             ``PaperAccount.apply_fill``, the kernel
:func:`position_after_fill`,           ``Portfolio.apply_fill``, the trade book, the kernel
:func:`left_flat`, :func:`net_after_fill`,
:func:`cash_flow`
:func:`add_value`                      ``Portfolio.equity`` / ``gross_exposure``, the kernel's
                                       equity: one sum, in one order, to the last bit
:func:`limit_reached`                  the risk engine's drawdown and daily-loss monitors, the
                                       kernel's monitors
:func:`day_rolls`                      the risk engine's and the kernel's trading-day roll
:func:`reducing_quantity`              the risk engine's ``REDUCING`` / reduce-only gate, the
                                       risk checks, the kernel's gate while liquidating
:func:`settled`, :func:`back_off`      ``TargetTracker``, the kernel, the compiled replay
=====================================  ========================================================
"""

from __future__ import annotations

__all__ = [
    "BALANCE_EPSILON",
    "DUST",
    "FLAT",
    "MAX_RETRY_WAIT_BARS",
    "PCT_TOLERANCE",
    "QTY_EPSILON",
    "account_after_fill",
    "add_value",
    "affordable_quantity",
    "back_off",
    "cash_flow",
    "day_rolls",
    "eligible_ns",
    "fill_fee",
    "impact_price",
    "left_flat",
    "limit_reached",
    "needs_account_value",
    "net_after_fill",
    "position_after_fill",
    "reducing_quantity",
    "settled",
    "slipped_price",
    "tradable_price",
    "volume_room",
]

PCT_TOLERANCE = 1e-9
"""Percent limits are "at or beyond": a loss of 4 % computed as 3.9999999999 % still reaches 4 %."""
DUST = 1e-12
"""Relative size below which a difference between a target and a position is rounding."""
FLAT = 1e-9
"""Relative size under which what a reducing fill leaves of a position is float residue."""
BALANCE_EPSILON = 1e-12
"""Absolute quantity at or below which a venue balance, a fill or a remainder is zero."""
QTY_EPSILON = 1e-12
"""Order quantities at or below this are treated as zero (the risk engine and its checks)."""
MAX_RETRY_WAIT_BARS = 64
"""Longest pause, in bars, between re-sends of an order that did not move the position."""

_INF = float("inf")


# -- the venue: prices, volume, fees, buying power (BarFillModel) ------------------------------


def tradable_price(price: float) -> bool:
    """Whether a market price can trade: finite and positive (a bar or quote without a valid
    price fills nothing)."""
    return 0.0 < price < _INF


def eligible_ns(now_ns: int, bar_ts_ns: int, bar_interval_ns: int, latency_ns: int) -> int:
    """When an order submitted at ``now_ns`` may first fill: never before the deciding bar has
    closed (its open time ``bar_ts_ns`` plus the bar length seen so far, ``bar_interval_ns``;
    0 when unknown or when the order follows a quote), plus the venue's latency."""
    decided = max(now_ns, bar_ts_ns + bar_interval_ns)
    return decided + latency_ns


def slipped_price(market: float, side: int, slippage_rate: float) -> float:
    """``market`` moved against an order of ``side`` (+1 buy, -1 sell) by ``slippage_rate``
    (a fraction: ``slippage_bps / 1e4``)."""
    return market * (1.0 + side * slippage_rate)


def impact_price(price: float, side: int, impact_bps: float, quantity: float,
                 volume: float) -> float:
    """``price`` moved further against the order by ``impact_bps`` per 100 % of the bar's
    ``volume`` that ``quantity`` takes (a bar without volume counts as 100 %)."""
    if impact_bps > 0.0:
        share = quantity / volume if volume > 0.0 else 1.0
        return price * (1.0 + side * impact_bps * share / 1e4)
    return price


def volume_room(volume: float, participation_rate: float, used: float) -> float:
    """What is left of a bar (or a quote's size, at a rate of 1) for more fills:
    ``participation_rate`` x its ``volume`` (none when the volume is not a finite number >= 0)
    less what fills already ``used`` of it."""
    if not 0.0 <= volume < _INF:  # NaN, negative or infinite: no volume to go by
        volume = 0.0
    return max(participation_rate * volume - used, 0.0)


def fill_fee(quantity: float, price: float, fee_rate: float) -> float:
    """The fee of a fill, quote currency (``fee_rate``: ``fee_bps / 1e4``)."""
    return abs(quantity * price) * fee_rate


def needs_account_value(side: int, quantity: float, price: float, margin: bool,
                        held: float) -> bool:
    """Whether :func:`affordable_quantity` reads the account's equity and gross exposure for
    this order: a margin account's order at a valid ``price`` that adds exposure beyond
    reducing ``held``. The caller then marks the asset at ``price`` first (buying power is
    judged at the price of the fill) and passes the account's figures."""
    if not (margin and tradable_price(price) and quantity > 0.0):
        return False
    reducing = min(quantity, abs(held)) if held * side < 0.0 else 0.0
    return quantity - reducing > BALANCE_EPSILON


def affordable_quantity(side: int, quantity: float, price: float, fee_rate: float, margin: bool,
                        max_leverage: float, cash: float, held: float, equity: float,
                        gross: float) -> float:
    """The largest part of ``quantity`` (<= quantity) an account can fill at ``price``.

    A spot account buys with its ``cash`` (quote balance), fees included, and sells what it
    ``held`` (base balance). A margin account may go negative on either: the part of an order
    that reduces ``held`` always passes, the rest as long as gross exposure stays within
    ``max_leverage`` x equity, each unit adding ``price`` of exposure and costing its fee
    (``equity`` and ``gross``: the account's, with the asset marked at ``price``; only read
    when :func:`needs_account_value`)."""
    if not (tradable_price(price) and quantity > 0.0):
        return 0.0
    if not margin:
        if side > 0:
            return max(min(quantity, cash / (price * (1.0 + max(fee_rate, 0.0)))), 0.0)
        return max(min(quantity, held), 0.0)
    reducing = min(quantity, abs(held)) if held * side < 0.0 else 0.0
    rest = quantity - reducing
    if rest <= BALANCE_EPSILON:
        return quantity
    equity -= reducing * price * abs(fee_rate)
    room = max_leverage * equity - (gross - reducing * price)
    per_unit = price * (1.0 + max_leverage * max(fee_rate, 0.0))
    extra = max(min(rest, room / per_unit), 0.0) if equity > 0.0 else 0.0
    return reducing + extra


def account_after_fill(base: float, quote: float, side: int, quantity: float, price: float,
                       fee: float) -> tuple[float, float]:
    """A venue account's ``(base, quote)`` balances after a fill; a base balance left at float
    residue is zero."""
    base += side * quantity
    quote -= side * quantity * price + fee
    if abs(base) < BALANCE_EPSILON:
        base = 0.0
    return base, quote


# -- the portfolio: positions after a fill ------------------------------------------------------


def left_flat(old: float, new: float, quantity: float) -> bool:
    """Whether a reducing fill of ``quantity`` that takes a position from ``old`` to ``new``
    left it flat: what remains is float residue (the portfolio and the trade book both ask)."""
    return abs(new) <= FLAT * max(abs(old), quantity)


def position_after_fill(old: float, signed: float, quantity: float) -> float:
    """One book's position after a fill of ``signed`` (= side x ``quantity``): a reducing fill
    that leaves float residue leaves it flat."""
    new = old + signed
    if old != 0.0 and (old > 0.0) != (signed > 0.0) and left_flat(old, new, quantity):
        return 0.0
    return new


def cash_flow(signed: float, price: float, fee: float) -> float:
    """What a fill of ``signed`` base units at ``price`` paying ``fee`` does to the books'
    cash, quote currency."""
    return -signed * price - fee


def net_after_fill(net: float, delta: float, quantity: float) -> float:
    """A sum of books (per venue, per instrument) moved by ``delta`` through a fill of
    ``quantity``: zero when what is left is float residue of that fill."""
    net += delta
    return net if abs(net) > FLAT * quantity else 0.0


def add_value(market: float, gross: float, value: float) -> tuple[float, float]:
    """The books' market value and gross exposure with one more (venue, instrument)'s
    ``value`` (net quantity x mark) added. Summed left to right from 0.0 over the pairs in the
    order they were first traded, then added to cash: the event path and the compiled replay
    then see the same equity to the last bit, so a limit met exactly is met on both."""
    return market + value, gross + abs(value)


# -- the risk engine's monitors -----------------------------------------------------------------


def limit_reached(reference: float, equity: float, limit_pct: float) -> bool:
    """Whether ``equity`` is down ``limit_pct`` % or more from ``reference`` (the equity peak
    for the drawdown liquidation, the day's start for the daily-loss halt), at or beyond the
    limit (:data:`PCT_TOLERANCE`). False when ``reference`` is not positive."""
    # ``&``, not ``and``: the same expression judges numpy arrays of equities element-wise
    return (reference > 0.0) & \
        ((reference - equity) * 100.0 >= (limit_pct - PCT_TOLERANCE) * reference)


def day_rolls(ts_ns: int, next_boundary_ns: int) -> bool:
    """Whether an event at ``ts_ns`` starts a new trading day: it is at or past the next
    boundary (``bot_core.risk.tradingday.TradingCalendar``). The day's start equity is the
    equity then: before a market event's mark, after a fill's booking."""
    return ts_ns >= next_boundary_ns


def reducing_quantity(position: float, side_sign: float, quantity: float) -> float:
    """How much of an order of ``quantity`` in direction ``side_sign`` (+1 buy, -1 sell) reduces
    ``position`` without flipping its sign: ``min(quantity, |position|)`` when the order goes
    against the position, else 0. A NaN position reduces nothing (fail closed)."""
    if not position * side_sign < 0.0:  # also a NaN position
        return 0.0
    return min(quantity, abs(position))


# -- trading toward a target --------------------------------------------------------------------


def settled(target: float, held: float) -> bool:
    """Whether a position ``held`` equals its ``target`` to the rounding of the quantities
    (:data:`DUST`); a non-finite difference never settles."""
    return abs(target - held) <= DUST * max(abs(target), abs(held), 1.0)


def back_off(side: int, position: float, last_side: int, last_position: float, retries: int,
             wait: int) -> tuple[bool, int, int]:
    """``TargetTracker``'s exponential back-off: may an order from ``position`` in direction
    ``side`` go out on this bar, given the last one sent (``last_side`` from
    ``last_position``; ``last_side`` 0 after a reset) and the back-off so far? Returns
    ``(send, retries, wait)``. The same direction from an unmoved position (the last order was
    rejected, or did not fill) waits 1, 3, 7, ... bars, at most :data:`MAX_RETRY_WAIT_BARS`;
    anything else starts afresh."""
    if side == last_side and position == last_position:
        if wait > 0:
            return False, retries, wait - 1
        retries += 1
        return True, retries, min(1 << min(retries, 30), MAX_RETRY_WAIT_BARS) - 1
    return True, 0, 0
