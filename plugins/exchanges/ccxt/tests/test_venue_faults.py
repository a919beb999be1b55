"""Every fault the simulator injects, against the adapter: retried, bounded, never doubled."""

from __future__ import annotations

import time

import pytest

from bot_core import (
    OrderStatus,
    Side,
    VenueAuthenticationError,
    VenueRateLimitedError,
    VenueUnavailableError,
)
from bot_core_ccxt.testing import Fault

ORDER = "/api/v3/order"
ACCOUNT = "/api/v3/account"


def fills(reports):
    return [r.fill for r in reports if r.fill is not None]


@pytest.mark.parametrize("fault, kwargs", [
    (Fault.RATE_LIMIT, {"retry_after_s": 0}),
    (Fault.BAN, {"retry_after_s": 0}),
    (Fault.SERVER_ERROR, {"status": 503}),
    (Fault.SERVER_ERROR, {"status": 500}),
    (Fault.TIMEOUT, {"seconds": 1.0}),
    (Fault.RESPONSE_LOST, {}),
])
def test_a_burst_of_faults_on_a_query_is_retried(sim, make_venue, fault, kwargs) -> None:
    venue = make_venue()
    sim.inject(fault, method="GET", path=ACCOUNT, times=3, **kwargs)
    assert venue.balances()["USDT"] == pytest.approx(100_000.0)
    assert sim.requested("GET", ACCOUNT) == 1 + 3 + 1  # connect's check, 3 faults, the success


def test_a_persistent_outage_gives_up_at_the_deadline(sim, make_venue) -> None:
    venue = make_venue(deadline_ms=1_500)
    sim.inject(Fault.SERVER_ERROR, path=ACCOUNT, times=1_000)
    started = time.monotonic()
    with pytest.raises(VenueUnavailableError, match=r"gave up after .* within 1500 ms"):
        venue.balances()
    assert time.monotonic() - started < 1.5 + 0.6  # the deadline, plus at most one request


def test_retry_after_is_honoured_and_a_long_ban_fails_fast(sim, make_venue) -> None:
    venue = make_venue()
    sim.inject(Fault.RATE_LIMIT, path=ACCOUNT, retry_after_s=1)
    started = time.monotonic()
    venue.balances()
    assert time.monotonic() - started >= 1.0
    sim.inject(Fault.BAN, path=ACCOUNT, retry_after_s=120)  # beyond the 6 s deadline
    started = time.monotonic()
    with pytest.raises(VenueRateLimitedError, match="banned until"):
        venue.balances()
    assert time.monotonic() - started < 1.0


def test_an_order_whose_response_is_lost_is_placed_exactly_once(sim, make_venue, new_order) -> None:
    venue = make_venue()
    sim.inject(Fault.RESPONSE_LOST, method="POST", path=ORDER)
    reports = venue.submit(new_order(Side.BUY, 0.01))
    assert [r.status for r in reports] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert len(sim.orders_placed()) == 1
    assert sim.requested("POST", ORDER) == 1  # found by its client id: never sent again
    assert sum(f.quantity for f in fills(reports)) == pytest.approx(0.01)
    assert venue.poll() == []


def test_a_5xx_after_the_order_was_executed_gives_one_order(sim, make_venue, new_order) -> None:
    venue = make_venue()
    sim.inject(Fault.SERVER_ERROR, method="POST", path=ORDER, status=502, processed=True)
    reports = venue.submit(new_order(Side.BUY, 0.01, limit=29_000.0))
    assert [r.status for r in reports] == [OrderStatus.ACCEPTED]
    assert len(sim.orders_placed()) == 1 and sim.requested("POST", ORDER) == 1


def test_an_order_that_timed_out_unprocessed_is_sent_again_after_its_window(sim, make_venue,
                                                                             new_order) -> None:
    venue = make_venue()
    sim.inject(Fault.TIMEOUT, method="POST", path=ORDER, seconds=2.0)
    started = time.monotonic()
    reports = venue.submit(new_order(Side.BUY, 0.01))
    assert [r.status for r in reports] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert sim.requested("POST", ORDER) == 2 and len(sim.orders_placed()) == 1
    # not before the lost request's recvWindow (1 s) + margin (1 s) had passed
    assert time.monotonic() - started >= 2.0


