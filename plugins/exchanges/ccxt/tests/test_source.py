"""The REST polling source against the simulator, on the wall clock: closed bars only, in
order; backfill after an outage before the next bar; staleness and reconnects reported."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from bot_core import Bar, ConfigError, Quote, load_plugins
from bot_core.runtime.clock import WallClock
from bot_core.runtime.sources import Subscription
from bot_core_ccxt.source import CcxtSource, CcxtSourceSettings
from bot_core_ccxt.testing import Fault

BARS = Subscription("sim", "BTC/USDT", "ohlcv", "1s")
QUOTES = Subscription("sim", "ETH/USDT", "quotes")
KLINES = "/api/v3/klines"


def make_source(sim, *subs: Subscription, stale_after_s: float = 300.0,
                **settings) -> CcxtSource:
    values = {"venues": {"sim": {"exchange": "binance", "api_base_url": sim.url,
                                 "request_timeout_ms": 500, "deadline_ms": 2_000,
                                 "retry_initial_ms": 20, "retry_max_ms": 100}},
              "close_delay_ms": 100, **settings}
    source = CcxtSource(CcxtSourceSettings.model_validate(values), clock=WallClock(),
                        stale_after_s=stale_after_s)
    source.subscribe(list(subs))
    return source


async def collect(source: CcxtSource, seconds: float) -> list[tuple[int, object]]:
    """(time received, event) of everything delivered during ``seconds`` of wall time."""
    got = []
    end = time.time_ns() + int(seconds * 1e9)
    while time.time_ns() < end:
        events = await asyncio.wait_for(source.next_events(end), timeout=seconds + 5)
        assert events is not None
        received = time.time_ns()
        got += [(received, event) for _, event in events]
    return got


def test_the_plugin_registers_the_source() -> None:
    host = load_plugins()
    assert host.sources["ccxt"] is CcxtSource and CcxtSource.live is True


def test_closed_bars_only_in_order(sim) -> None:
    sim.set_price("BTCUSDT", None)  # the scripted path: every bar differs

    async def run():
        source = make_source(sim, BARS)
        await source.connect()
        got = await collect(source, 3.5)
        await source.close()
        return source, got

    source, got = asyncio.run(run())
    bars = [event for _, event in got]
    assert len(bars) >= 2 and all(isinstance(b, Bar) for b in bars)
    opens = [b.ts_ns for b in bars]
    assert all(b - a == 1_000_000_000 for a, b in itertools.pairwise(opens))
    assert all(received >= bar.ts_ns + 1_000_000_000 for received, bar in got)  # closed first
    (status,) = source.status()
    assert (status.delivered, status.gaps, status.stale) == (len(bars), 0, False)
    assert sim.requested("GET", KLINES) <= len(bars) + 3  # about one request per bar


def test_an_outage_is_backfilled_before_the_next_bar_and_reported(sim) -> None:
    async def run():
        source = make_source(sim, BARS, stale_after_s=0.5)
        await source.connect()
        before = await collect(source, 1.6)
        sim.inject(Fault.SERVER_ERROR, path=KLINES, times=10_000)
        during = await collect(source, 2.5)
        stale_during = [s.stale for s in source.status()]
        sim._faults.clear()
        cleared_ns = time.time_ns()
        after = await collect(source, 1.6)
        await source.close()
        return source, before, during, after, stale_during, cleared_ns

    source, before, during, after, stale_during, cleared_ns = asyncio.run(run())
    assert during == [] and stale_during == [True]
    opens = [e.ts_ns for _, e in before + after]
    assert all(b - a == 1_000_000_000 for a, b in itertools.pairwise(opens))  # nothing missing
    # every bar that closed during the outage came in the first batch after it, at once
    missed = [t for t, e in after if e.ts_ns + 1_000_000_000 <= cleared_ns]
    assert len(missed) >= 2 and len(set(missed)) == 1 and after[0][0] == missed[0]
    (status,) = source.status()
    assert status.reconnects == 1 and status.gaps == 0 and not status.stale


def test_quotes_of_a_venue_share_one_poll(sim) -> None:
    async def run():
        source = make_source(sim, QUOTES, Subscription("sim", "BTC/USDT", "quotes"),
                             quote_interval_ms=300)
        await source.connect()
        got = await collect(source, 1.0)
        await source.close()
        return got

    got = asyncio.run(run())
    quotes = [e for _, e in got]
    assert {q.instrument for q in quotes} == {"ETH/USDT", "BTC/USDT"}
    assert all(isinstance(q, Quote) and 0 < q.bid < q.ask for q in quotes)
    polls = sim.requested("GET", "/api/v3/ticker/bookTicker")
    assert polls == len(quotes) // 2 and 2 <= polls <= 5


def test_the_quote_interval_respects_the_rate_limit(sim) -> None:
    subs = [Subscription("sim", s, "quotes") for s in ("BTC/USDT", "ETH/USDT", "LTC/USDT")]
    source = make_source(sim, *subs, quote_interval_ms=100,
                         venues={"sim": {"api_base_url": sim.url, "rate_limit_ms": 200}})
    (venue,) = source._venues.values()
    assert venue.quote_interval_ns == 2 * 200 * 3 * 1_000_000  # half the limit for 3 feeds


def test_warm_up_history_comes_from_the_venue(sim) -> None:
    source = make_source(sim, Subscription("sim", "BTC/USDT", "ohlcv", "1m"))
    end = 1_700_000_000 * 1_000_000_000
    frame = source.history(Subscription("sim", "BTC/USDT", "ohlcv", "1m"), 30, end)
    assert len(frame) == 30 and list(frame.columns) == ["open", "high", "low", "close", "volume"]
    last = frame.index[-1].value
    assert last + 60_000_000_000 <= end and last + 120_000_000_000 > end
    assert (frame.index[1:] - frame.index[:-1]).unique().tolist() == [frame.index[1] - frame.index[0]]


def test_feeds_it_cannot_serve_are_config_errors(sim) -> None:
    with pytest.raises(ConfigError, match="no exchange for venue 'nowhere'"):
        make_source(sim, Subscription("nowhere", "BTC/USDT", "ohlcv", "1m"))
    with pytest.raises(ConfigError, match="binance has no 7m bars"):
        make_source(sim, Subscription("sim", "BTC/USDT", "ohlcv", "7m"))
