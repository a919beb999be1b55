"""bot_core.targets: one market IOC order toward the target, with back-off on no progress."""

from __future__ import annotations

import math

from bot_core import OrderType, Side, TimeInForce
from bot_core.targets import MAX_RETRY_WAIT_BARS, TargetTracker
from bot_core.testing import FillingContext


def _send(tracker: TargetTracker, target: float, current: float, ctx: FillingContext):  # type: ignore[no-untyped-def]
    return tracker.intents("s", "venue_a", "BTC/USDT", target, current, ctx, 7, "entry")


def test_difference_becomes_one_market_ioc_order() -> None:
    ctx = FillingContext()
    (intent,) = _send(TargetTracker(), -0.5, 0.25, ctx)
    assert (intent.side, intent.quantity, intent.order_type, intent.time_in_force) == (
        Side.SELL, 0.75, OrderType.MARKET, TimeInForce.IOC)
    assert (intent.strategy_id, intent.venue, intent.ts_ns, intent.tag) == ("s", "venue_a", 7, "entry")
    assert intent.client_order_id == "test-1"


def test_rounding_and_non_finite_differences_send_nothing() -> None:
    ctx = FillingContext()
    tracker = TargetTracker()
    assert _send(tracker, 1.0, 1.0 + 1e-15, ctx) == ()
    assert _send(tracker, math.nan, 0.0, ctx) == ()
    assert _send(tracker, math.inf, 0.0, ctx) == ()
    assert ctx.issued == []


def test_orders_that_change_nothing_back_off_exponentially() -> None:
    ctx = FillingContext()
    tracker = TargetTracker()
    sent_on = [bar for bar in range(40) if _send(tracker, 1.0, 0.0, ctx)]
    assert sent_on == [0, 1, 3, 7, 15, 31]  # waits 0, 1, 3, 7, 15 bars between sends
    tracker = TargetTracker()
    sent = sum(bool(_send(tracker, 1.0, 0.0, ctx)) for _ in range(1000))
    assert sent <= 6 + 1000 // MAX_RETRY_WAIT_BARS  # the wait is capped, never forever


def test_progress_or_a_new_direction_resets_the_back_off() -> None:
    ctx = FillingContext()
    tracker = TargetTracker()
    assert _send(tracker, 1.0, 0.0, ctx) and _send(tracker, 1.0, 0.0, ctx)
    assert not _send(tracker, 1.0, 0.0, ctx)  # backing off
    assert _send(tracker, 1.0, 0.5, ctx)  # the position moved: send at once
    assert _send(tracker, -1.0, 0.5, ctx)  # reversed: send at once
    assert _send(tracker, 0.5, 0.5, ctx) == ()  # reached: reset
    assert _send(tracker, 1.0, 0.5, ctx)
