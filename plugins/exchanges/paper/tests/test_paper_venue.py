"""Behaviour of the paper venue: timing, prices, sizes, money and order lifecycle."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot_core import Bar, Order, OrderIntent, OrderStatus, OrderType, Quote, Side, TimeInForce
from bot_core.testing import assert_fills_follow_bar_fill_model, bar_scenarios
from bot_core_paper import PaperSettings, PaperVenue

MINUTE_NS = 60 * 1_000_000_000
T0 = 1_700_000_000 * 1_000_000_000 // MINUTE_NS * MINUTE_NS


def bar(i: int, o: float, h: float, lo: float, c: float, v: float = 1_000.0,
        instrument: str = "BTC/USDT") -> Bar:
    return Bar("venue_a", instrument, T0 + i * MINUTE_NS, o, h, lo, c, v)


def quote(ts_ns: int, bid: float, ask: float, bid_size: float = 5.0, ask_size: float = 5.0,
          instrument: str = "BTC/USDT") -> Quote:
    return Quote("venue_a", instrument, ts_ns, bid, ask, bid_size, ask_size)


_seq = iter(range(1, 10**9))


def order(side: Side, qty: float, *, limit: float | None = None,
          tif: TimeInForce = TimeInForce.GTC, reduce_only: bool = False,
          instrument: str = "BTC/USDT", cid: str | None = None, ts_ns: int = 0) -> Order:
    intent = OrderIntent(
        strategy_id="s1", venue="venue_a", instrument=instrument, side=side, quantity=qty,
        client_order_id=cid or f"c{next(_seq)}",
        order_type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
        limit_price=limit, time_in_force=tif, reduce_only=reduce_only, ts_ns=ts_ns,
    )
    return Order(intent, qty)


def venue(**settings: object) -> PaperVenue:
    base = {"taker_fee_bps": 0.0, "maker_fee_bps": 0.0, "slippage_bps": 0.0}
    return PaperVenue(PaperSettings(**{**base, **settings}), name="venue_a")


def fills(reports):
    return [r.fill for r in reports if r.fill is not None]


def test_market_order_decided_on_bar_fills_at_next_bar_open() -> None:
    v = venue()
    assert list(v.on_market_data(bar(0, 100, 101, 99, 100.5))) == []
    reports = v.submit(order(Side.BUY, 1.0))
    assert [r.status for r in reports] == [OrderStatus.ACCEPTED]
    got = fills(v.on_market_data(bar(1, 102, 103, 101, 102.5)))
    assert len(got) == 1
    assert got[0].price == 102.0
    assert got[0].ts_ns == T0 + MINUTE_NS
    assert got[0].liquidity == "taker"
    assert v.balances()["BTC"] == 1.0
    assert v.balances()["USDT"] == pytest.approx(100_000 - 102.0)


def test_fill_on_close_fills_at_the_deciding_bars_close() -> None:
    v = venue(fill_on_close=True)
    v.on_market_data(bar(0, 100, 101, 99, 100.5))
    reports = v.submit(order(Side.BUY, 1.0))
    assert [r.status for r in reports] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert reports[1].fill is not None and reports[1].fill.price == 100.5


def test_fill_on_close_with_latency_is_refused() -> None:
    with pytest.raises(ValidationError, match="latency_ms"):
        PaperSettings(fill_on_close=True, latency_ms=5)


def test_latency_delays_eligibility_past_the_next_bar() -> None:
    v = venue(latency_ms=30_000)  # decided at bar 0's close (= bar 1 open) + 30 s
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.on_market_data(bar(1, 100, 101, 99, 100))  # interval now known: 1 minute
    v.submit(order(Side.BUY, 1.0))
    assert fills(v.on_market_data(bar(2, 105, 106, 104, 105))) == []
    got = fills(v.on_market_data(bar(3, 107, 108, 106, 107)))
    assert [f.price for f in got] == [107.0]


def test_fees_and_slippage_are_charged_against_the_order() -> None:
    v = venue(taker_fee_bps=10.0, slippage_bps=5.0)
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order(Side.SELL, 2.0))
    (f,) = fills(v.on_market_data(bar(1, 200, 201, 199, 200)))
    assert f.price == pytest.approx(200 * (1 - 5e-4))
    assert f.fee == pytest.approx(2 * f.price * 10e-4)
    assert v.balances()["USDT"] == pytest.approx(100_000 + 2 * f.price - f.fee)


def test_volume_impact_grows_with_participation() -> None:
    v = venue(volume_impact_bps=100.0, participation_rate=1.0)
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order(Side.BUY, 50.0))
    (f,) = fills(v.on_market_data(bar(1, 100, 101, 99, 100, v=100.0)))
    assert f.price == pytest.approx(100 * (1 + 100 * 0.5 / 1e4))


def test_partial_fills_are_bounded_by_bar_volume_and_continue() -> None:
    v = venue(participation_rate=0.1)
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order(Side.BUY, 25.0))
    r1 = v.on_market_data(bar(1, 100, 101, 99, 100, v=100.0))
    assert [f.quantity for f in fills(r1)] == [10.0]
    assert r1[0].status is OrderStatus.PARTIALLY_FILLED
    assert r1[0].extra["remaining"] == pytest.approx(15.0)
    r2 = v.on_market_data(bar(2, 100, 101, 99, 100, v=100.0))
    r3 = v.on_market_data(bar(3, 100, 101, 99, 100, v=100.0))
    assert [f.quantity for f in fills(r2) + fills(r3)] == [10.0, 5.0]
    assert r3[-1].status is OrderStatus.FILLED
    assert v.open_orders() == []


def test_volume_budget_is_shared_by_orders_on_the_same_bar() -> None:
    v = venue(participation_rate=0.5)
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order(Side.BUY, 40.0))
    v.submit(order(Side.BUY, 40.0))
    got = fills(v.on_market_data(bar(1, 100, 101, 99, 100, v=100.0)))
    assert sum(f.quantity for f in got) == pytest.approx(50.0)


def test_zero_or_nan_volume_bar_fills_nothing() -> None:
    v = venue()
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order(Side.BUY, 1.0))
    assert fills(v.on_market_data(bar(1, 100, 101, 99, 100, v=0.0))) == []
    assert fills(v.on_market_data(bar(2, 100, 101, 99, 100, v=float("nan")))) == []
    assert len(fills(v.on_market_data(bar(3, 100, 101, 99, 100)))) == 1


def test_without_the_volume_cap_a_bar_fills_any_quantity() -> None:
    # FX tick volume, bars without volume: volume_cap = false fills whole orders whatever
    # the bar's volume, market and limit alike; quotes stay bounded by their size
    v = venue(volume_cap=False, participation_rate=0.01)
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order(Side.BUY, 500.0))
    v.submit(order(Side.BUY, 300.0, limit=99.5))
    got = fills(v.on_market_data(bar(1, 100, 101, 99, 100, v=3.0)))
    assert [f.quantity for f in got] == [500.0, 300.0]
    v.submit(order(Side.SELL, 800.0, tif=TimeInForce.IOC))
    for volume in (0.0, float("nan")):
        reports = v.on_market_data(bar(2, 100, 101, 99, 100, v=volume))
        if volume == 0.0:
            assert [r.status for r in reports] == [OrderStatus.FILLED]
    assert v.balances().get("BTC", 0.0) == 0.0
    assert v.open_orders() == []
    v.on_market_data(quote(T0 + 3 * MINUTE_NS, 99.0, 100.0, ask_size=2.0))
    (f,) = fills(v.submit(order(Side.BUY, 5.0, tif=TimeInForce.IOC)))
    assert f.quantity == 2.0


def test_the_bar_fill_model_carries_the_volume_cap() -> None:
    model = venue(volume_cap=False).bar_fill_model()
    assert model is not None and model.volume_cap is False
    model = venue().bar_fill_model()
    assert model is not None and model.volume_cap is True


def test_resting_limit_fills_only_when_price_trades_through() -> None:
    v = venue(maker_fee_bps=2.0)
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order(Side.BUY, 1.0, limit=95.0))
    assert fills(v.on_market_data(bar(1, 100, 101, 96, 97))) == []
    assert fills(v.on_market_data(bar(2, 97, 98, 95, 96))) == []  # touched, not through
    (f,) = fills(v.on_market_data(bar(3, 96, 97, 94, 95)))
    assert (f.price, f.liquidity) == (95.0, "maker")
    assert f.fee == pytest.approx(95.0 * 2e-4)


def test_marketable_limit_fills_as_taker_never_worse_than_limit() -> None:
    v = venue(slippage_bps=100.0)
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order(Side.SELL, 1.0, limit=99.5))
    (f,) = fills(v.on_market_data(bar(1, 100, 101, 99, 100)))
    assert f.liquidity == "taker"
    assert f.price == 99.5  # 100 - 1% slippage would be 99, capped at the limit


def test_sell_limit_fills_when_high_trades_through() -> None:
    v = venue()
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order(Side.SELL, 1.0, limit=103.0))
    assert fills(v.on_market_data(bar(1, 100, 103, 99, 100))) == []
    (f,) = fills(v.on_market_data(bar(2, 100, 104, 99, 100)))
    assert (f.price, f.side) == (103.0, Side.SELL)


def test_ioc_cancels_the_unfilled_rest_on_the_first_eligible_bar() -> None:
    v = venue(participation_rate=0.1)
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order(Side.BUY, 25.0, tif=TimeInForce.IOC))
    reports = v.on_market_data(bar(1, 100, 101, 99, 100, v=100.0))
    assert [r.status for r in reports] == [OrderStatus.PARTIALLY_FILLED, OrderStatus.CANCELLED]
    assert reports[1].reason == "ioc_remainder"
    assert v.open_orders() == []


def test_ioc_limit_not_marketable_is_cancelled() -> None:
    v = venue()
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order(Side.BUY, 1.0, limit=90.0, tif=TimeInForce.IOC))
    (r,) = v.on_market_data(bar(1, 100, 101, 99, 100))
    assert (r.status, r.reason) == (OrderStatus.CANCELLED, "not_marketable")


def test_fok_fills_whole_or_not_at_all() -> None:
    v = venue(participation_rate=0.1)
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order(Side.BUY, 25.0, tif=TimeInForce.FOK))
    (r,) = v.on_market_data(bar(1, 100, 101, 99, 100, v=100.0))
    assert (r.status, r.reason) == (OrderStatus.CANCELLED, "fok_not_fillable")
    assert v.balances().get("BTC", 0.0) == 0.0
    v.submit(order(Side.BUY, 5.0, tif=TimeInForce.FOK))
    (r,) = v.on_market_data(bar(2, 100, 101, 99, 100, v=100.0))
    assert r.status is OrderStatus.FILLED and r.fill is not None and r.fill.quantity == 5.0


def test_day_order_expires_at_the_utc_day_boundary() -> None:
    v = venue()
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order(Side.BUY, 1.0, limit=50.0, tif=TimeInForce.DAY))
    next_day = 1 + (86_400 // 60)
    (r,) = v.on_market_data(bar(next_day, 100, 101, 99, 100))
    assert (r.status, r.reason) == (OrderStatus.EXPIRED, "day_ended")


def test_cancel_resting_and_unknown_orders() -> None:
    v = venue()
    v.on_market_data(bar(0, 100, 101, 99, 100))
    o = order(Side.BUY, 1.0, limit=50.0)
    v.submit(o)
    (r,) = v.cancel(o.client_order_id)
    assert r.status is OrderStatus.CANCELLED
    (r,) = v.cancel(o.client_order_id)
    assert (r.status, r.reason) == (OrderStatus.REJECTED, "unknown_order")
    assert fills(v.on_market_data(bar(1, 40, 41, 39, 40))) == []


def test_insufficient_balance_rejected_at_submit() -> None:
    v = venue(account="spot", initial_balances={"USDT": 1_000.0})
    v.on_market_data(bar(0, 100, 101, 99, 100))
    (r,) = v.submit(order(Side.SELL, 1.0))  # spot: no BTC to sell
    assert (r.status, r.reason) == (OrderStatus.REJECTED, "insufficient_balance")
    m = venue(max_leverage=1.0, initial_balances={"USDT": 1_000.0})
    m.on_market_data(bar(0, 100, 101, 99, 100))
    assert m.submit(order(Side.BUY, 10.0))[0].status is OrderStatus.ACCEPTED
    m.on_market_data(bar(1, 100, 101, 99, 100))
    (r,) = m.submit(order(Side.BUY, 1.0))  # fully used: 1x leverage on 1,000
    assert (r.status, r.reason) == (OrderStatus.REJECTED, "insufficient_balance")


def test_fill_cut_to_what_the_account_can_pay_and_rest_cancelled() -> None:
    v = venue(account="spot", taker_fee_bps=0.0, initial_balances={"USDT": 1_000.0})
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order(Side.BUY, 8.0))  # affordable at 100, not at 200
    reports = v.on_market_data(bar(1, 200, 201, 199, 200))
    assert reports[0].fill is not None and reports[0].fill.quantity == pytest.approx(5.0)
    assert (reports[1].status, reports[1].reason) == (OrderStatus.CANCELLED, "insufficient_balance")
    assert v.balances()["USDT"] == pytest.approx(0.0, abs=1e-9)


def test_margin_account_can_short_and_reducing_is_always_allowed() -> None:
    v = venue(max_leverage=1.0, initial_balances={"USDT": 1_000.0})
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order(Side.SELL, 10.0))
    v.on_market_data(bar(1, 100, 101, 99, 100))
    assert v.balances()["BTC"] == -10.0
    v.submit(order(Side.BUY, 10.0, reduce_only=True))
    (r,) = v.on_market_data(bar(2, 150, 151, 149, 150))  # loss-making, still allowed
    assert r.status is OrderStatus.FILLED
    assert v.balances()["BTC"] == 0.0
    assert v.balances()["USDT"] == pytest.approx(1_000 + 1_000 - 1_500)


def test_reduce_only_never_increases_or_flips() -> None:
    v = venue()
    v.on_market_data(bar(0, 100, 101, 99, 100))
    (r,) = v.submit(order(Side.SELL, 1.0, reduce_only=True))
    assert (r.status, r.reason) == (OrderStatus.REJECTED, "reduce_only_would_increase")
    v.submit(order(Side.BUY, 2.0))
    v.on_market_data(bar(1, 100, 101, 99, 100))
    v.submit(order(Side.SELL, 5.0, reduce_only=True))
    reports = v.on_market_data(bar(2, 100, 101, 99, 100))
    assert reports[0].fill is not None and reports[0].fill.quantity == 2.0
    assert v.balances()["BTC"] == 0.0
    assert reports[-1].reason == "reduce_only_no_position"


@pytest.mark.parametrize(("make", "reason"), [
    (lambda: order(Side.BUY, 0.0), "invalid_quantity"),
    (lambda: order(Side.BUY, float("nan")), "invalid_quantity"),
    (lambda: order(Side.BUY, 1.0, limit=-1.0), "invalid_limit_price"),
    (lambda: order(Side.BUY, 1.0, instrument="btcusdt"), "invalid_instrument"),
])
def test_invalid_orders_are_rejected_with_a_reason(make, reason) -> None:
    (r,) = venue().submit(make())
    assert (r.status, r.reason) == (OrderStatus.REJECTED, reason)


def test_duplicate_client_order_id_rejected() -> None:
    v = venue()
    v.submit(order(Side.BUY, 1.0, cid="same"))
    (r,) = v.submit(order(Side.BUY, 1.0, cid="same"))
    assert (r.status, r.reason) == (OrderStatus.REJECTED, "duplicate_client_order_id")


def test_trade_ids_are_unique() -> None:
    v = venue(participation_rate=0.01)
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order(Side.BUY, 30.0))
    events = [v.on_market_data(bar(i, 100, 101, 99, 100)) for i in range(1, 5)]
    ids = [f.trade_id for reports in events for f in fills(reports)]
    assert len(ids) == 3 and len(set(ids)) == 3
    assert all(t.startswith("venue_a-") for t in ids)


def test_quote_market_order_fills_at_ask_bounded_by_quoted_size() -> None:
    v = venue(slippage_bps=0.0)
    v.on_market_data(quote(T0, 99.0, 100.0, ask_size=2.0))
    reports = v.submit(order(Side.BUY, 3.0))
    assert [r.status for r in reports] == [OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED]
    assert reports[1].fill is not None
    assert (reports[1].fill.price, reports[1].fill.quantity) == (100.0, 2.0)
    (r,) = v.on_market_data(quote(T0 + 1, 99.5, 100.5, bid_size=1.0, ask_size=4.0))
    assert r.fill is not None and (r.fill.price, r.fill.quantity) == (100.5, 1.0)


def test_quote_sell_fills_at_bid_and_latency_waits_for_a_later_quote() -> None:
    v = venue(latency_ms=5.0)
    v.on_market_data(quote(T0, 99.0, 100.0))
    reports = v.submit(order(Side.SELL, 1.0))
    assert [r.status for r in reports] == [OrderStatus.ACCEPTED]
    assert fills(v.on_market_data(quote(T0 + 4_000_000, 98.0, 99.0))) == []
    (f,) = fills(v.on_market_data(quote(T0 + 5_000_000, 97.0, 98.0)))
    assert f.price == 97.0


def test_quote_limit_rests_then_fills_as_maker_when_ask_crosses() -> None:
    v = venue()
    v.on_market_data(quote(T0, 99.0, 100.0))
    reports = v.submit(order(Side.BUY, 1.0, limit=99.5))
    assert [r.status for r in reports] == [OrderStatus.ACCEPTED]
    (f,) = fills(v.on_market_data(quote(T0 + 10, 99.0, 99.4)))
    assert (f.price, f.liquidity) == (99.5, "maker")


def test_settings_reject_unknown_fields_and_bad_balances() -> None:
    with pytest.raises(ValidationError, match="extra"):
        PaperSettings(fee_bps=1.0)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="finite"):
        PaperSettings(initial_balances={"USDT": float("inf")})
    with pytest.raises(ValidationError, match="upper-case"):
        PaperSettings(initial_balances={"usdt": 1.0})
    s = PaperSettings()
    with pytest.raises(ValidationError):
        s.taker_fee_bps = 1.0  # type: ignore[misc]


def test_every_settings_field_documents_unit_or_meaning() -> None:
    for name, field in PaperSettings.model_fields.items():
        assert field.description and len(field.description) > 20, name


def test_registered_through_the_entry_point() -> None:
    from bot_core.plugins import load_plugins

    host = load_plugins()
    cls = host.exchange("paper")
    assert cls is PaperVenue and cls.simulated is True
    rec = host.record("bot-core-paper")
    assert rec is not None and rec.version == "0.1.0" and rec.status == "enabled"


def test_a_gap_in_bars_does_not_delay_the_next_fill() -> None:
    v = venue()
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.on_market_data(bar(1, 100, 101, 99, 100))
    v.on_market_data(bar(50, 100, 101, 99, 100))  # bars 2..49 skipped
    v.submit(order(Side.BUY, 1.0))
    (f,) = fills(v.on_market_data(bar(51, 103, 104, 102, 103)))
    assert f.price == 103.0


# -- the bar fill model against the venue itself ------------------------------------------------


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=bar_scenarios(), data=st.data())
def test_the_venue_fills_as_its_bar_fill_model(scenario, data) -> None:
    """What the backtest's compiled replay does with bar_fill_model() is what submit and
    on_market_data do: the same fills, and no complete fill where the replay gives way."""
    latency = data.draw(st.sampled_from([0.0, 0.0, 500.0, 90_000.0]), label="latency_ms")
    values = {
        "taker_fee_bps": data.draw(st.sampled_from([0.0, 5.0, 30.0])),
        "slippage_bps": data.draw(st.sampled_from([0.0, 1.0, 25.0])),
        "volume_impact_bps": data.draw(st.sampled_from([0.0, 10.0, 500.0])),
        "participation_rate": data.draw(st.sampled_from([0.01, 0.25, 1.0])),
        "volume_cap": data.draw(st.booleans()),
        "latency_ms": latency,
        "fill_on_close": not latency and data.draw(st.booleans()),
        "account": data.draw(st.sampled_from(["margin", "spot"])),
        "max_leverage": data.draw(st.sampled_from([0.5, 1.0, 3.0])),
    }
    assert_fills_follow_bar_fill_model(PaperVenue(PaperSettings(**values), name="venue_a"),
                                       scenario)
