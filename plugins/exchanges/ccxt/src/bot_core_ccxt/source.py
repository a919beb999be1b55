"""The ``ccxt`` market data source: closed bars and top of book by REST polling (no WebSockets).

**When it polls.** A bar feed is polled once per bar, ``close_delay_ms`` after the bar's close
(venues publish a closed bar a moment late); if the bar is not there yet it asks again after a
short pause. Quote feeds of one venue share one request per ``quote_interval_ms``, stretched so
that the source never spends more than half of the venue's rate limit: with ccxt's 50 ms for
Binance and 10 quote feeds, at least 1 s between two quote polls.

**Closed bars only.** A bar is delivered once its close time has passed on the venue's clock
(ccxt measures the offset) *and* the venue returned it: the venue's last row is its bar still
open and is never delivered as closed.

**Gaps and reconnects.** Every poll asks for everything after the last delivered bar, so bars
missed while the venue was unreachable are backfilled, oldest first, before the next new bar;
only bars the venue itself lacks count as gaps. A poll that fails marks its feeds down; they
are reported stale once nothing new came for ``feed_stale_after_s`` (plus one bar), polled
again with capped backoff, and the recovery counts as a reconnect. Nothing is raised to the
scheduler for a venue failure.

Venue names map to ccxt exchanges through ``venues`` in the settings (a venue named like a
ccxt exchange id needs no entry). Market data is public: no credentials are read.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from bot_core import Bar, ConfigError, Quote, VenueError
from bot_core.runtime.sources import FeedEvent, FeedStatus, MarketDataSource, Subscription
from bot_core_ccxt.client import VenueClient
from bot_core_ccxt.settings import CcxtSettings

__all__ = ["CcxtSource", "CcxtSourceSettings"]

log = logging.getLogger("bot_core_ccxt")

_MS = 1_000_000
_PAGE = 1000


class CcxtSourceSettings(BaseModel):
    """``runtime.source_settings`` of the ``ccxt`` source. Frozen; unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    venues: dict[str, CcxtSettings] = Field(
        default_factory=dict, description="Venue name (as in the strategies' venues) -> the "
        "exchange serving its data (exchange, sandbox, api_base_url, rate_limit_ms, timeouts); "
        "credentials are ignored. A venue named like a ccxt exchange id needs no entry.")
    close_delay_ms: int = Field(
        1_500, ge=0, le=60_000, description="Wait after a bar's close before asking for it, "
        "milliseconds, [0, 60000].")
    quote_interval_ms: int = Field(
        1_000, ge=100, le=3_600_000, description="Least time between two top-of-book polls of "
        "one venue, milliseconds, [100, 3600000]; stretched to respect the rate limit.")
    max_backfill_bars: int = Field(
        5_000, ge=1, le=100_000, description="Most bars fetched to fill one gap after an outage; "
        "older missing bars count as gaps, [1, 100000].")


@dataclass(slots=True)
class _Feed:
    sub: Subscription
    client: VenueClient
    status: FeedStatus
    last_open_ns: int = 0
    """Open time of the last delivered bar."""
    next_poll_ns: int = 0
    failures: int = 0
    down: bool = False
    last_seen_ns: int = 0
    """When something new last arrived (or the source started), market time."""


@dataclass(slots=True)
class _Venue:
    client: VenueClient
    quote_feeds: list[_Feed] = field(default_factory=list)
    quote_interval_ns: int = 0


