"""The harness that holds a simulated venue's ``bar_fill_model()`` to its own ``submit`` and
``on_market_data``. Needs hypothesis.

A venue that returns a :class:`~bot_core.BarFillModel` promises that it fills market IOC orders
on bars exactly as the backtest's compiled replay does with those numbers (the host's rules,
:mod:`bot_core.rules`). This harness replays one drawn scenario twice: through the replay's own
kernel with the venue's model, and through a fresh venue instance (``on_market_data`` for every
bar, ``submit`` for every order a target-position strategy would send), and holds them equal:
the same fills (time, side, quantity, price and fee, exactly) until the kernel stops, and at the
bar where it stops (a partial fill, a fill the account cannot carry, a refused order, a bar that
cannot trade, an order still open at the next bar) a venue that did not fill that order
completely either. A third-party venue proves its model in a few lines::

    from hypothesis import given
    from bot_core.testing import assert_fills_follow_bar_fill_model, bar_scenarios

    @given(scenario=bar_scenarios())
    def test_my_venue_fills_as_its_model(scenario):
        assert_fills_follow_bar_fill_model(MyVenue(MySettings()), scenario)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from hypothesis import event
from hypothesis import strategies as st
from numba import njit

from bot_core.kernels import DECIDE_SIGNATURE
from bot_core.market import Bar, split_symbol
from bot_core.orders import Order, OrderIntent, OrderStatus, OrderType, Side, TimeInForce
from bot_core.rules import settled

if TYPE_CHECKING:
    from bot_core.exchange import BarFillModel, ExchangeAdapter

__all__ = ["BarScenario", "assert_fills_follow_bar_fill_model", "bar_scenarios"]

MINUTE_NS = 60 * 1_000_000_000
T0 = 1_704_067_200 * 1_000_000_000  # 2024-01-01T00:00:00Z


@njit(DECIDE_SIGNATURE, cache=True, nogil=True)
def follow_targets(signal: np.ndarray, close: float, position: float, equity: float,
                   state: np.ndarray, params: np.ndarray) -> tuple[float, int]:
    """A rule whose signal is the target itself (NaN: no decision)."""
    return signal[0], 1


@dataclass(frozen=True)
class BarScenario:
    """Bars of one instrument at one venue, and the position a strategy wants after each."""

    bars: list[Bar]
    targets: list[float]
    """Per bar: the target position (base units, signed; NaN: no decision)."""


@st.composite
def bar_scenarios(draw: st.DrawFn, *, instrument: str = "BTC/USDT", venue: str = "venue_a",
                  cash: float = 100_000.0, max_bars: int = 60) -> BarScenario:
    """Minute bars (gaps, flat and thin stretches, bars without volume or without a price to
    trade at) and targets from a short to a long of about twice ``cash`` (the venue's cash)."""
    n = draw(st.integers(2, max_bars))
    price = draw(st.sampled_from([0.5, 100.0, 30_000.0]))
    bars: list[Bar] = []
    ts = T0
    for i in range(n):
        ts += MINUTE_NS * (1 if i == 0 or draw(st.integers(0, 9)) else
                           draw(st.sampled_from([2, 5, 90, 1440])))
        price *= math.exp(draw(st.floats(-0.03, 0.03)))
        open_ = price * math.exp(draw(st.floats(-0.01, 0.01)))
        if draw(st.integers(0, 29)) == 0:
            open_ = draw(st.sampled_from([0.0, math.nan]))  # a bar that cannot trade
        volume = draw(st.sampled_from([1e9, 1e9, 1e5, 50.0, 0.0, math.nan]))
        bars.append(Bar(venue, instrument, ts, open_, max(open_, price) * 1.001,
                        min(open_ if open_ > 0 else price, price) * 0.999, price, volume))
    scale = cash / price
    targets = [draw(st.one_of(st.just(math.nan), st.just(math.nan), st.just(0.0),
                              st.floats(-2.0, 2.0).map(lambda x: x * scale)))
               for _ in range(n)]
    return BarScenario(bars, targets)


def _predicted(model: BarFillModel, scenario: BarScenario) -> tuple[list[tuple[Any, ...]], int, int]:
    """The compiled replay's fills for ``scenario`` (time, side, quantity, price, fee), and
    where it stopped: ``(status, bar)`` (status 0: it ran to the end)."""
    from bot_core.backtest.kernel import (
        ENTRY_FILL,
        MONITOR,
        Books,
        EntryLog,
        Events,
        Limits,
        Slots,
        Venues,
        replay_bars,
    )
    from bot_core.kernels import decide_list

    bars = scenario.bars
    n = len(bars)
    ts = np.array([b.ts_ns for b in bars], dtype=np.int64)
    events = Events.of(np.arange(n + 1, dtype=np.int64), np.zeros(n, dtype=np.int64),
                       np.arange(n, dtype=np.int64), ts, np.array([b.open for b in bars]),
                       np.array([b.close for b in bars]), np.array([b.volume for b in bars]))
    zero = np.zeros(1, dtype=np.int64)
    books = Books(zero, zero, zero, zero, zero, 1)
    venues = Venues(np.array([model.taker_fee_bps / 1e4]), np.array([model.slippage_bps / 1e4]),
                    np.array([model.volume_impact_bps]), np.array([model.participation_rate]),
                    np.array([int(model.latency_ms * 1_000_000)], dtype=np.int64),
                    np.array([model.fill_on_close]), np.array([model.margin]),
                    np.array([model.max_leverage]), np.array([model.cash]),
                    np.array([model.volume_cap]))
    slots = Slots(np.array([0, 1], dtype=np.int64), zero, zero, zero,
                  np.array(scenario.targets, dtype=np.float64), zero,
                  np.ones(1, dtype=np.int64), np.zeros(0), np.zeros(2, dtype=np.int64),
                  np.zeros(0), np.zeros(2, dtype=np.int64))
    limits = Limits(model.cash, np.array([1 << 62], dtype=np.int64), math.inf, math.inf)
    rules = decide_list([follow_targets])
    log = EntryLog.allocate(3 * n + 8, 1, 1)
    status, entries, at = replay_bars(events, books, venues, slots, limits, rules,
                                      np.zeros(1, dtype=MONITOR), np.zeros(n),
                                      np.zeros(n, dtype=np.bool_), log)
    log = log.head(entries)
    fills = [(int(t), int(s), float(q), float(p), float(f)) for kind, t, s, q, p, f in zip(
        log.kind, log.ts, log.side, log.quantity, log.price, log.fee, strict=True)
        if kind == ENTRY_FILL]
    return fills, int(status), int(at)


def assert_fills_follow_bar_fill_model(venue: ExchangeAdapter, scenario: BarScenario) -> None:
    """``venue`` (a fresh instance, with no order yet) fills ``scenario`` as the compiled
    replay does with its ``bar_fill_model()``; see the module docstring."""
    model = venue.bar_fill_model()
    assert model is not None, f"{type(venue).__name__} offers no bar fill model"
    instrument = scenario.bars[0].instrument
    assert split_symbol(instrument)[1] == model.cash_asset
    predicted, status, stop = _predicted(model, scenario)
    event(f"kernel status {status}")
    actual: list[tuple[Any, ...]] = []
    position = 0.0
    orders: dict[str, list[Any]] = {}
    """client id -> [last status, quantity filled, quantity ordered]."""

    def take(reports: Any) -> None:
        nonlocal position
        for report in reports:
            order = orders.get(report.client_order_id)
            if order is None:
                continue
            order[0] = report.status
            if report.fill is not None:
                fill = report.fill
                actual.append((fill.ts_ns, int(fill.side), fill.quantity, fill.price, fill.fee))
                position += int(fill.side) * fill.quantity
                order[1] += fill.quantity

    for i, bar in enumerate(scenario.bars):
        take(venue.on_market_data(bar))
        target = scenario.targets[i]
        delta = target - position
        if not (target != target or settled(target, position) or not math.isfinite(delta)):
            client_id = f"harness-{i}"
            intent = OrderIntent("harness", bar.venue, instrument,
                                 Side.BUY if delta > 0 else Side.SELL, abs(delta), client_id,
                                 OrderType.MARKET, None, TimeInForce.IOC, False, None,
                                 bar.ts_ns, "harness")
            orders[client_id] = [OrderStatus.ACCEPTED, 0.0, abs(delta)]
            take(venue.submit(Order(intent, abs(delta))))
        if status and i == stop:
            break
    if not status:
        assert actual == predicted, "the venue's fills differ from its bar fill model's"
        return
    assert actual[:len(predicted)] == predicted, \
        "before the replay stopped, the venue's fills differ from its bar fill model's"
    incomplete = [cid for cid, (state, filled, ordered) in orders.items()
                  if state is not OrderStatus.FILLED or filled < ordered * (1 - 1e-12)]
    assert incomplete, (f"the replay stopped at bar {stop} (status {status}), where the venue "
                        "had filled every order completely")