def test_an_order_executed_late_by_a_slow_venue_is_not_sent_twice(sim, make_venue, new_order) -> None:
    venue = make_venue()
    # held 0.8 s (the client gives up after 0.5 s), then executed: still inside its 1 s window
    sim.inject(Fault.SLOW, method="POST", path=ORDER, seconds=0.8)
    reports = venue.submit(new_order(Side.BUY, 0.01))
    assert [r.status for r in reports] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert sim.requested("POST", ORDER) == 1 and len(sim.orders_placed()) == 1


def test_a_slow_request_past_its_window_is_refused_by_the_venue_and_sent_again(sim, make_venue,
                                                                                new_order) -> None:
    venue = make_venue()
    sim.inject(Fault.SLOW, method="POST", path=ORDER, seconds=1.5)  # beyond the 1 s window
    reports = venue.submit(new_order(Side.BUY, 0.01))
    assert [r.status for r in reports] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert sim.requested("POST", ORDER) == 2 and len(sim.orders_placed()) == 1


def test_an_order_unsettled_at_the_deadline_stays_open_and_poll_settles_it(sim, make_venue,
                                                                          new_order) -> None:
    venue = make_venue(deadline_ms=1_500)
    sim.inject(Fault.RESPONSE_LOST, method="POST", path=ORDER)
    sim.inject(Fault.SERVER_ERROR, method="GET", path=ORDER, times=1_000)  # lookups fail too
    (report,) = venue.submit(new_order(Side.BUY, 0.01))
    assert report.status is OrderStatus.ACCEPTED and report.reason.startswith("unconfirmed:")
    sim._faults.clear()  # the venue recovers
    reports = venue.poll()
    assert [r.status for r in reports] == [OrderStatus.FILLED]
    assert len(sim.orders_placed()) == 1 and sim.requested("POST", ORDER) == 1


def test_an_unsettled_order_that_never_arrived_is_rejected_by_poll(sim, make_venue, new_order) -> None:
    venue = make_venue(deadline_ms=1_500)
    sim.inject(Fault.TIMEOUT, method="POST", path=ORDER, seconds=0.6)
    sim.inject(Fault.SERVER_ERROR, method="GET", path=ORDER, times=1_000)
    (report,) = venue.submit(new_order(Side.BUY, 0.01))
    assert report.reason.startswith("unconfirmed:")
    sim._faults.clear()
    time.sleep(2.0)  # the lost request's window (1 s) + margin (1 s)
    (settled,) = venue.poll()
    assert settled.status is OrderStatus.REJECTED and "never reached the venue" in settled.reason
    assert sim.orders_placed() == []


def test_rejects_keep_the_venue_code_and_message(sim, make_venue, new_order) -> None:
    venue = make_venue()
    sim.inject(Fault.REJECT, method="POST", path=ORDER, code=-2010,
               msg="Order would immediately match and take.")
    (report,) = venue.submit(new_order(Side.BUY, 0.01, limit=29_000.0))
    assert report.status is OrderStatus.REJECTED
    assert report.reason.startswith("invalid_order:")
    assert "Order would immediately match and take." in report.reason  # the venue's words
    assert sim.orders_placed() == []


def test_clock_skew_is_measured_again_and_the_request_succeeds(sim, make_venue, new_order) -> None:
    venue = make_venue()
    sim.clock_skew_ms = 30_000  # the venue's clock jumps ahead: our timestamps look stale
    assert venue.balances()["USDT"] == pytest.approx(100_000.0)
    sim.clock_skew_ms = -30_000  # behind: ours look 30 s in the future
    reports = venue.submit(new_order(Side.BUY, 0.01))
    assert reports[-1].status is OrderStatus.FILLED and len(sim.orders_placed()) == 1


def test_a_rejected_key_is_one_clear_line_at_start_up(sim, make_venue) -> None:
    bad = {"BOT_CORE_VENUE_SIM_API_KEY": "k3y-0f-the-test-4ccount-A1B2C3",
           "BOT_CORE_VENUE_SIM_API_SECRET": "not-the-secret"}
    with pytest.raises(VenueAuthenticationError) as caught:
        make_venue(environ=bad)
    message = str(caught.value)
    assert "\n" not in message and "was rejected by binance" in message
    assert "BOT_CORE_VENUE_SIM_API_KEY" in message and "not-the-secret" not in message
    assert caught.value.exit_code == 2


def test_a_missing_key_names_the_variables(make_venue) -> None:
    with pytest.raises(VenueAuthenticationError, match="set the environment variable"
                       r"\(s\) BOT_CORE_VENUE_SIM_API_KEY and BOT_CORE_VENUE_SIM_API_SECRET"):
        make_venue(environ={})