class CcxtSource(MarketDataSource):
    """Live bars and quotes of ccxt venues by REST polling."""

    id: ClassVar[str] = "ccxt"
    live: ClassVar[bool] = True
    Settings: ClassVar[type[BaseModel]] = CcxtSourceSettings

    def __init__(self, settings: BaseModel | None = None, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.settings: CcxtSourceSettings = self.settings  # narrowed for type checkers
        self._venues: dict[str, _Venue] = {}
        self._bars: list[_Feed] = []
        self._feeds: list[_Feed] = []

    # -- set-up -------------------------------------------------------------------------------

    def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        import ccxt

        problems = []
        for sub in subscriptions:
            config = self.settings.venues.get(sub.venue)
            if config is None and sub.venue in ccxt.exchanges:
                config = CcxtSettings(exchange=sub.venue)
            if config is None:
                problems.append(f"runtime.source_settings.venues.{sub.venue}: no exchange for "
                                f"venue {sub.venue!r} ({sub}); add it with its ccxt exchange id")
                continue
            venue = self._venues.get(sub.venue)
            if venue is None:
                venue = self._venues[sub.venue] = _Venue(VenueClient(config, sub.venue, None))
            feed = _Feed(sub, venue.client, FeedStatus(sub))
            self._feeds.append(feed)
            if sub.kind == "ohlcv":
                if not sub.timeframe or sub.timeframe not in venue.client.exchange.timeframes:
                    problems.append(f"{sub}: {config.exchange} has no {sub.timeframe} bars "
                                    f"(it has {', '.join(venue.client.exchange.timeframes)})")
                self._bars.append(feed)
            else:
                venue.quote_feeds.append(feed)
        if problems:
            raise ConfigError("\n".join(problems))
        for venue in self._venues.values():
            limit_ms = float(venue.client.exchange.rateLimit or 0)
            budget_ms = 2 * limit_ms * max(len(venue.quote_feeds), 1)  # half the rate limit
            venue.quote_interval_ns = int(max(self.settings.quote_interval_ms, budget_ms) * _MS)

    async def connect(self) -> None:
        """Load each venue's markets (symbols) and clock offset; a venue that cannot be reached
        now is retried by the polls (its feeds go stale meanwhile)."""
        now = self.clock.now_ns()
        for name, venue in self._venues.items():
            client = venue.client
            try:
                await asyncio.to_thread(client.call, "load markets", client.exchange.load_markets)
                await asyncio.to_thread(client.call, "read the venue's clock", client.resync_clock)
            except VenueError as exc:
                log.warning("venue %s: market data not reachable yet (%s); polling on", name, exc)
        for feed in self._feeds:
            feed.last_seen_ns = now
            if feed.sub.kind == "ohlcv":
                period = feed.sub.period_ns
                # bars closed before the start are warm-up history, not live events
                feed.last_open_ns = (now // period) * period - period
                feed.next_poll_ns = feed.last_open_ns + 2 * period + self.settings.close_delay_ms * _MS
            else:
                feed.next_poll_ns = now

    async def close(self) -> None:
        for venue in self._venues.values():
            venue.client.close()

    def history(self, subscription: Subscription, rows: int, end_ns: int) -> Any:
        """The last ``rows`` closed bars before ``end_ns`` from the venue (quotes: None)."""
        if subscription.kind != "ohlcv":
            return None
        feed = next((f for f in self._bars if f.sub == subscription), None)
        if feed is None:
            return None
        import pandas as pd

        period = subscription.period_ns
        last_open = (end_ns // period) * period - period
        try:
            bars = self._fetch_bars(feed, last_open - (rows - 1) * period, last_open, rows)
        except VenueError as exc:
            log.warning("%s: no warm-up history from the venue (%s)", subscription, exc)
            return None
        index = pd.DatetimeIndex([pd.Timestamp(b.ts_ns, tz="UTC") for b in bars], name="timestamp")
        return pd.DataFrame({"open": [b.open for b in bars], "high": [b.high for b in bars],
                             "low": [b.low for b in bars], "close": [b.close for b in bars],
                             "volume": [b.volume for b in bars]}, index=index)

    # -- delivery -----------------------------------------------------------------------------

    async def next_events(self, deadline_ns: int) -> Sequence[FeedEvent] | None:
        while True:
            now = self.clock.now_ns()
            events: list[tuple[int, int, FeedEvent]] = []
            for feed in [f for f in self._bars if f.next_poll_ns <= now]:
                events += await self._poll_bars(feed)
            for venue in self._venues.values():
                due = [f for f in venue.quote_feeds if f.next_poll_ns <= now]
                if due:
                    events += await self._poll_quotes(venue, due)
            if events:
                events.sort(key=lambda e: (e[0], e[1]))
                return [event for _, _, event in events]
            wake = min((f.next_poll_ns for f in self._feeds), default=deadline_ns)
            if wake >= deadline_ns:
                await self.clock.sleep_until(deadline_ns)
                return []
            await self.clock.sleep_until(wake)

    def status(self) -> Sequence[FeedStatus]:
        now = self.clock.now_ns()
        for feed in self._feeds:
            allowed = self.stale_after_ns + feed.sub.period_ns
            feed.status.stale = now - feed.last_seen_ns > allowed
        return [f.status for f in self._feeds]

    # -- polling ------------------------------------------------------------------------------

    def _failed(self, feed: _Feed, exc: VenueError, now: int) -> None:
        if not feed.down:
            log.warning("%s: poll failed, retrying with backoff: %s", feed.sub, exc)
        feed.down = True
        feed.failures += 1
        pause_ms = min(feed.client.settings.retry_initial_ms * 2 ** min(feed.failures, 20),
                       feed.client.settings.retry_max_ms, 30_000)
        feed.next_poll_ns = now + int(pause_ms * _MS)

    def _recovered(self, feed: _Feed) -> None:
        if feed.down:
            feed.status.reconnects += 1
            log.info("%s: the venue answers again (reconnect %d)", feed.sub, feed.status.reconnects)
        feed.down = False
        feed.failures = 0

    async def _poll_bars(self, feed: _Feed) -> list[tuple[int, int, FeedEvent]]:
        period = feed.sub.period_ns
        now = self.clock.now_ns()
        newest_open = (now // period) * period - period  # the last bar closed by now
        first_open = max(feed.last_open_ns + period,
                         newest_open - (self.settings.max_backfill_bars - 1) * period)
        try:
            bars = await asyncio.to_thread(self._fetch_bars, feed, first_open, newest_open,
                                           self.settings.max_backfill_bars)
        except VenueError as exc:
            self._failed(feed, exc, now)
            return []
        self._recovered(feed)
        events: list[tuple[int, int, FeedEvent]] = []
        index = self._feeds.index(feed)
        for bar in bars:
            if bar.ts_ns <= feed.last_open_ns:
                continue
            if feed.last_open_ns and bar.ts_ns - feed.last_open_ns > period:
                feed.status.gaps += (bar.ts_ns - feed.last_open_ns) // period - 1
            feed.last_open_ns = bar.ts_ns
            known = bar.ts_ns + period
            feed.status.last_event_ns = known
            feed.status.delivered += 1
            feed.last_seen_ns = now
            events.append((known, index, (feed.sub, bar)))
        if feed.last_open_ns >= newest_open:
            feed.next_poll_ns = newest_open + 2 * period + self.settings.close_delay_ms * _MS
        else:  # the venue has not published the bar yet: ask again shortly
            limit_ms = float(feed.client.exchange.rateLimit or 50)
            feed.next_poll_ns = now + int(max(self.settings.close_delay_ms, 4 * limit_ms, 250) * _MS)
        return events

    def _fetch_bars(self, feed: _Feed, first_open_ns: int, last_open_ns: int,
                    most: int) -> list[Bar]:
        """Closed bars opening in [first, last], oldest first, paging through the venue."""
        client = feed.client
        sub = feed.sub
        period_ms = sub.period_ns // _MS
        bars: list[Bar] = []
        since_ms = first_open_ns // _MS
        deadline = client.deadline(min(client.settings.deadline_ms, max(period_ms // 2, 1_000)))
        while since_ms <= last_open_ns // _MS and len(bars) < most:
            rows = self._ohlcv_page(client, sub, since_ms, deadline)
            venue_now_ms = client.now_ms()
            for k, row in enumerate(rows):
                open_ms = int(row[0])
                closed = k + 1 < len(rows) or open_ms + period_ms <= venue_now_ms
                if open_ms < since_ms or open_ms > last_open_ns // _MS or not closed:
                    continue
                values = [float(x) if x is not None else math.nan for x in row[1:6]]
                bars.append(Bar(sub.venue, sub.instrument, open_ms * _MS, *values))
            if len(rows) < _PAGE or not rows:
                break
            since_ms = int(rows[-1][0]) + period_ms
        return bars[:most]

    @staticmethod
    def _ohlcv_page(client: VenueClient, sub: Subscription, since_ms: int,
                    deadline: float) -> list[list[Any]]:
        exchange = client.exchange
        return list(client.call(f"fetch {sub}", lambda: exchange.fetch_ohlcv(
            sub.instrument, sub.timeframe, since_ms, _PAGE), deadline=deadline))

    @staticmethod
    def _order_book(client: VenueClient, symbol: str) -> dict[str, Any]:
        exchange = client.exchange
        return dict(client.call("fetch the order book", lambda: exchange.fetch_order_book(symbol, 5)))

    async def _poll_quotes(self, venue: _Venue, due: list[_Feed]) -> list[tuple[int, int, FeedEvent]]:
        now = self.clock.now_ns()
        client = venue.client
        exchange = client.exchange
        symbols = [f.sub.instrument for f in due]

        def fetch() -> dict[str, Any]:
            if exchange.has.get("fetchBidsAsks"):
                return dict(client.call("fetch the top of book", lambda: exchange.fetch_bids_asks(symbols),
                                        deadline=client.deadline(client.settings.request_timeout_ms * 2)))
            books = {}
            for symbol in symbols:
                book = self._order_book(client, symbol)
                books[symbol] = {"bid": book["bids"][0][0] if book["bids"] else None,
                                 "ask": book["asks"][0][0] if book["asks"] else None,
                                 "bidVolume": book["bids"][0][1] if book["bids"] else None,
                                 "askVolume": book["asks"][0][1] if book["asks"] else None,
                                 "timestamp": book.get("timestamp")}
            return books

        events: list[tuple[int, int, FeedEvent]] = []
        try:
            books = await asyncio.to_thread(fetch)
        except VenueError as exc:
            for feed in due:
                self._failed(feed, exc, now)
            return events
        for feed in due:
            self._recovered(feed)
            feed.next_poll_ns = now + venue.quote_interval_ns
            book = books.get(feed.sub.instrument)
            if not book or not book.get("bid") or not book.get("ask"):
                continue
            ts = int(book["timestamp"]) * _MS if book.get("timestamp") else now
            quote = Quote(feed.sub.venue, feed.sub.instrument, ts, float(book["bid"]),
                          float(book["ask"]), float(book.get("bidVolume") or 0.0),
                          float(book.get("askVolume") or 0.0))
            feed.status.last_event_ns = ts
            feed.status.delivered += 1
            feed.last_seen_ns = now
            events.append((ts, self._feeds.index(feed), (feed.sub, quote)))
        return events
