"""The `replay` source: library datasets as a live feed, in simulated time. A bar is known only
once it closed; coarser bars are aggregated; warm-up history ends where the run starts; gaps
are counted and a silent feed is reported stale, and the stale_data risk check then rejects
orders on it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest

import bot_core
from bot_core import OrderIntent, Side, Strategy, StrategySettings
from bot_core.data.library import load_dataset
from bot_core.runtime.clock import SimulatedClock
from bot_core.runtime.events import ListSink
from bot_core.runtime.replay import ReplaySettings, ReplaySource, library_history
from bot_core.runtime.session import build_runtime, plan_run
from bot_core.runtime.sources import Subscription

MINUTE = 60 * 1_000_000_000
BTC_1M = Subscription("venue_a", "BTC/USDT", "ohlcv", "1m")


def _source(*subs: Subscription, **settings: Any) -> tuple[ReplaySource, SimulatedClock]:
    clock = SimulatedClock()
    source = ReplaySource(ReplaySettings(**settings), clock=clock, stale_after_s=300)
    source.subscribe(list(subs))
    start = source.start_ns()
    assert start is not None
    clock.start_at(start)
    return source, clock


def _next(source: ReplaySource, deadline_ns: int) -> Any:
    return asyncio.run(source.next_events(deadline_ns))


def test_a_bar_is_delivered_only_after_its_close() -> None:
    source, clock = _source(BTC_1M)
    start = clock.now_ns()
    frame = load_dataset("demo-btc-usdt-1m")
    assert start == frame.index[0].value  # default start: the first row of the data
    # a deadline before the first close: nothing, and the clock stops at the deadline
    assert _next(source, start + MINUTE // 2) == []
    assert clock.now_ns() == start + MINUTE // 2
    ((sub, bar),) = _next(source, start + 10 * MINUTE)
    assert sub == BTC_1M
    assert bar.ts_ns == start and clock.now_ns() == start + MINUTE  # known at its close
    assert bar.close == frame["close"].iloc[0]
    clock.advance(3 * MINUTE)  # the scheduler was busy: three more bars closed meanwhile
    batch = _next(source, clock.now_ns() + MINUTE)
    assert [b.ts_ns for _, b in batch] == [start + MINUTE, start + 2 * MINUTE, start + 3 * MINUTE]


def test_coarser_bars_are_aggregated_from_the_dataset() -> None:
    five = Subscription("venue_a", "BTC/USDT", "ohlcv", "5m")
    source, clock = _source(five, start="2024-01-02T00:00:00Z")
    ((_, bar),) = _next(source, clock.now_ns() + 10 * MINUTE)
    assert clock.now_ns() == bar.ts_ns + 5 * MINUTE
    rows = load_dataset("demo-btc-usdt-1m").loc[pd.Timestamp(bar.ts_ns, tz="UTC"):].iloc[:5]
    assert (bar.open, bar.close) == (rows["open"].iloc[0], rows["close"].iloc[-1])
    assert (bar.high, bar.low) == (rows["high"].max(), rows["low"].min())
    assert bar.volume == pytest.approx(rows["volume"].sum())


def test_history_ends_where_the_run_starts_and_the_end_is_none() -> None:
    source, clock = _source(BTC_1M, start="2024-01-30T23:50:00Z")
    start = clock.now_ns()
    history = source.history(BTC_1M, 100, start)
    assert len(history) == 100
    assert history.index[-1].value + MINUTE <= start  # closed by the start
    assert library_history(BTC_1M, 100, start).equals(history)
    delivered = []
    while (batch := _next(source, clock.now_ns() + MINUTE)) is not None:
        delivered += batch
    assert len(delivered) == 10  # the data ends at 23:59
    (status,) = source.status()
    assert status.ended and status.delivered == 10 and status.gaps == 0


def test_a_window_after_the_data_is_one_clear_error() -> None:
    with pytest.raises(bot_core.ConfigError, match=r"the replay has no data after "
                       r"2025-01-01T00:00:00Z \(the datasets end at 2024-01-31T00:00:00Z\)"):
        _source(BTC_1M, start="2025-01-01T00:00:00Z")


def test_a_dataset_the_library_lacks_is_one_clear_error() -> None:
    with pytest.raises(bot_core.DataError, match="no dataset in the library has quotes of "
                                                  "SOL/USDT on venue_a"):
        _source(Subscription("venue_a", "SOL/USDT", "quotes"))


class ProbeBuyer(Strategy):
    """On every BTC bar, asks to buy a little ETH on venue_g (so the age of ETH's price there
    shows in the verdicts)."""

    id: ClassVar[str] = "eth_on_btc"
    Settings: ClassVar[type[StrategySettings]] = StrategySettings
    data_kind = "ohlcv"

    def on_bar(self, bar: Any, ctx: Any) -> Any:
        if bar.instrument != "BTC/USDT":
            return []
        return [OrderIntent(self.name, "venue_g", "ETH/USDT", Side.BUY, 0.001,
                            ctx.new_client_order_id(), ts_ns=bar.ts_ns)]


class ProbePlugin:
    BOT_CORE_API = ">=1.0,<2"

    @staticmethod
    @bot_core.hookimpl
    def bot_core_register_strategies(register: Any) -> None:
        register(ProbeBuyer)


def test_a_feed_with_a_gap_is_reported_stale_and_risk_rejects_orders_on_it(
        tmp_path: Path) -> None:
    from bot_core.data.importer import import_csv

    eth = load_dataset("demo-eth-usdt-1m").iloc[:120]
    gapped = eth.drop(eth.index[30:50])  # 20 minutes without ETH bars
    csv = tmp_path / "eth.csv"
    gapped.reset_index().to_csv(csv, index=False)
    import_csv(csv, dataset_id="eth-gapped", venue="venue_g", instrument="ETH/USDT",
               timeframe="1m")
    config = tmp_path / "gap.toml"
    config.write_text(
        'extends = "balanced"\nuniverse = "demo"\nname = "gap"\n'
        "[venues.venue_g]\nadapter = \"paper\"\n"
        "[strategies.mean_reversion]\nenabled = false\n[strategies.vol_target]\nenabled = false\n"
        "[strategies.cross_arb]\nenabled = false\n"
        "[strategies.buyer]\nplugin = \"eth_on_btc\"\ninstruments = [\"BTC/USDT\", \"ETH/USDT\"]\n"
        "venues = [\"venue_a\", \"venue_g\"]\n"
        "[risk.check_settings.stale_data]\nmax_age_s = 600\n")
    host = bot_core.load_plugins(builtins=[("gap_probe", ProbePlugin)])
    plan = plan_run(host, configs=[config])
    clock = SimulatedClock()
    sink = ListSink()
    # ETH on venue_g comes from the imported dataset (a venue's own data first); BTC on
    # venue_g, which has none, from the shipped bars
    scheduler = build_runtime(host, plan, clock=clock, sink=sink, max_cycles=110,
                              stopwatch=clock.now_ns, record_runs=False)
    asyncio.run(scheduler.run())
    feeds = [(e["stale"], e["gaps"]) for e in sink.of("feed")
             if (e["instrument"], e["venue"]) == ("ETH/USDT", "venue_g")]
    assert feeds == [(True, 0), (False, 20)]  # stale 5 minutes into the gap, live again after
    start = scheduler.stats.started_ns
    stale = {d["ts_ns"] for d in sink.of("decision") if d["reason"] == "stale_market_data"}
    # ETH's last price there is from 00:29; orders are refused once it is over 10 minutes old,
    # until ETH's next bar (00:50) marks it again
    assert stale == {start + m * MINUTE for m in range(40, 51)}
    approved = [d for d in sink.of("decision") if d["verdict"] == "approve"]
    assert len(approved) > 100
