"""Round trips from fills, against values computed by hand: one trade from flat to flat, however
many fills it takes; the fills themselves kept in order."""

from __future__ import annotations

import pytest

from bot_core.backtest.trades import TradeBook
from bot_core.orders import Fill, Side


def _fill(n: int, side: Side, qty: float, price: float, fee: float = 0.0, *, ts: int = 0,
          strategy: str = "s") -> Fill:
    return Fill(f"t{n}", f"c{n}", "venue_a", "BTC/USDT", side, qty, price, fee, ts,
                strategy_id=strategy)


def test_a_position_closed_over_many_fills_is_one_trade() -> None:
    # the paper venue's volume cap spreads one exit over many bars: 1 entry, 10 exit fills
    book = TradeBook()
    book.add(_fill(0, Side.BUY, 10.0, 100.0, fee=1.0, ts=0))
    for n in range(1, 11):
        book.add(_fill(n, Side.SELL, 1.0, 100.0 + n, fee=0.1, ts=n))
    (trade,) = book.closed
    assert (trade.side, trade.quantity, trade.entry_ns, trade.exit_ns, trade.fills) == \
        ("long", 10.0, 0, 10, 11)
    assert trade.entry_price == 100.0
    assert trade.exit_price == pytest.approx(105.5)  # the mean of 101 .. 110
    assert trade.fees == pytest.approx(2.0)
    assert trade.gross_pnl == pytest.approx(55.0)
    assert trade.pnl == pytest.approx(53.0)
    assert trade.return_pct == pytest.approx(100 * 53.0 / 1000.0)  # net, as pnl
    assert book.open_trades({}) == []
    assert len(book.fills) == 11 and book.fills[3].price == 103.0


def test_adding_and_reducing_stay_in_the_trade_and_a_reversal_opens_the_next() -> None:
    book = TradeBook()
    book.add(_fill(1, Side.BUY, 2.0, 100.0, fee=0.2, ts=1))
    book.add(_fill(2, Side.BUY, 2.0, 110.0, fee=0.2, ts=2))      # 4 long, avg 105
    book.add(_fill(3, Side.SELL, 1.0, 120.0, fee=0.1, ts=3))     # reduces to 3
    book.add(_fill(4, Side.BUY, 1.0, 130.0, fee=0.1, ts=4))      # adds: 5 opened in all
    book.add(_fill(5, Side.SELL, 6.0, 90.0, fee=0.6, ts=5))      # closes 4, opens 2 short
    (first,) = book.closed
    assert (first.side, first.quantity, first.entry_ns, first.exit_ns, first.fills) == \
        ("long", 5.0, 1, 5, 5)
    assert first.entry_price == pytest.approx((200 + 220 + 130) / 5)
    assert first.exit_price == pytest.approx((120 + 4 * 90) / 5)
    assert first.fees == pytest.approx(0.2 + 0.2 + 0.1 + 0.1 + 0.4)
    # sells minus buys of the trade, whatever the order of the fills
    assert first.gross_pnl == pytest.approx(120 + 360 - 200 - 220 - 130)
    assert first.pnl == pytest.approx(first.gross_pnl - first.fees)
    (short,) = book.open_trades({("venue_a", "BTC/USDT"): 80.0})
    assert (short.side, short.quantity, short.entry_price, short.entry_ns, short.exit_ns,
            short.fills) == ("short", 2.0, 90.0, 5, None, 1)
    assert short.exit_price == 80.0
    assert short.pnl == pytest.approx(2 * 10.0 - 0.2)
    assert book.fees == pytest.approx(1.2)
    assert book.traded_notional == pytest.approx(200 + 220 + 120 + 130 + 540)
    assert short.as_dict()["exit_time"] is None
    assert first.as_dict()["entry_time"] == "1970-01-01T00:00:00Z"


def test_an_open_trade_partly_closed_values_the_rest_at_the_mark() -> None:
    book = TradeBook()
    book.add(_fill(1, Side.SELL, 4.0, 50.0, ts=1))
    book.add(_fill(2, Side.BUY, 1.0, 40.0, ts=2))
    (trade,) = book.open_trades({("venue_a", "BTC/USDT"): 45.0})
    assert (trade.side, trade.quantity, trade.exit_ns, trade.fills) == ("short", 4.0, None, 2)
    assert trade.exit_price == pytest.approx((40 + 3 * 45) / 4)
    assert trade.pnl == pytest.approx(10.0 + 3 * 5.0)


def test_float_residue_closes_the_trade_as_the_portfolio_does() -> None:
    # what the portfolio books as flat (left_flat) the trade book closes too, so the next
    # entry is a trade of its own instead of being added to the old one
    from bot_core.portfolio import Portfolio

    fills = [_fill(1, Side.BUY, 1000.0, 10.0, ts=1),
             _fill(2, Side.SELL, 1000.0 - 1e-8, 11.0, ts=2),
             _fill(3, Side.BUY, 5.0, 12.0, ts=3)]
    portfolio = Portfolio(100_000.0, "USDT")
    book = TradeBook()
    for fill in fills[:2]:
        portfolio.apply_fill(fill)
        book.add(fill)
    assert portfolio.position("BTC/USDT") == 0.0
    book.add(fills[2])
    assert [(t.quantity, t.exit_ns) for t in book.closed] == [(1000.0, 2)]
    (second,) = book.open_trades({})
    assert (second.quantity, second.entry_ns) == (5.0, 3)


