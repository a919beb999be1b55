"""The queries a restart reconciles with: open orders, an order by client id, fills since a
cursor, balances; and a restart mid-run adopting an open order and booking its fills once."""

from __future__ import annotations

import json

import pytest

from bot_core import OrderStatus, Side


def test_a_restart_adopts_open_orders_and_books_missed_fills_once(sim, make_venue,
                                                                  new_order) -> None:
    first = make_venue()
    sim.set_liquidity("BTCUSDT", 0.004)
    resting = new_order(Side.BUY, 0.01, limit=29_990.0, cid="s1-run1-resting")
    first.submit(resting)
    first.submit(new_order(Side.BUY, 0.01, limit=20_000.0, cid="s1-run1-far"))
    sim.set_price("BTCUSDT", 29_900.0)
    sim.venue.match_resting(sim.now_ms())
    sim.set_price("BTCUSDT", 30_000.0)  # one partial fill, then the market moves away
    before_crash = first.poll()
    assert sum(r.fill.quantity for r in before_crash if r.fill) == pytest.approx(0.004)
    cursor = json.loads(json.dumps(first.fills_since(None, ["BTC/USDT"]).cursor))
    first.close()  # crash: the state store kept the cursor and the open client ids

    sim.set_price("BTCUSDT", 29_900.0)
    sim.venue.match_resting(sim.now_ms())  # a fill while we are down
    sim.set_price("BTCUSDT", 30_000.0)
    second = make_venue()
    open_now = second.open_orders()
    assert {o.client_order_id for o in open_now} == {"s1-run1-far", "s1-run1-resting"}
    assert {o.venue_order_id for o in open_now} == {str(o.order_id) for o in sim.orders_placed()}
    adopted = second.order_status("s1-run1-resting", "BTC/USDT")  # tracked from now on
    assert adopted is not None and adopted.filled_quantity == pytest.approx(0.008)
    assert adopted.status is OrderStatus.PARTIALLY_FILLED and adopted.limit_price == 29_990.0
    assert second.order_status("never-sent", "BTC/USDT") is None

    page = second.fills_since(cursor, ["BTC/USDT"])
    assert [(f.client_order_id, f.quantity) for f in page.fills] == [("s1-run1-resting", 0.004)]
    assert page.fills[0].trade_id.startswith("BTC/USDT:")
    assert second.fills_since(page.cursor, ["BTC/USDT"]).fills == []  # booked once

    sim.set_price("BTCUSDT", 29_900.0)  # the adopted order fills on: poll reports it
    later = [r for _ in range(5) for r in second.poll()]
    assert sum(r.fill.quantity for r in later if r.fill) == pytest.approx(0.002)
    assert later[-1].status is OrderStatus.FILLED and later[-1].client_order_id == "s1-run1-resting"
    sim.set_price("BTCUSDT", 30_000.0)
    assert second.positions() == {"BTC/USDT": pytest.approx(1.0 + 0.01 * (1 - 0.001))}
    balances = second.account_balances()
    assert balances["USDT"].used == pytest.approx(200.0)  # locked by the far order
    assert balances["BTC"].total == pytest.approx(balances["BTC"].free + balances["BTC"].used)


def test_fills_of_orders_placed_elsewhere_carry_the_venue_client_id(sim, make_venue,
                                                                    new_order) -> None:
    venue = make_venue()
    venue.submit(new_order(Side.BUY, 0.01, cid="s1-run1-a"))
    other = make_venue()  # knows nothing of s1-run1-a
    page = other.fills_since(None, ["BTC/USDT"])
    assert [f.client_order_id for f in page.fills] == ["s1-run1-a"]
    assert other.poll() == []  # not one of its orders: polls report nothing


def test_long_client_ids_are_hashed_to_the_venue_limit_and_found_again(sim, make_venue,
                                                                       new_order) -> None:
    venue = make_venue()
    cid = "a-strategy-with-a-long-name-20260101T000000Z-123456"
    reports = venue.submit(new_order(Side.BUY, 0.01, cid=cid))
    assert reports[-1].status is OrderStatus.FILLED and reports[-1].client_order_id == cid
    (placed,) = sim.orders_placed()
    assert len(placed.client_order_id) <= 36 and placed.client_order_id.startswith("bc-")
    restarted = make_venue()
    found = restarted.order_status(cid, "BTC/USDT")
    assert found is not None and found.client_order_id == cid and found.status is OrderStatus.FILLED
