"""The paper venue's state file: the simulated exchange outlives the bot, and answers the
reconciliation queries from it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot_core import FillsPage, StateError, VenueOrder
from bot_core.market import Bar
from bot_core.orders import Order, OrderIntent, OrderStatus, OrderType, Side, TimeInForce
from bot_core_paper import PaperSettings, PaperVenue

MINUTE_NS = 60 * 1_000_000_000
T0 = 1_700_000_000 * 1_000_000_000 // MINUTE_NS * MINUTE_NS


def bar(i: int, o: float, h: float, lo: float, c: float, v: float = 1_000.0) -> Bar:
    return Bar("venue_a", "BTC/USDT", T0 + i * MINUTE_NS, o, h, lo, c, v)


def order(cid: str, side: Side, qty: float, *, limit: float | None = None) -> Order:
    intent = OrderIntent("s1", "venue_a", "BTC/USDT", side, qty, cid,
                         OrderType.LIMIT if limit is not None else OrderType.MARKET, limit,
                         TimeInForce.GTC)
    return Order(intent, qty)


def venue(path: Path | None, **settings: object) -> PaperVenue:
    base = {"taker_fee_bps": 10.0, "maker_fee_bps": 0.0, "slippage_bps": 0.0,
            "initial_balances": {"USDT": 10_000.0}, "state_file": path}
    return PaperVenue(PaperSettings(**{**base, **settings}), name="venue_a")


def test_the_book_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "venue_a.sqlite"
    first = venue(path)
    first.on_market_data(bar(0, 100, 101, 99, 100))
    first.submit(order("buy-1", Side.BUY, 2.0))
    first.submit(order("sell-1", Side.SELL, 1.0, limit=110.0))
    filled = [r.fill for r in first.on_market_data(bar(1, 102, 103, 101, 102)) if r.fill]
    assert len(filled) == 1
    balances = dict(first.balances())
    first.close()

    second = venue(path, initial_balances={"USDT": 1.0})  # the file wins over the settings
    assert dict(second.balances()) == balances
    assert second.positions() == {"BTC/USDT": 2.0}
    assert [(o.client_order_id, o.status, o.quantity, o.limit_price, o.strategy_id)
            for o in second.open_orders()] == [
        ("sell-1", OrderStatus.ACCEPTED, 1.0, 110.0, "s1")]
    done = second.order_status("buy-1", "BTC/USDT")
    assert isinstance(done, VenueOrder)
    assert (done.status, done.filled_quantity, done.average_price) == (
        OrderStatus.FILLED, 2.0, 102.0)
    assert second.order_status("never-sent", "BTC/USDT") is None
    page = second.fills_since(None, ["BTC/USDT"])
    assert isinstance(page, FillsPage)
    assert page.fills == filled  # same trade id, venue, price, fee
    assert second.fills_since(page.cursor, ["BTC/USDT"]).fills == []
    # the restored order goes on working, and ids stay unique across the restart
    more = [r.fill for r in second.on_market_data(bar(2, 108, 112, 107, 111)) if r.fill]
    assert [(f.client_order_id, f.price, f.trade_id) for f in more] == [
        ("sell-1", 110.0, "venue_a-2")]
    again = second.submit(order("buy-1", Side.BUY, 1.0))
    assert [(r.status, r.reason) for r in again] == [
        (OrderStatus.REJECTED, "duplicate_client_order_id")]
    assert [f.trade_id for f in second.fills_since(page.cursor, ["BTC/USDT"]).fills] == [
        "venue_a-2"]
    second.close()


def test_market_data_seen_before_a_restart_is_not_lived_again(tmp_path: Path) -> None:
    path = tmp_path / "venue_a.sqlite"
    first = venue(path)
    first.on_market_data(bar(0, 100, 101, 99, 100))
    first.submit(order("buy-1", Side.BUY, 1.0, limit=95.0))
    assert list(first.on_market_data(bar(1, 100, 101, 99, 100))) == []
    first.close()
    second = venue(path)
    # a replay resumed from an earlier point sends bar 1 again: already lived through
    assert list(second.on_market_data(bar(1, 96, 97, 90, 96))) == []
    assert [o.client_order_id for o in second.open_orders()] == ["buy-1"]
    fills = [r.fill for r in second.on_market_data(bar(2, 96, 97, 90, 96)) if r.fill]
    assert [(f.client_order_id, f.price) for f in fills] == [("buy-1", 95.0)]
    second.close()


_KILLED = """
import os, signal, sys
from pathlib import Path
from bot_core.market import Bar
from bot_core.orders import Order, OrderIntent, Side
from bot_core_paper import PaperSettings, PaperVenue
T0 = {t0}
v = PaperVenue(PaperSettings(initial_balances={{"USDT": 10000.0}}, taker_fee_bps=10.0,
                             slippage_bps=0.0, state_file=Path(sys.argv[1])), name="venue_a")
