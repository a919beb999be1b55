"""Portfolio accounting: average cost, partial closes, flips, fees, cash per venue, de-dup."""

from __future__ import annotations

import json
import math

import pytest

from bot_core.orders import Fill, Side
from bot_core.portfolio import Portfolio

T0 = 1_700_000_000 * 1_000_000_000


def fill(side: Side, qty: float, price: float, tid: str, *, fee: float = 0.0,
         strategy: str = "s1", venue: str = "a", instrument: str = "BTC/USDT") -> Fill:
    return Fill(tid, f"c-{tid}", venue, instrument, side, qty, price, fee, T0, strategy_id=strategy)


def identity_holds(pf: Portfolio) -> None:
    """equity = initial + realized - fees + unrealized, and = cash + sum(qty * mark)."""
    marked = sum(r.qty * pf.last_price(r.instrument, r.venue) for r in pf.positions() if r.qty)
    assert pf.equity == pytest.approx(pf.cash + marked, abs=1e-6)
    unrealized = sum(r.unrealized(pf.last_price(r.instrument, r.venue)) for r in pf.positions())
    assert pf.unrealized_pnl == pytest.approx(unrealized, abs=1e-6)
    assert pf.equity == pytest.approx(
        pf.initial_cash + pf.realized_pnl - pf.fees + pf.unrealized_pnl, abs=1e-6)


def test_long_add_partial_close_and_fees() -> None:
    pf = Portfolio(10_000.0)
    assert pf.apply_fill(fill(Side.BUY, 2.0, 100.0, "t1", fee=0.2))
    assert pf.apply_fill(fill(Side.BUY, 2.0, 110.0, "t2", fee=0.22))
    assert pf.position("BTC/USDT") == 4.0
    assert pf.avg_price("BTC/USDT") == pytest.approx(105.0)
    pf.mark("BTC/USDT", 120.0, T0 + 1, "a")
    assert pf.unrealized_pnl == pytest.approx(60.0)
    assert pf.apply_fill(fill(Side.SELL, 1.0, 120.0, "t3", fee=0.12))
    assert pf.realized_pnl == pytest.approx(15.0)
    assert pf.position("BTC/USDT") == 3.0 and pf.avg_price("BTC/USDT") == pytest.approx(105.0)
    assert pf.fees == pytest.approx(0.54)
    assert pf.cash == pytest.approx(10_000 - 200.2 - 220.22 + 119.88)
    assert pf.gross_exposure == pytest.approx(360.0)
    identity_holds(pf)


def test_short_then_flip_through_zero() -> None:
    pf = Portfolio(10_000.0)
    pf.apply_fill(fill(Side.SELL, 3.0, 50.0, "t1"))
    assert pf.position("BTC/USDT") == -3.0
    pf.mark("BTC/USDT", 40.0, T0, "a")
    assert pf.unrealized_pnl == pytest.approx(30.0)
    assert pf.market_value == pytest.approx(-120.0)
    assert pf.gross_exposure == pytest.approx(120.0)
    pf.apply_fill(fill(Side.BUY, 5.0, 40.0, "t2"))  # closes 3 (+30), opens 2 long at 40
    assert pf.realized_pnl == pytest.approx(30.0)
    assert pf.position("BTC/USDT") == 2.0
    assert pf.avg_price("BTC/USDT") == 40.0
    rec = next(pf.positions(open_only=True))
    assert (rec.qty, rec.avg_price, rec.realized) == (2.0, 40.0, pytest.approx(30.0))
    identity_holds(pf)


def test_close_to_exactly_flat_despite_float_residue() -> None:
    pf = Portfolio(1_000.0)
    for i in range(10):
        pf.apply_fill(fill(Side.BUY, 0.1, 10.0, f"b{i}"))
    pf.apply_fill(fill(Side.SELL, 1.0, 11.0, "s"))
    assert pf.position("BTC/USDT") == 0.0
    assert pf.position("BTC/USDT", "a") == 0.0
    assert math.isnan(pf.avg_price("BTC/USDT"))
    assert list(pf.positions(open_only=True)) == []
    assert pf.realized_pnl == pytest.approx(1.0)
    identity_holds(pf)


def test_duplicate_trade_id_changes_nothing() -> None:
    pf = Portfolio(1_000.0)
    f = fill(Side.BUY, 1.0, 10.0, "t1", fee=0.1)
    assert pf.apply_fill(f) is True
    before = pf.snapshot()
    assert pf.apply_fill(f) is False
    assert pf.snapshot() == before
    assert pf.has_trade("a", "t1") and not pf.has_trade("b", "t1")
    # the same trade id on another venue is another trade
    assert pf.apply_fill(fill(Side.BUY, 1.0, 10.0, "t1", venue="b"))
    assert pf.position("BTC/USDT") == 2.0


