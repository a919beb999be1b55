"""The market data source contract: where a running bot's bars and quotes come from.

A source is a plugin component, registered through ``bot_core_register_sources`` like
strategies and venues (the host's own ``replay`` source goes through the same hook). The
runtime owns one source per process and calls it in this order: :meth:`subscribe` once with
every (venue, instrument, kind, timeframe) its bots trade; :meth:`start_ns` (a replay anchors
the clock there); :meth:`history` per feed a strategy warms up on (synchronously, before
:meth:`connect`); :meth:`connect`; :meth:`next_events` in a loop, with :meth:`status` after
each cycle; :meth:`close` once at shutdown.

Promises a source makes:

* **Closed data only, in time order.** A bar is delivered once it has closed (its close time,
  ``ts_ns + timeframe``, has passed on the clock), never before; quotes when they are seen.
  Events come in order of the time they became known (a bar's close, a quote's time), ties in
  subscription order, and for one instrument always in order.
* **Honest status.** :meth:`status` tells, per subscription, what was delivered last, how many
  bars were missing (gaps), whether the feed is stale (nothing new for ``stale_after_s`` of
  market time while it should be), how many times it reconnected, and whether it ended.
* **Reconnect by itself.** A live source that loses its connection reconnects inside
  :meth:`next_events` (and counts it); it reports the feeds stale meanwhile instead of raising.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel

from bot_core.risk.check import NoSettings

if TYPE_CHECKING:
    from bot_core.market import Bar, Quote
    from bot_core.runtime.clock import Clock

__all__ = ["FeedEvent", "FeedStatus", "MarketDataSource", "Subscription", "timeframe_ns"]

_NS_PER_MS = 1_000_000


def timeframe_ns(timeframe: str) -> int:
    """Length of a bar timeframe (``1m``, ``5m``, ``1h``...) in nanoseconds; ValueError naming
    the known ones for anything else."""
    from bot_core.data.schema import TIMEFRAME_MS

    try:
        return TIMEFRAME_MS[timeframe] * _NS_PER_MS
    except KeyError:
        raise ValueError(f"unknown timeframe {timeframe!r}; expected one of "
                         f"{', '.join(TIMEFRAME_MS)}") from None


@dataclass(frozen=True, slots=True)
class Subscription:
    """One feed a bot needs: bars of one timeframe, or top-of-book quotes."""

    venue: str
    instrument: str
    kind: Literal["ohlcv", "quotes"]
    timeframe: str | None = None
    """Bars: ``1m``, ``5m``...; quotes: None."""

    @property
    def period_ns(self) -> int:
        """Bar length in nanoseconds (0 for quotes)."""
        return timeframe_ns(self.timeframe) if self.kind == "ohlcv" and self.timeframe else 0

    def __str__(self) -> str:
        what = f"{self.timeframe} bars" if self.kind == "ohlcv" else "quotes"
        return f"{what} of {self.instrument} on {self.venue}"


FeedEvent = tuple[Subscription, "Bar | Quote"]
"""One delivered event and the subscription it belongs to (two timeframes of one instrument are
two subscriptions whose bars look alike)."""


@dataclass(slots=True)
class FeedStatus:
    """What a source knows about one subscription (see :meth:`MarketDataSource.status`)."""

    subscription: Subscription
    last_event_ns: int = 0
    """When the last delivered event became known (a bar's close), UTC ns; 0 before any."""
    delivered: int = 0
    gaps: int = 0
    """Bars missing between two delivered bars."""
    stale: bool = False
    """Nothing new for longer than the source's stale limit while the feed should be live."""
    reconnects: int = 0
    ended: bool = False
    """No more data will come (a replay past its last row)."""

    def as_dict(self) -> dict[str, Any]:
        sub = self.subscription
        return {"venue": sub.venue, "instrument": sub.instrument, "kind": sub.kind,
                "timeframe": sub.timeframe, "last_event_ns": self.last_event_ns,
                "delivered": self.delivered, "gaps": self.gaps, "stale": self.stale,
                "reconnects": self.reconnects, "ended": self.ended}


class MarketDataSource(ABC):
    """Base class of market data sources.

    ==================================  ========  ===================================================
    member                              required  meaning
    ==================================  ========  ===================================================
    ``id``                              yes       component id (``replay``), used in
                                                  ``runtime.source``
    ``live``                            yes       True for real-time data (paper and live modes
                                                  need such a source), False for replays
    ``Settings``                        no        pydantic model of ``runtime.source_settings``
    ``subscribe(subscriptions)``        yes       check and record the feeds; raise
                                                  :class:`~bot_core.errors.ConfigError` or
                                                  :class:`~bot_core.errors.DataError` naming a feed
                                                  it cannot serve
    ``next_events(deadline_ns)``        yes       await the next closed events, each with its
                                                  subscription (see below)
    ``status()``                        yes       one :class:`FeedStatus` per subscription
    ``start_ns()``                      no        replays: market time of the first cycle
    ``history(subscription, rows,       no        warm-up: the last ``rows`` closed bars (quotes)
    end_ns)``                                     before ``end_ns`` as a DataFrame, or None
    ``connect()`` / ``close()``         no        async: open and release connections
    ==================================  ========  ===================================================

    :param settings: validated ``runtime.source_settings``.
    :param clock: the runtime's clock; a source waits only through it.
    :param stale_after_s: market seconds without a new event after which a feed is stale.
    """

    id: ClassVar[str]
    live: ClassVar[bool]
    Settings: ClassVar[type[BaseModel]] = NoSettings

    def __init__(self, settings: BaseModel | None = None, *, clock: Clock,
                 stale_after_s: float = 300.0) -> None:
        self.settings = settings if settings is not None else self.Settings()
        self.clock = clock
        self.stale_after_ns = int(stale_after_s * 1e9)

    @abstractmethod
    def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        """Record the feeds to deliver (called once, before :meth:`connect`)."""

    async def connect(self) -> None:  # noqa: B027 - optional hook
        """Optional: open connections; called once before the first :meth:`next_events`."""

    def start_ns(self) -> int | None:
        """Optional: market time at which the run starts (a replay's first cycle); None for
        live sources, which start now."""
        return None

    def history(self, subscription: Subscription, rows: int, end_ns: int) -> Any:
        """Optional: the last ``rows`` events of ``subscription`` known before ``end_ns``, as a
        DataFrame like the library's (UTC index, the kind's columns), or None when the source
        has none (warm-up then reads the dataset library)."""
        return None

    @abstractmethod
    async def next_events(self, deadline_ns: int) -> Sequence[FeedEvent] | None:
        """Every subscribed event that became known by now and was not delivered yet, with its
        subscription, in time order. When there is none, wait on the clock until one is known
        or ``deadline_ns`` passes, whichever is first; an empty sequence means the deadline
        passed with nothing new. None means the source has ended: no feed will deliver again.

        The scheduler may cancel this call at any ``await`` (a shutdown while waiting): a source
        must not lose or half-deliver events when that happens."""

    @abstractmethod
    def status(self) -> Sequence[FeedStatus]:
        """One status per subscription, staleness as of the clock's current time."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Optional: release connections; called once at shutdown."""

    @classmethod
    def contract_problems(cls) -> list[str]:
        """What this class lacks to satisfy the contract (empty when it is complete)."""
        problems: list[str] = []
        if not isinstance(getattr(cls, "live", None), bool):
            problems.append("class attribute 'live' must be True or False")
        settings = getattr(cls, "Settings", None)
        if not (isinstance(settings, type) and issubclass(settings, BaseModel)):
            problems.append("class attribute 'Settings' must be a pydantic model")
        return problems