v.on_market_data(Bar("venue_a", "BTC/USDT", T0, 100, 101, 99, 100, 1000))
v.submit(Order(OrderIntent("s1", "venue_a", "BTC/USDT", Side.BUY, 1.0, "b1"), 1.0))
v.on_market_data(Bar("venue_a", "BTC/USDT", T0 + 60_000_000_000, 102, 103, 101, 102, 1000))
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX")
def test_a_killed_process_loses_nothing_it_reported(tmp_path: Path) -> None:
    path = tmp_path / "venue_a.sqlite"
    done = subprocess.run([sys.executable, "-c", _KILLED.format(t0=T0), str(path)],
                          capture_output=True, text=True, timeout=60, check=False,
                          env=dict(os.environ))
    assert done.returncode == -signal.SIGKILL, done.stderr
    after = venue(path)
    assert after.positions() == {"BTC/USDT": 1.0}
    assert after.balances()["USDT"] == pytest.approx(10_000.0 - 102.0 - 0.102)
    assert after.order_status("b1", "BTC/USDT").status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert [f.trade_id for f in after.fills_since(None, ["BTC/USDT"]).fills] == ["venue_a-1"]
    after.close()


def test_one_process_per_state_file(tmp_path: Path) -> None:
    path = tmp_path / "venue_a.sqlite"
    first = venue(path)
    with pytest.raises(StateError, match="in use by another process"):
        venue(path)
    first.close()
    venue(path).close()


def test_bad_state_files_are_one_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(StateError, match=r"junk.sqlite: not a paper venue state file"):
        venue(junk)
    newer = tmp_path / "newer.sqlite"
    venue(newer).close()
    raw = sqlite3.connect(newer)
    raw.execute("PRAGMA user_version = 99")
    raw.commit()
    raw.close()
    with pytest.raises(StateError, match=r"schema version 99, written by a newer"):
        venue(newer)
    with pytest.raises(StateError, match=r"its directory does not exist"):
        venue(tmp_path / "missing" / "venue.sqlite")


def test_without_a_state_file_only_the_present_is_known() -> None:
    v = venue(None)
    v.on_market_data(bar(0, 100, 101, 99, 100))
    v.submit(order("buy-1", Side.BUY, 1.0))
    v.submit(order("rest", Side.BUY, 1.0, limit=50.0))
    v.on_market_data(bar(1, 100, 101, 99, 100))
    assert [o.client_order_id for o in v.open_orders()] == ["rest"]
    assert v.order_status("rest", "BTC/USDT").status is OrderStatus.ACCEPTED  # type: ignore[union-attr]
    assert v.positions() == {"BTC/USDT": 1.0}
    with pytest.raises(NotImplementedError, match="no history"):
        v.order_status("buy-1", "BTC/USDT")
    with pytest.raises(NotImplementedError, match="no fill history"):
        v.fills_since(None, ["BTC/USDT"])
    assert v.order_status("unknown", "BTC/USDT") is None
    assert v.bar_fill_model() is None  # holds orders
    assert venue(None).bar_fill_model() is not None


def test_a_venue_with_a_state_file_never_offers_the_compiled_fill_model(tmp_path: Path) -> None:
    v = venue(tmp_path / "v.sqlite")
    assert v.bar_fill_model() is None  # every order must reach it, to be recorded
    v.close()
