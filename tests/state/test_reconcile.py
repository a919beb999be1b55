"""Restart: restore from a real state file, then reconcile with a real paper venue that kept its
own state file. Each test runs a "process" (a pipeline, its state store and its venue), lets it
die at a chosen moment (nothing closed cleanly, nothing flushed that was not committed), then
starts a second one on the same files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

import bot_core
from bot_core import (
    Bar,
    ExchangeAdapter,
    ExecutionReport,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    Strategy,
    StrategySettings,
    TradingState,
)
from bot_core.config import BotConfig
from bot_core.pipeline import TradingPipeline
from bot_core.portfolio import Portfolio
from bot_core.risk.check import VerdictAction
from bot_core.risk.engine import RiskEngine
from bot_core.runinfo import RunInfo
from bot_core.state import Lifecycle, StateObserver, StateStore, reconcile, restore
from bot_core_paper import PaperSettings, PaperVenue

MINUTE = 60 * 1_000_000_000
T0 = 1_700_000_000 * 1_000_000_000 // MINUTE * MINUTE


class Quiet(Strategy):
    """A strategy that decides nothing by itself: the tests submit its intents."""

    id: ClassVar[str] = "quiet"
    Settings: ClassVar[type[StrategySettings]] = StrategySettings

    def on_bar(self, bar: Bar, ctx: Any) -> list[OrderIntent]:
        return []


def _config() -> BotConfig:
    return BotConfig.model_validate({
        "profile": "balanced", "name": "rb",
        "venues": {"venue_a": {"adapter": "paper"}},
        "instruments": ["BTC/USDT"],
        "strategies": {"s1": {"plugin": "quiet", "instruments": ["BTC/USDT"],
                              "venues": ["venue_a"]}},
        "risk": {"max_position_pct": 100, "max_total_position_pct": 300,
                 "max_bucket_exposure_pct": 300, "daily_loss_limit_pct": 50,
                 "drawdown_liquidation_pct": 60, "max_leverage": 3,
                 "max_orders_per_minute": 1000, "checks": []},
    })


@pytest.fixture(scope="module")
def host() -> bot_core.PluginHost:
    return bot_core.load_plugins(environ={})


@dataclass
class Process:
    """One life of the bot: its pipeline, state file and the venue (its own state file)."""

    pipeline: TradingPipeline
    store: StateStore
    venue: PaperVenue
    observer: StateObserver

    def bar(self, i: int, price: float) -> None:
        self.pipeline.mark_bar(Bar("venue_a", "BTC/USDT", T0 + i * MINUTE, price, price * 1.01,
                                   price * 0.99, price, 1e9))

    def intent(self, n: int, side: Side = Side.BUY, qty: float = 1.0,
               limit: float | None = None) -> OrderIntent:
        return OrderIntent("s1", "venue_a", "BTC/USDT", side, qty, f"s1-{self.run_id}-{n}",
                           OrderType.LIMIT if limit else OrderType.MARKET, limit,
                           ts_ns=self.pipeline.now_ns)

    @property
    def run_id(self) -> str:
        return self.pipeline.run.run_id

    def die(self) -> None:
        """kill -9: nothing more is written; the OS closes the files and drops the locks."""
        self.observer.detach()
        self.store.close()
        paper = self.venue._store  # closed as the OS would: without the venue's last save
        assert paper is not None
        paper.close()


def start(host: bot_core.PluginHost, tmp: Path, run_id: str, *,
          venue: ExchangeAdapter | None = None, first: bool = False) -> Process:
    """Build, restore (before start) and attach, as ``bot-core run`` does; a ``first`` life
    also reconciles at once (a later one leaves it to the test)."""
    config = _config()
    portfolio = Portfolio(config.runtime.initial_equity)
    risk = RiskEngine(config, [], portfolio)
    paper = venue or PaperVenue(PaperSettings(taker_fee_bps=10.0, slippage_bps=0.0,
                                              initial_balances={"USDT": 100_000.0},
                                              state_file=tmp / "venue_a.sqlite"),
                                name="venue_a")
    strategy = Quiet(StrategySettings(), name="s1", instruments=["BTC/USDT"],
                     venues=["venue_a"])
    pipeline = TradingPipeline(RunInfo(run_id, "paper", T0, config), host, {"s1": strategy},
                               {"venue_a": paper}, portfolio, risk)
    store = StateStore(tmp / "state.sqlite", clock=lambda: pipeline.now_ns)
    restore(store, pipeline)
    observer = StateObserver(store, pipeline)
    observer.attach()
    pipeline.start()
    if first:
        assert reconcile(pipeline, store, ts_ns=T0).clean
    return Process(pipeline, store, paper, observer)  # type: ignore[arg-type]


class _Crash(BaseException):
    """Stands for the process dying at the point where it is raised."""


def test_an_order_persisted_but_never_sent_is_marked_not_sent(host: Any, tmp_path: Path) -> None:
    first = start(host, tmp_path, "r1", first=True)
    first.bar(0, 100.0)

    def die_before_send(order: Order) -> None:
        raise _Crash

    first.pipeline.before_submit.append(die_before_send)
    with pytest.raises(_Crash):
        first.pipeline.submit([first.intent(1)], first.pipeline.now_ns)
    first.die()

    second = start(host, tmp_path, "r2")
    assert list(second.pipeline.open_orders) == ["s1-r1-1"]  # restored, not yet explained
    report = reconcile(second.pipeline, second.store, ts_ns=T0 + MINUTE)
    assert report.not_sent == ["s1-r1-1"] and report.clean
    order = second.pipeline.orders["s1-r1-1"]
    assert order.status is OrderStatus.REJECTED and order.reason.startswith("not_sent")
    assert second.store.order("s1-r1-1").lifecycle is Lifecycle.NOT_SENT  # type: ignore[union-attr]
    assert second.venue.order_status("s1-r1-1", "BTC/USDT") is None  # never re-sent
    assert second.pipeline.risk.state is TradingState.ACTIVE
    # the id stays used: the same intent again is refused before any venue sees it
    verdicts = second.pipeline.submit([first.intent(1)], T0 + MINUTE)
    assert verdicts[0].reason == "duplicate_client_order_id"
    second.die()


def test_a_fill_the_bot_never_heard_of_is_booked_once(host: Any, tmp_path: Path) -> None:
    first = start(host, tmp_path, "r1", first=True)
    first.bar(0, 100.0)
    first.pipeline.submit([first.intent(1, qty=2.0)], first.pipeline.now_ns)
    # the venue fills it on the next bar, but the bot dies before it hears of it
    next_bar = Bar("venue_a", "BTC/USDT", T0 + MINUTE, 101.0, 102.0, 100.0, 101.5, 1e9)
    assert [r.fill for r in first.venue.on_market_data(next_bar) if r.fill]
    first.die()

    second = start(host, tmp_path, "r2")
    assert second.pipeline.portfolio.position("BTC/USDT", "venue_a") == 0.0
    report = reconcile(second.pipeline, second.store, ts_ns=T0 + 2 * MINUTE)
    assert report.fills_booked == ["venue_a:venue_a-1"] and report.clean
    assert report.updated == ["s1-r1-1"]
    assert second.pipeline.orders["s1-r1-1"].status is OrderStatus.FILLED
    assert second.pipeline.portfolio.position("BTC/USDT", "venue_a") == 2.0
    assert second.venue.positions() == {"BTC/USDT": 2.0}
    assert len(second.store.fills()) == 1
    second.die()

    third = start(host, tmp_path, "r3")  # another restart: nothing is booked twice
    report = reconcile(third.pipeline, third.store, ts_ns=T0 + 3 * MINUTE)
    assert report.fills_booked == [] and report.clean
    assert third.pipeline.portfolio.position("BTC/USDT", "venue_a") == 2.0
    assert third.pipeline.portfolio.cash == pytest.approx(
        100_000.0 - 2.0 * 101.0 * (1 + 10 / 1e4))
    assert len(third.store.fills()) == 1
    third.die()


def test_orders_the_venue_knows_but_the_books_do_not_are_adopted(host: Any,
                                                                 tmp_path: Path) -> None:
    first = start(host, tmp_path, "r1", first=True)
    first.bar(0, 100.0)
    # orders that reached the venue while their rows were lost (a power cut with NORMAL sync)
    first.venue.submit(Order(first.intent(7, qty=1.0), 1.0))
    first.venue.submit(Order(first.intent(8, Side.BUY, 0.5, limit=50.0), 0.5))
    first.venue.on_market_data(Bar("venue_a", "BTC/USDT", T0 + MINUTE, 100.0, 101.0, 99.0,
                                   100.0, 1e9))
    first.die()

    second = start(host, tmp_path, "r2")
    report = reconcile(second.pipeline, second.store, ts_ns=T0 + 2 * MINUTE)
    assert sorted(report.adopted) == ["s1-r1-7", "s1-r1-8"]
    assert report.fills_booked == ["venue_a:venue_a-1"] and report.clean
    rows = {r.client_order_id: r for r in second.store.orders()}
    assert rows["s1-r1-7"].lifecycle is Lifecycle.ADOPTED
    assert rows["s1-r1-7"].order.status is OrderStatus.FILLED
    assert rows["s1-r1-8"].order.intent.strategy_id == "s1"
    assert list(second.pipeline.open_orders) == ["s1-r1-8"]  # followed from now on
    assert second.pipeline.risk.pending_quantity("BTC/USDT", 1.0, "venue_a") == 0.5
    assert second.pipeline.portfolio.position("BTC/USDT", "venue_a", "s1") == 1.0
    second.die()


@pytest.mark.parametrize(("on_mismatch", "state"), [("reducing", TradingState.REDUCING),
                                                     ("halted", TradingState.HALTED)])
def test_a_mismatch_that_cannot_be_explained_stops_adding_risk(
        host: Any, tmp_path: Path, on_mismatch: Any, state: TradingState) -> None:
    first = start(host, tmp_path, "r1", first=True)
    first.bar(0, 100.0)
    first.pipeline.submit([first.intent(1)], first.pipeline.now_ns)
    first.bar(1, 101.0)
    assert first.pipeline.portfolio.position("BTC/USDT", "venue_a") == 1.0
    first.die()
    # the venue's book and ours disagree: someone sold 0.4 BTC on the account by hand
    paper = PaperVenue(PaperSettings(initial_balances={"USDT": 100_000.0},
                                     state_file=tmp_path / "venue_a.sqlite"), name="venue_a")
    paper.account.balances["BTC"] -= 0.4
    paper.close()

    second = start(host, tmp_path, "r2")
    report = reconcile(second.pipeline, second.store, ts_ns=T0 + 2 * MINUTE,
                       on_mismatch=on_mismatch)
    kinds = [d.kind for d in report.discrepancies]
    assert kinds == ["position"]
    assert "BTC/USDT: the venue holds 0.6, the books 1" in report.discrepancies[0].detail
    assert report.action == on_mismatch and report.outcome == on_mismatch
    risk = second.pipeline.risk
    assert risk.state is state and "state reconciliation: 1 unexplained" in risk.cause
    # never "assume flat": the books keep what they know, and nothing adds risk now
    assert second.pipeline.portfolio.position("BTC/USDT", "venue_a") == 1.0
    second.bar(2, 101.0)
    verdict, = second.pipeline.submit([second.intent(2)], second.pipeline.now_ns)
    assert verdict.action is VerdictAction.REJECT
    assert second.store.reconciliations()[-1]["outcome"] == on_mismatch
    second.die()


def test_an_acknowledged_order_the_venue_forgot_is_a_discrepancy(host: Any,
                                                                 tmp_path: Path) -> None:
    first = start(host, tmp_path, "r1", first=True)
    first.bar(0, 100.0)
    first.pipeline.submit([first.intent(1, limit=50.0)], first.pipeline.now_ns)
    first.die()
    for leftover in tmp_path.glob("venue_a.sqlite*"):  # the venue lost its book
        leftover.unlink()
    second = start(host, tmp_path, "r2")
    report = reconcile(second.pipeline, second.store, ts_ns=T0 + MINUTE)
    assert [(d.kind, d.client_order_id) for d in report.discrepancies] == [
        ("lost_order", "s1-r1-1")]
    assert second.store.order("s1-r1-1").lifecycle is Lifecycle.LOST  # type: ignore[union-attr]
    assert second.pipeline.risk.state is TradingState.REDUCING
    second.die()


class Mute(ExchangeAdapter):
    """A venue without the reconciliation queries."""

    id: ClassVar[str] = "mute"
    simulated: ClassVar[bool] = True

    def submit(self, order: Order) -> Sequence[ExecutionReport]:
        return [ExecutionReport(order.client_order_id, OrderStatus.ACCEPTED, 0)]

    def cancel(self, client_order_id: str) -> Sequence[ExecutionReport]:
        return []

    def balances(self) -> Mapping[str, float]:
        return {}


def test_a_venue_that_cannot_be_asked(host: Any, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    empty = start(host, tmp_path / "a", "r1", venue=Mute(name="venue_a"))
    report = reconcile(empty.pipeline, empty.store, ts_ns=T0)
    assert report.unchecked == ["venue_a"] and report.clean  # nothing at stake there
    empty.bar(0, 100.0)
    empty.pipeline.submit([empty.intent(1, limit=90.0)], empty.pipeline.now_ns)
    empty.observer.detach()
    empty.store.close()

    again = start(host, tmp_path / "a", "r2", venue=Mute(name="venue_a"))
    report = reconcile(again.pipeline, again.store, ts_ns=T0 + MINUTE)
    assert [d.kind for d in report.discrepancies] == ["unchecked"]
    assert again.pipeline.risk.state is TradingState.REDUCING
    again.observer.detach()
    again.store.close()


class Witness(PaperVenue):
    """A paper venue that, at each submit, reads the bot's state file from another connection
    (as another process would): the order must be there already."""

    state_path: Path

    def submit(self, order: Order) -> Sequence[ExecutionReport]:
        import sqlite3

        with sqlite3.connect(self.state_path) as other:
            row = other.execute("SELECT lifecycle FROM orders WHERE client_order_id = ?",
                                (order.client_order_id,)).fetchone()
        other.close()
        self.seen_rows.append(row)
        return super().submit(order)


def test_an_order_is_committed_before_the_venue_sees_it(host: Any, tmp_path: Path) -> None:
    venue = Witness(PaperSettings(state_file=tmp_path / "venue_a.sqlite"), name="venue_a")
    venue.state_path = tmp_path / "state.sqlite"
    venue.seen_rows = []  # type: ignore[attr-defined]
    proc = start(host, tmp_path, "r1", venue=venue, first=True)
    proc.bar(0, 100.0)
    proc.pipeline.submit([proc.intent(1), proc.intent(2, Side.SELL, limit=200.0)],
                         proc.pipeline.now_ns)
    assert venue.seen_rows == [("persisted",), ("persisted",)]  # type: ignore[attr-defined]
    assert [r.lifecycle for r in proc.store.orders()] == [Lifecycle.SENT, Lifecycle.SENT]
    proc.die()


def test_an_order_that_cannot_be_recorded_is_never_sent(host: Any, tmp_path: Path) -> None:
    proc = start(host, tmp_path, "r1", first=True)
    proc.bar(0, 100.0)
    proc.store.close()  # the state file became unusable (a full disk, a failing device)
    proc.pipeline.submit([proc.intent(1)], proc.pipeline.now_ns)
    order = proc.pipeline.orders["s1-r1-1"]
    assert order.status is OrderStatus.REJECTED
    assert order.reason.startswith("not_persisted: ")
    assert proc.venue.order_status("s1-r1-1", "BTC/USDT") is None
    assert not proc.pipeline.open_orders
    proc.observer.detach()
    paper = proc.venue._store
    assert paper is not None
    paper.close()


class Broken(Mute):
    """A venue whose reconciliation queries fail (down, or an adapter's bug)."""

    id: ClassVar[str] = "broken"

    def open_orders(self) -> Sequence[Any]:
        raise ConnectionError("venue down")


def test_a_failing_query_is_a_discrepancy_not_a_crash(host: Any, tmp_path: Path) -> None:
    proc = start(host, tmp_path, "r1", venue=Broken(name="venue_a"))
    report = reconcile(proc.pipeline, proc.store, ts_ns=T0)
    assert [(d.kind, d.detail) for d in report.discrepancies] == [
        ("query_failed", "a reconciliation query failed (ConnectionError: venue down)")]
    assert proc.pipeline.risk.state is TradingState.REDUCING
    proc.observer.detach()
    proc.store.close()