def test_round_trips_are_kept_per_strategy() -> None:
    book = TradeBook()
    book.add_all([_fill(1, Side.BUY, 1.0, 10.0, strategy="a"),
                  _fill(2, Side.SELL, 1.0, 10.0, strategy="b"),
                  _fill(3, Side.SELL, 1.0, 12.0, strategy="a")])
    assert [(t.strategy, t.pnl) for t in book.closed] == [("a", 2.0)]
    assert [(t.strategy, t.side) for t in book.open_trades({})] == [("b", "short")]


def _round_trips_of(fills: list) -> tuple[int, int]:
    """(closed, open) round trips counted straight from the fills: flat to flat per position."""
    position: dict[tuple[str, str, str], float] = {}
    closed = 0
    for f in fills:
        key = (f.strategy, f.venue, f.instrument)
        old = position.get(key, 0.0)
        new = old + f.side_sign * f.quantity
        if old != 0.0 and (abs(new) <= 1e-9 * abs(old) or (new > 0) != (old > 0)):
            closed += 1
        position[key] = 0.0 if abs(new) <= 1e-9 * max(abs(old), f.quantity) else new
    return closed, sum(1 for q in position.values() if q != 0.0)


def test_a_backtest_counts_round_trips_not_the_fills_a_thin_market_splits_them_into(
        host, write_config) -> None:
    from bot_core.backtest.driver import run_backtest
    from bot_core.backtest.plan import DataSpec, plan_backtest

    from .conftest import make_bars

    # orders of about 50 units on bars of 40: the paper venue fills at most a quarter of each
    # bar, so every entry and every exit takes about five fills (as FX tick volume does)
    data = {"btc": DataSpec(make_bars(1500, seed=11, volume=40.0), "ohlcv", "BTC/USDT",
                            "venue_a")}
    plan = plan_backtest(host, strategies=["cross"], datasets=data, preset=None,
                         config_path=write_config(notional=5.0, fee=5.0))
    result = run_backtest(plan, host)
    closed = [t for t in result.trades if t.exit_ns is not None]
    assert _round_trips_of(result.fills) == (len(closed), len(result.trades) - len(closed))
    assert result.metrics.n_trades == len(closed) > 10
    assert len(result.fills) > 4 * len(result.trades)
    assert sum(t.fills for t in result.trades) == len(result.fills)  # long/flat: no reversal
    assert max(t.fills for t in closed) >= 8
    assert result.metrics.win_rate == sum(t.pnl > 0 for t in closed) / len(closed)
    assert result.as_dict()["n_fills"] == len(result.fills)

    # with the volume cap off, the same run fills every order at once: one fill in, one out
    uncapped = run_backtest(plan_backtest(host, strategies=["cross"], datasets=data,
                                          preset=None, volume_cap=False,
                                          config_path=write_config(notional=5.0, fee=5.0)),
                            host)
    assert uncapped.path == "compiled"
    assert {t.fills for t in uncapped.trades if t.exit_ns is not None} == {2}
    assert len(uncapped.fills) == sum(t.fills for t in uncapped.trades)


def test_every_trade_in_entry_order_as_columns_and_as_round_trips() -> None:
    import numpy as np

    from bot_core.backtest.metrics import compute_metrics
    from bot_core.backtest.trades import RoundTrips

    book = TradeBook()
    book.add(_fill(0, Side.BUY, 1.0, 100.0, ts=5, strategy="late"))     # closed at 9: +1
    book.add(_fill(1, Side.BUY, 2.0, 50.0, ts=1, strategy="open"))      # still open
    book.add(_fill(2, Side.SELL, 1.0, 10.0, ts=1, strategy="short"))    # closed at 3: +2
    book.add(_fill(3, Side.BUY, 1.0, 8.0, ts=3, strategy="short"))
    book.add(_fill(4, Side.SELL, 1.0, 101.0, ts=9, strategy="late"))
    # columns added after fills given one by one keep the booking order
    book.add_columns([("loss", "venue_a", "BTC/USDT")], np.array([0, 0]),
                     np.array([1.0, -1.0]), np.array([1.0, 1.0]), np.array([20.0, 19.0]),
                     np.array([0.0, 0.0]), np.array([2, 4]))
    trips = book.round_trips({("venue_a", "BTC/USDT"): 60.0})
    assert isinstance(trips, RoundTrips) and len(trips) == 4
    # by entry time, then exit time, an open trade's counting as 0
    assert [(t.strategy, t.entry_ns, t.exit_ns) for t in trips] == [
        ("open", 1, None), ("short", 1, 3), ("loss", 2, 4), ("late", 5, 9)]
    assert trips[0].exit_price == 60.0 and trips[0].pnl == pytest.approx(20.0)
    assert [t.strategy for t in book.closed] == ["short", "late", "loss"]  # as they closed
    assert trips[-1] == book.closed[1] and trips[1:3] == [trips[1], trips[2]]
    assert list(trips) == [trips[i] for i in range(4)]
    with pytest.raises(IndexError):
        trips[4]
    assert sorted(trips.closed_pnl().tolist()) == [-1.0, 1.0, 2.0]
    assert len(book.fills) == 7 and book.fills[5].price == 20.0
    # the metrics count the same trades whether given as columns or one by one
    ts, equity = np.array([1, 2]), np.array([100.0, 101.0])
    by_columns = compute_metrics(ts, equity, initial_equity=100.0, trades=trips)
    one_by_one = compute_metrics(ts, equity, initial_equity=100.0, trades=list(trips))
    assert (by_columns.n_trades, by_columns.win_rate) == (3, pytest.approx(2 / 3))
    assert by_columns == one_by_one