def test_positions_per_strategy_and_venue_combine() -> None:
    pf = Portfolio(100_000.0)
    pf.apply_fill(fill(Side.BUY, 1.0, 100.0, "t1", strategy="a1", venue="va"))
    pf.apply_fill(fill(Side.BUY, 2.0, 130.0, "t2", strategy="a2", venue="va"))
    pf.apply_fill(fill(Side.SELL, 0.5, 120.0, "t3", strategy="a2", venue="vb"))
    assert pf.position("BTC/USDT") == 2.5
    assert pf.position("BTC/USDT", "va") == 3.0
    assert pf.position("BTC/USDT", "vb") == -0.5
    assert pf.position("BTC/USDT", strategy="a2") == 1.5
    assert pf.position("BTC/USDT", "vb", "a2") == -0.5
    assert pf.position("BTC/USDT", "vb", "a1") == 0.0
    assert pf.avg_price("BTC/USDT", "va") == pytest.approx(120.0)
    assert pf.avg_price("BTC/USDT", strategy="a1") == 100.0
    assert pf.cash_at("va") == pytest.approx(-360.0)
    assert pf.cash_at("vb") == pytest.approx(60.0)
    assert pf.cash_at(None) == 100_000.0
    assert pf.cash_by_venue == {None: 100_000.0, "va": -360.0, "vb": 60.0}
    pf.mark("BTC/USDT", 140.0, T0 + 5)  # no venue: every venue holding it
    assert pf.last_price("BTC/USDT", "vb") == 140.0
    assert pf.last_update_ns("BTC/USDT", "va") == T0 + 5
    assert pf.gross_exposure == pytest.approx(3.5 * 140.0)
    identity_holds(pf)


def test_venue_cash_split() -> None:
    pf = Portfolio(1_000.0, venue_cash={"a": 600.0, "b": 400.0})
    assert pf.cash_at("a") == 600.0 and pf.cash_at(None) == 0.0 and pf.cash == 1_000.0
    with pytest.raises(ValueError, match="sums to 900"):
        Portfolio(1_000.0, venue_cash={"a": 900.0})


@pytest.mark.parametrize("bad", [
    {"quantity": 0.0}, {"quantity": -1.0}, {"quantity": math.nan}, {"price": 0.0},
    {"price": math.inf}, {"fee": math.nan},
])
def test_bad_fill_raises_and_books_nothing(bad: dict[str, float]) -> None:
    pf = Portfolio(1_000.0)
    values = {"quantity": 1.0, "price": 10.0, "fee": 0.0, **bad}
    bad_fill = Fill("t1", "c1", "a", "BTC/USDT", Side.BUY, values["quantity"], values["price"],
                    values["fee"], T0)
    with pytest.raises(ValueError, match="t1"):
        pf.apply_fill(bad_fill)
    assert pf.equity == 1_000.0 and not pf.has_trade("a", "t1")


def test_other_quote_currency_is_refused() -> None:
    pf = Portfolio(1_000.0, "USDT")
    with pytest.raises(ValueError, match="quoted in BTC"):
        pf.apply_fill(fill(Side.BUY, 1.0, 0.05, "t1", instrument="ETH/BTC"))
    with pytest.raises(ValueError):
        Portfolio(0.0)
    with pytest.raises(ValueError):
        Portfolio(math.nan)


def test_bad_marks_are_ignored() -> None:
    pf = Portfolio(1_000.0)
    pf.apply_fill(fill(Side.BUY, 1.0, 10.0, "t1"))
    for bad in (math.nan, 0.0, -5.0, math.inf):
        pf.mark("BTC/USDT", bad, T0 + 1, "a")
    assert pf.last_price("BTC/USDT", "a") == 10.0
    assert pf.equity == 1_000.0
    assert math.isnan(pf.last_price("ETH/USDT"))
    assert pf.last_update_ns("ETH/USDT") == 0


def test_equity_is_summed_in_first_traded_order_without_drift() -> None:
    # after 20,000 marks, equity is cash plus the pairs' values summed left to right in the
    # order they were first traded, to the last bit: the compiled replay sums them so too
    pf = Portfolio(1_000_000.0)
    pf.apply_fill(fill(Side.BUY, 3.0, 100.0, "t1"))
    pf.apply_fill(fill(Side.SELL, 7.0, 10.0, "t2", instrument="ETH/USDT", venue="b"))
    for i in range(10_000):
        pf.mark("BTC/USDT", 100.0 + (i % 97) * 0.01, T0 + i, "a")
        pf.mark("ETH/USDT", 10.0 + (i % 13) * 0.001, T0 + i, "b")
    btc, eth = 3.0 * pf.last_price("BTC/USDT"), -7.0 * pf.last_price("ETH/USDT")
    assert pf.market_value == (0.0 + btc) + eth
    assert pf.gross_exposure == (0.0 + abs(btc)) + abs(eth)
    assert pf.equity == pf.cash + ((0.0 + btc) + eth)
    identity_holds(pf)


def test_snapshot_round_trips_through_json() -> None:
    pf = Portfolio(50_000.0)
    pf.apply_fill(fill(Side.BUY, 1.5, 100.0, "t1", fee=0.3))
    pf.apply_fill(fill(Side.SELL, 2.0, 20.0, "t2", instrument="ETH/USDT", venue="b",
                       strategy="s2", fee=0.1))
    pf.mark("BTC/USDT", 105.0, T0 + 3, "a")
    restored = Portfolio.from_snapshot(json.loads(json.dumps(pf.snapshot())))
    assert restored.snapshot() == pf.snapshot()
    assert restored.equity == pytest.approx(pf.equity)
    assert restored.gross_exposure == pytest.approx(pf.gross_exposure)
    assert restored.position("ETH/USDT", "b", "s2") == -2.0
    assert restored.apply_fill(fill(Side.BUY, 1.5, 100.0, "t1")) is False
    identity_holds(restored)
