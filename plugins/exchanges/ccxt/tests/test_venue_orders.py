"""The ccxt adapter against the exchange simulator: orders, fills, rounding, limits, cancel."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot_core import OrderStatus, Side, TimeInForce, load_plugins
from bot_core_ccxt.settings import CcxtSettings
from bot_core_ccxt.venue import CcxtVenue


def fills(reports):
    return [r.fill for r in reports if r.fill is not None]


def test_the_plugin_registers_the_ccxt_adapter() -> None:
    host = load_plugins()
    assert host.exchanges["ccxt"] is CcxtVenue
    record = host.record("ccxt")
    assert record is not None and record.status == "enabled"
    assert record.distribution == "bot-core-ccxt"


def test_settings_are_frozen_and_reject_unknown_fields_and_exchanges() -> None:
    with pytest.raises(ValidationError, match="api_key"):
        CcxtSettings(api_key="inline")  # credentials never live in the config
    with pytest.raises(ValidationError, match="not a ccxt exchange id"):
        CcxtSettings(exchange="nosuchexchange")
    with pytest.raises(ValidationError, match="key_file or environment"):
        CcxtSettings(credentials={"key_file": "/k.toml", "api_key_env": "K"})
    assert CcxtSettings().sandbox is True  # testnet unless said otherwise


def test_a_market_buy_fills_at_once_with_the_venue_trade_id(sim, make_venue, new_order) -> None:
    venue = make_venue()
    reports = venue.submit(new_order(Side.BUY, 0.01))
    assert [r.status for r in reports] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    (fill,) = fills(reports)
    ask = float(sim.venue.book("BTCUSDT", sim.now_ms())[1])
    assert fill.quantity == pytest.approx(0.01)
    assert fill.price == pytest.approx(ask)
    assert fill.trade_id == f"BTC/USDT:{sim.venue.trades[0].trade_id}"
    # the venue took its fee in BTC; the fill books it in USDT at the fill's price
    assert fill.fee == pytest.approx(0.01 * 0.001 * fill.price)
    assert venue.balances()["BTC"] == pytest.approx(1.0 + 0.01 - 0.00001)
    (placed,) = sim.orders_placed()
    assert placed.client_order_id == reports[0].client_order_id
    assert venue.poll() == []  # nothing new: the trade is not reported a second time


def test_partial_fills_of_a_resting_order_arrive_through_poll(sim, make_venue, new_order) -> None:
    venue = make_venue()
    sim.set_liquidity("BTCUSDT", 0.004)
    reports = venue.submit(new_order(Side.BUY, 0.01, limit=29_990.0))
    assert [r.status for r in reports] == [OrderStatus.ACCEPTED]
    sim.set_price("BTCUSDT", 29_900.0)
    got = []
    for _ in range(10):
        got += venue.poll()
        if got and got[-1].status is OrderStatus.FILLED:
            break
    got_fills = fills(got)
    assert len(got_fills) >= 2
    assert sum(f.quantity for f in got_fills) == pytest.approx(0.01)
    assert len({f.trade_id for f in got_fills}) == len(got_fills)
    assert all(f.price == 29_990.0 and f.liquidity == "maker" for f in got_fills)
    assert got[0].status is OrderStatus.PARTIALLY_FILLED
    assert got[-1].status is OrderStatus.FILLED
    assert venue.poll() == []


def test_amounts_and_prices_are_rounded_to_the_venue_grid(sim, make_venue, new_order) -> None:
    venue = make_venue()
    venue.submit(new_order(Side.BUY, 0.0123456789, limit=29_000.129))
    venue.submit(new_order(Side.SELL, 0.0123456789, limit=31_000.121))
    buy, sell = sim.orders_placed()
    assert str(buy.orig_qty) == "0.01234" and str(sell.orig_qty) == "0.01234"
    assert str(buy.price) == "29000.12"  # a buy's price rounds down
    assert str(sell.price) == "31000.13"  # a sell's rounds up: never worse than asked


def test_min_notional_and_min_amount_reject_before_sending(sim, make_venue, new_order) -> None:
    venue = make_venue()
    (small,) = venue.submit(new_order(Side.BUY, 0.0001, limit=30_000.0))
    assert small.status is OrderStatus.REJECTED
    assert small.reason.startswith("min_notional:") and "minimum 5 USDT" in small.reason
    (tiny,) = venue.submit(new_order(Side.BUY, 0.000004))
    assert tiny.status is OrderStatus.REJECTED and tiny.reason.startswith("min_amount:")
    (market_small,) = venue.submit(new_order(Side.SELL, 0.0001))
    assert market_small.reason.startswith("min_notional:")
    assert sim.requested("POST", "/api/v3/order") == 0


def test_unsupported_time_in_force_and_unknown_instruments_are_rejected(make_venue, new_order) -> None:
    venue = make_venue()
    (day,) = venue.submit(new_order(Side.BUY, 0.01, limit=29_000.0, tif=TimeInForce.DAY))
    assert day.reason.startswith("unsupported_time_in_force:")
    (unknown,) = venue.submit(new_order(Side.BUY, 1.0, instrument="DOGE/USDT"))
    assert unknown.status is OrderStatus.REJECTED and "DOGE/USDT is not a spot market" in unknown.reason


def test_ioc_and_fok_limits(sim, make_venue, new_order) -> None:
    venue = make_venue()
    sim.set_liquidity("BTCUSDT", 0.004)
    ioc = venue.submit(new_order(Side.BUY, 0.01, limit=30_100.0, tif=TimeInForce.IOC))
    assert [r.status for r in ioc] == [OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED,
                                       OrderStatus.EXPIRED]
    assert fills(ioc)[0].quantity == pytest.approx(0.004)
    fok = venue.submit(new_order(Side.BUY, 0.01, limit=30_100.0, tif=TimeInForce.FOK))
    assert [r.status for r in fok] == [OrderStatus.ACCEPTED, OrderStatus.EXPIRED]
    assert sim.orders_placed()[-1].time_in_force == "FOK"


def test_cancel_a_resting_order_and_an_unknown_one(sim, make_venue, new_order) -> None:
    venue = make_venue()
    placed = venue.submit(new_order(Side.BUY, 0.01, limit=25_000.0))
    cid = placed[0].client_order_id
    assert sim.balance("USDT") == pytest.approx(100_000 - 250.0)  # locked by the open order
    (cancelled,) = venue.cancel(cid)
    assert cancelled.status is OrderStatus.CANCELLED
    assert sim.balance("USDT") == pytest.approx(100_000.0)
    assert venue.cancel(cid) == []  # already final: nothing new
    (unknown,) = venue.cancel("never-sent")
    assert unknown.status is OrderStatus.REJECTED and unknown.reason.startswith("unknown_order")


def test_a_cancel_after_the_order_filled_reports_the_fill(sim, make_venue, new_order) -> None:
    venue = make_venue()
    cid = venue.submit(new_order(Side.SELL, 0.01, limit=30_500.0))[0].client_order_id
    sim.set_price("BTCUSDT", 31_000.0)
    sim.venue.match_resting(sim.now_ms())  # filled at the venue before our cancel arrives
    reports = venue.cancel(cid)
    assert [r.status for r in reports] == [OrderStatus.FILLED]
    assert fills(reports)[0].price == 30_500.0


def test_reduce_only_on_spot_caps_sells_to_the_holding_and_refuses_buys(sim, make_venue, new_order) -> None:
    venue = make_venue()
    (buy,) = venue.submit(new_order(Side.BUY, 0.01, reduce_only=True))
    assert buy.status is OrderStatus.REJECTED and buy.reason.startswith("reduce_only:")
    reports = venue.submit(new_order(Side.SELL, 5.0, reduce_only=True))
    assert sum(f.quantity for f in fills(reports)) == pytest.approx(1.0)  # all that was held
    assert sim.balance("BTC") == pytest.approx(0.0)


def test_insufficient_funds_is_a_rejection_with_the_venue_message(make_venue, new_order) -> None:
    venue = make_venue()
    (accepted_then,) = venue.submit(new_order(Side.BUY, 100.0, limit=30_000.0))
    assert accepted_then.status is OrderStatus.REJECTED
    assert accepted_then.reason.startswith("insufficient_funds:")
    assert "Account has insufficient balance" in accepted_then.reason
