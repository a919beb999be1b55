"""Metrics and round trips against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot_core.backtest.metrics import compute_metrics, drawdown_series, periods_per_year
from bot_core.backtest.trades import RoundTrip, TradeBook
from bot_core.orders import Fill, Side

DAY_NS = 86_400 * 1_000_000_000


def _fill(n: int, side: Side, qty: float, price: float, fee: float = 0.0, *, ts: int = 0,
          strategy: str = "s") -> Fill:
    return Fill(f"t{n}", f"c{n}", "venue_a", "BTC/USDT", side, qty, price, fee, ts,
                strategy_id=strategy)


def test_metrics_of_a_four_day_curve_by_hand() -> None:
    ts = np.arange(4, dtype=np.int64) * DAY_NS
    equity = np.array([110.0, 99.0, 99.0, 121.0])
    m = compute_metrics(ts, equity, initial_equity=100.0)
    returns = np.array([0.10, -0.10, 0.0, 22.0 / 99.0])
    mean, std = returns.mean(), returns.std(ddof=1)
    downside = math.sqrt((0.10**2) / 4)
    assert m.total_return == pytest.approx(0.21)
    assert m.final_equity == 121.0
    assert m.max_drawdown == pytest.approx(0.10)  # 110 -> 99
    assert m.sharpe == pytest.approx(mean / std * math.sqrt(365.25))
    assert m.sortino == pytest.approx(mean / downside * math.sqrt(365.25))
    years = 3 / 365.25
    assert m.cagr == pytest.approx(1.21 ** (1 / years) - 1)


def test_win_rate_exposure_turnover_and_fees() -> None:
    ts = np.arange(4, dtype=np.int64) * DAY_NS
    trades = [
        RoundTrip("s", "v", "BTC/USDT", "long", 1, 0, 10, DAY_NS, 12, 1.5, 0.5),
        RoundTrip("s", "v", "BTC/USDT", "short", 1, 0, 10, DAY_NS, 11, -1.2, 0.2),
        RoundTrip("s", "v", "BTC/USDT", "long", 1, 0, 10, DAY_NS, 13, 2.9, 0.1),
        RoundTrip("s", "v", "BTC/USDT", "long", 1, 0, 10, None, 9, -1.0, 0.1),  # open
    ]
    m = compute_metrics(ts, np.full(4, 100.0), initial_equity=100.0, trades=trades, fees=0.9,
                        traded_notional=250.0,
                        in_market=np.array([True, False, True, True]))
    assert m.n_trades == 3
    assert m.win_rate == pytest.approx(2 / 3)
    assert m.exposure == pytest.approx(0.75)
    assert m.turnover == pytest.approx(2.5)
    assert m.fees == 0.9
    assert (m.sharpe, m.sortino, m.total_return, m.max_drawdown) == (0.0, 0.0, 0.0, 0.0)


def test_degenerate_curves_give_finite_metrics() -> None:
    empty = compute_metrics(np.zeros(0, dtype=np.int64), np.zeros(0), initial_equity=50.0)
    assert (empty.final_equity, empty.total_return, empty.cagr, empty.win_rate) == \
        (50.0, 0.0, 0.0, 0.0)
    wiped = compute_metrics(np.array([0, DAY_NS]), np.array([10.0, 0.0]), initial_equity=100.0)
    assert wiped.cagr == -1.0 and wiped.max_drawdown == 1.0
    assert all(math.isfinite(v) for v in wiped.as_dict().values())
    assert periods_per_year(np.array([5], dtype=np.int64)) == 0.0
    np.testing.assert_allclose(drawdown_series(np.array([1.0, 2.0, 1.5, 3.0])),
                               [0.0, 0.0, 0.25, 0.0])


def test_round_trips_partial_close_flip_and_fees() -> None:
    book = TradeBook()
    book.add(_fill(1, Side.BUY, 2.0, 100.0, fee=0.2, ts=1))
    book.add(_fill(2, Side.BUY, 2.0, 110.0, fee=0.2, ts=2))      # avg 105, fees 0.4
    book.add(_fill(3, Side.SELL, 1.0, 120.0, fee=0.1, ts=3))     # closes 1 of 4
    book.add(_fill(4, Side.SELL, 5.0, 90.0, fee=0.5, ts=4))      # closes 3, opens 2 short
    first, second = book.closed
    assert (first.side, first.quantity, first.entry_price, first.exit_price) == \
        ("long", 1.0, 105.0, 120.0)
    assert first.fees == pytest.approx(0.1 + 0.1)
    assert first.pnl == pytest.approx(15.0 - 0.2)
    assert second.quantity == 3.0 and second.exit_ns == 4
    assert second.pnl == pytest.approx(3 * (90 - 105) - 0.3 - 0.3)
    (short,) = book.open_trades({("venue_a", "BTC/USDT"): 80.0})
    assert (short.side, short.quantity, short.entry_price, short.exit_ns) == \
        ("short", 2.0, 90.0, None)
    assert short.pnl == pytest.approx(2 * 10.0 - 0.2)
    assert book.fees == pytest.approx(1.0)
    assert book.traded_notional == pytest.approx(200 + 220 + 120 + 450)
    assert first.return_pct == pytest.approx(100 * (120 / 105 - 1))
    assert short.as_dict()["exit_time"] is None
    assert first.as_dict()["entry_time"] == "1970-01-01T00:00:00Z"


def test_round_trips_are_kept_per_strategy() -> None:
    book = TradeBook()
    book.add_all([_fill(1, Side.BUY, 1.0, 10.0, strategy="a"),
                  _fill(2, Side.SELL, 1.0, 10.0, strategy="b"),
                  _fill(3, Side.SELL, 1.0, 12.0, strategy="a")])
    assert [(t.strategy, t.pnl) for t in book.closed] == [("a", 2.0)]
    assert [(t.strategy, t.side) for t in book.open_trades({})] == [("b", "short")]
