"""The fan-out of metric samples and runtime events to remote watchers, which never slows the
scheduler.

Publishers (the scheduler's thread for events, the snapshot thread for samples) append each
:class:`Update` to one ring of ``capacity`` slots: O(1) whatever the number of watchers, no
copy per watcher, no filtering on the publisher's side. Each :class:`Watcher` reads the ring
from its own cursor on its own thread (a gRPC stream's) and applies its own filter there.

A watcher may fall at most ``buffer`` updates behind (its bounded buffer). A slow watcher is
dropped from behind: when the ring has moved more than that past its cursor, the oldest updates
it did not read are skipped and counted (``Watcher.dropped``, ``StreamHub.dropped``); it then
goes on with the newest. The publisher never waits for anyone: it takes one short lock to
number the update and, only when some watcher sleeps for lack of data, wakes them.
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["EVENT", "SAMPLE", "Lane", "StreamFilter", "StreamHub", "Update", "Watcher"]

SAMPLE, EVENT = "sample", "event"
_EVENT_PREFIX = "event:"
_DEFAULT_CAPACITY = 1 << 14
_NO_LABELS: Mapping[str, str] = {}


class Update:
    """One metric sample or one runtime event.

    ``name`` is the sample's name (``bot_core_equity``) or ``event:<kind>``
    (``event:trading_state``); ``bot``, ``profile`` and ``strategy`` are empty where they do not
    apply. ``encoded`` caches the wire form the first watcher built, for the others to reuse.
    """

    __slots__ = ("_fields", "_fields_json", "bot", "encoded", "kind", "labels", "name",
                 "profile", "seq", "strategy", "ts_ns", "value", "wall_ns")

    def __init__(self, kind: str, name: str, *, bot: str = "", profile: str = "",
                 strategy: str = "", labels: Mapping[str, str] | None = None,
                 value: float = 0.0, ts_ns: int = 0,
                 fields: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
                 wall_ns: int | None = None) -> None:
        self.seq = 0
        self.kind = kind
        self.name = name
        self.bot = bot
        self.profile = profile
        self.strategy = strategy
        self.labels = labels if labels is not None else {}
        self.value = value
        self.ts_ns = ts_ns
        self._fields = fields
        self.wall_ns = time.time_ns() if wall_ns is None else wall_ns
        self.encoded: bytes | None = None
        self._fields_json: str | None = None

    @property
    def fields(self) -> Mapping[str, Any]:
        """An event's fields; a publisher may give a function that makes them, so that the
        work is done on a watcher's thread, once, and only when someone watches."""
        fields = self._fields
        if fields is None:
            return {}
        if callable(fields):
            fields = self._fields = fields()
        return fields

    @property
    def fields_json(self) -> str:
        """:attr:`fields` as compact JSON (made once; values JSON cannot hold become strings)."""
        text = self._fields_json
        if text is None:
            text = self._fields_json = json.dumps(self.fields, default=str,
                                                  separators=(",", ":"))
        return text

    def wire(self) -> tuple[Any, ...]:
        """This update as plain values, for :meth:`from_wire` in another process (an event's
        fields as they are)."""
        return (self.kind, self.name, self.bot, self.profile, self.strategy, self.labels,
                self.value, self.ts_ns, self.wall_ns, self.fields if self.kind == EVENT else None)

    @classmethod
    def from_wire(cls, values: Sequence[Any]) -> Update:
        """The update of :meth:`wire`'s values; an event's fields may also be JSON text
        (fields that could not cross as plain values)."""
        kind, name, bot, profile, strategy, labels, value, ts_ns, wall_ns, fields = values
        text = fields if isinstance(fields, str) else None
        update = cls(kind, name, bot=bot, profile=profile, strategy=strategy, labels=labels,
                     value=value, ts_ns=ts_ns, wall_ns=wall_ns,
                     fields=(lambda: json.loads(text)) if text is not None else fields)
        update._fields_json = text
        return update

    @classmethod
    def from_record(cls, values: Sequence[Any]) -> Update:
        """The event of an :func:`event_record` (its fields made, or JSON text)."""
        name, bot, profile, strategy, ts_ns, wall_ns, fields = values
        return cls.from_wire((EVENT, name, bot, profile, strategy, {}, 0.0, ts_ns, wall_ns,
                              fields))

    @classmethod
    def sample(cls, name: str, labels: Mapping[str, str], value: float,
               wall_ns: int | None = None) -> Update:
        return cls(SAMPLE, name, bot=labels.get("bot", ""), profile=labels.get("profile", ""),
                   strategy=labels.get("strategy", ""), labels=labels, value=value,
                   wall_ns=wall_ns)

    @classmethod
    def event(cls, kind: str, bot: str, profile: str, ts_ns: int, *, strategy: str = "",
              **fields: Any) -> Update:
        return cls(EVENT, f"event:{kind}", bot=bot, profile=profile, strategy=strategy,
                   ts_ns=ts_ns, fields=fields)

    def __repr__(self) -> str:
        return f"Update({self.seq}, {self.name!r}, bot={self.bot!r}, strategy={self.strategy!r})"


WIRE_FIELDS = 9
"""The place of an event's fields in :meth:`Update.wire`'s values."""
EVENT_FIELDS = 6
"""The place of an event's fields in :func:`event_record`'s list."""


def event_record(kind: str, bot: str, profile: str, ts_ns: int, strategy: str,
                 fields: Mapping[str, Any] | Callable[[], Mapping[str, Any]]) -> list[Any]:
    """An event as the fewest plain values that make it again (:meth:`Update.from_record`),
    for an event that was never made into an update: ``fields`` may still be the function
    that makes them (whoever sends the record calls it, and puts what it gives in its place)."""
    return [_EVENT_PREFIX + kind, bot, profile, strategy, ts_ns, time.time_ns(), fields]


class Lane(Protocol):
    """Where a hub hands what a relay process serves (:mod:`bot_core.control.relay`), on the
    publisher's thread, while the relay's watchers want it. ``take`` gets an update's
    :meth:`Update.wire` values; ``take_event`` an :func:`event_record` (its fields maybe still
    the function that makes them), for an event that only the relay wants and that the hub
    therefore neither made into an update nor counted. Both must be as cheap as a
    list's ``append``: they run on the scheduler's thread, between one decision and the next.
    The lane does the rest in ``hand_over``."""

    samples: bool
    """Whether the relay has watchers (metric samples cross)."""
    events: bool
    """Whether one of them lets events through (events cross too)."""
    take: Callable[[tuple[Any, ...]], None]
    take_event: Callable[[list[Any]], None]

    def hand_over(self) -> None:
        """Send what it keeps, if it is time to."""


@dataclass(frozen=True)
class StreamFilter:
    """What one watcher wants; an empty list lets everything through.

    ``names`` are shell-style patterns (``bot_core_equity``, ``bot_core_risk_*``, ``event:*``)
    matched against sample names and ``event:<kind>``; the others are exact.
    """

    bots: frozenset[str] = field(default_factory=frozenset)
    profiles: frozenset[str] = field(default_factory=frozenset)
    strategies: frozenset[str] = field(default_factory=frozenset)
    names: tuple[str, ...] = ()
    samples_only: bool = False
    """Let no event through (a relay's feed while none of its watchers wants events)."""
    _seen: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, *, bots: Iterable[str] = (), profiles: Iterable[str] = (),
           strategies: Iterable[str] = (), names: Iterable[str] = ()) -> StreamFilter:
        return cls(frozenset(bots), frozenset(profiles), frozenset(strategies), tuple(names))

    def matches(self, update: Update) -> bool:
        if self.samples_only and update.kind == EVENT:
            return False
        if self.bots and update.bot not in self.bots:
            return False
        if self.profiles and update.profile not in self.profiles:
            return False
        if self.strategies and update.strategy not in self.strategies:
            return False
        return not self.names or self.name_matches(update.name)

    def may_match_events(self) -> bool:
        """Whether an event (``event:<kind>``) can pass this filter: a watcher of samples only
        is not woken by the scheduler's events (tens of thousands a second at full speed)."""
        if self.samples_only:
            return False
        if not self.names:
            return True
        for pattern in self.names:
            literal = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
            if _EVENT_PREFIX.startswith(literal) or literal.startswith(_EVENT_PREFIX):
                return True
        return False

    def name_matches(self, name: str) -> bool:
        """Whether ``name`` matches a pattern (remembered: names come from a small set)."""
        cache = self._seen
        hit = cache.get(name)
        if hit is None:
            hit = cache[name] = any(fnmatch.fnmatchcase(name, p) for p in self.names)
            if len(cache) > 10_000:  # names are bounded; this only guards against a leak
                cache.clear()
        return hit


class StreamHub:
    """The ring every watcher reads (see the module docstring).

    :param capacity: slots in the ring; the largest buffer a watcher may have.
    """

    chunk = 64
    """Updates per shared encoding (:meth:`Watcher.take_encoded`)."""

    def __init__(self, capacity: int = _DEFAULT_CAPACITY) -> None:
        size = 1
        while size < max(2, capacity):
            size <<= 1
        self.capacity = size
        self._mask = size - 1
        self._ring: list[Update | None] = [None] * size
        self._lock = threading.Lock()
        # watchers sleep on one of two conditions (one lock): those that may want events, and
        # those of samples only, whom an event never wakes
        wake_lock = threading.Lock()
        self._wake = threading.Condition(wake_lock)
        self._wake_samples = threading.Condition(wake_lock)
        self._sleeping = 0
        self._sleeping_samples = 0
        self.head = 0
        """Sequence number of the newest update (0: none yet)."""
        self.sample_head = 0
        """Sequence number of the newest update that is not an event."""
        self.published = 0
        self.dropped = 0
        """Updates skipped over all watchers since the start."""
        self._watchers: set[Watcher] = set()
        self.remote_watchers = 0
        """Watchers a relay process serves from this hub's updates (:mod:`bot_core.control.relay`)."""
        self.remote_dropped = 0
        """Updates the relay's slow watchers lost."""
        self.remote_events = False
        self.events_wanted = False
        """Whether some watcher (here or a relay's) has a filter that lets events through:
        publishers make no event otherwise (a watcher of samples only costs the scheduler
        nothing per decision)."""
        self._local_events = False
        """Whether a watcher of this process lets events through."""
        self.lane: Lane | None = None
        """A relay's lane (:meth:`forward_to`)."""
        self._chunks: dict[tuple[StreamFilter, int], tuple[bytes, int]] = {}
        self._closed = False
        self.on_watchers_changed: list[Any] = []
        """Callables told the number of watchers when it changes (a new watcher wants a fresh
        snapshot)."""

    # -- publishing ---------------------------------------------------------------------------

    def forward_to(self, lane: Lane | None) -> None:
        """Hand a relay's lane what its watchers want from now on (None: stop)."""
        self.lane = lane

    def hand_over(self) -> None:
        """Let a relay's lane send what it keeps, if it is time to. The scheduler's probe
        calls this after each batch of decisions, so that the encoding and the send cost no
        decision any latency (the lane sends on its own while nothing calls it)."""
        lane = self.lane
        if lane is not None:
            lane.hand_over()

    def publish_event(self, kind: str, bot: str, profile: str, ts_ns: int, *,
                      strategy: str = "",
                      fields: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None
                      ) -> None:
        """Publish the event ``kind`` if anyone wants events: for this process's watchers an
        :class:`Update` (``fields`` may be a function, made by the first watcher that reads
        them), for a relay's lane only its plain values (no update, no ring: the cheapest
        hand-over the scheduler's thread can make, tens of thousands of times a second)."""
        if self._local_events:
            self.publish(Update(EVENT, _EVENT_PREFIX + kind, bot=bot, profile=profile,
                                strategy=strategy, ts_ns=ts_ns, fields=fields))
            return
        lane = self.lane
        if lane is not None and lane.events:
            lane.take_event(event_record(kind, bot, profile, ts_ns, strategy,
                                         fields if fields is not None else _NO_LABELS))

    def publish(self, update: Update) -> None:
        """Number ``update`` and put it in the ring; never blocks on a watcher."""
        lane = self.lane
        if lane is not None and (lane.events if update.kind == EVENT else lane.samples):
            lane.take(update.wire())
        with self._lock:
            seq = self.head + 1
            update.seq = seq
            self._ring[seq & self._mask] = update
            self.head = seq
            if update.kind != EVENT:
                self.sample_head = seq
            self.published += 1
        if self._sleeping or (self._sleeping_samples and update.kind != EVENT):
            self._wake_up(samples=update.kind != EVENT)

    def publish_many(self, updates: Sequence[Update]) -> None:
        lane = self.lane
        if lane is not None and lane.samples:
            for update in updates:
                if update.kind != EVENT or lane.events:
                    lane.take(update.wire())
        with self._lock:
            seq = self.head
            ring, mask = self._ring, self._mask
            for update in updates:
                seq += 1
                update.seq = seq
                ring[seq & mask] = update
                if update.kind != EVENT:
                    self.sample_head = seq
            self.head = seq
            self.published += len(updates)
        if updates and (self._sleeping or self._sleeping_samples):
            self._wake_up(samples=any(u.kind != EVENT for u in updates))

    def _wake_up(self, *, samples: bool = True) -> None:
        """Wake the watchers waiting for data (those of samples only when ``samples``)."""
        with self._wake:
            self._wake.notify_all()
            if samples:
                self._wake_samples.notify_all()

    @property
    def watchers(self) -> int:
        """Watchers now: this process's and a relay's."""
        return len(self._watchers) + self.remote_watchers

    def set_remote(self, watchers: int, dropped: int, events: bool = False) -> None:
        """What a relay reports of the watchers it serves from this hub."""
        self.remote_dropped = dropped
        if watchers != self.remote_watchers or events != self.remote_events:
            self.remote_watchers = watchers
            self.remote_events = events and watchers > 0
            self._changed()

    def _changed(self) -> None:
        self._local_events = any(w.wakes_on_events for w in list(self._watchers))
        self.events_wanted = self.remote_events or self._local_events
        count = self.watchers
        for callback in list(self.on_watchers_changed):
            callback(count)

    def count_published(self, count: int) -> None:
        """Count the events a lane took with ``take_event``."""
        with self._lock:
            self.published += count

    def count_dropped(self, count: int) -> None:
        """Count updates lost on the way to a watcher (a watcher of this process or a relay)."""
        with self._lock:
            self.dropped += count

    def _encoded(self, flt: StreamFilter, chunk: int) -> tuple[bytes, int] | None:
        return self._chunks.get((flt, chunk))

    def _remember(self, flt: StreamFilter, chunk: int, encoded: tuple[bytes, int]) -> None:
        """Keep a chunk's encoding for the other watchers with the same filter; forget the
        chunks that left the ring."""
        with self._lock:
            self._chunks[(flt, chunk)] = encoded
            if len(self._chunks) > 4 * (self.capacity // self.chunk + 1):
                oldest = (self.head - self.capacity) // self.chunk
                for key in [k for k in self._chunks if k[1] < oldest]:
                    del self._chunks[key]

    # -- watching -----------------------------------------------------------------------------

    def watch(self, flt: StreamFilter | None = None, *, buffer: int | None = None,
              counted: bool = True) -> Watcher:
        """A new watcher, starting with the next update published.

        :param counted: False for a relay's feed, which is not a watcher itself (the relay
            reports its own, :meth:`set_remote`)."""
        if self._closed:
            raise RuntimeError("the stream hub is closed")
        watcher = Watcher(self, flt or StreamFilter(), min(buffer or self.capacity, self.capacity))
        if counted:
            with self._lock:
                self._watchers.add(watcher)
            self._changed()
        return watcher

    def _forget(self, watcher: Watcher) -> None:
        with self._lock:
            if watcher not in self._watchers:
                return
            self._watchers.discard(watcher)
        self._changed()

    def close(self) -> None:
        """End every watcher's stream (they return what they had, then None)."""
        self._closed = True
        self._wake_up()

    @property
    def closed(self) -> bool:
        return self._closed


class Watcher:
    """One remote watcher's view of the hub: a cursor, a filter and a drop count."""

    def __init__(self, hub: StreamHub, flt: StreamFilter, buffer: int) -> None:
        self._hub = hub
        self.filter = flt
        self.buffer = buffer
        self.cursor = hub.head
        self.dropped = 0
        self.delivered = 0
        self.closed = False
        self.wakes_on_events = flt.may_match_events()

    def _lose(self, count: int) -> None:
        self.cursor += count
        self.dropped += count
        self._hub.count_dropped(count)

    def _catch_up(self) -> None:
        """Skip, and count, what fell out of this watcher's buffer."""
        behind = self._hub.head - self.cursor
        if behind > self.buffer:
            self._lose(behind - self.buffer)

    def _read(self, first: int, last: int) -> list[Update] | None:
        """Updates ``first``..``last`` from the ring; None when one was overwritten meanwhile
        (the publisher lapped this watcher: it then skips ahead, counting the loss)."""
        ring, mask = self._hub._ring, self._hub._mask
        out = [ring[seq & mask] for seq in range(first, last + 1)]
        for seq, update in zip(range(first, last + 1), out, strict=True):
            if update is None or update.seq != seq:
                behind = self._hub.head - self.cursor
                self._lose(max(1, behind - self.buffer + self.buffer // 4))
                return None
        return out  # type: ignore[return-value]

    def poll(self, limit: int = 512) -> list[Update]:
        """Up to ``limit`` matching updates available now (maybe none); never waits."""
        hub, matches = self._hub, self.filter.matches
        out: list[Update] = []
        while len(out) < limit:
            self._catch_up()
            head = hub.head
            if self.cursor >= head:
                break
            first = self.cursor + 1
            last = min(head, first + limit - len(out) - 1)
            updates = self._read(first, last)
            if updates is None:
                continue
            self.cursor = last
            out += [u for u in updates if matches(u)]
        self.delivered += len(out)
        return out

    def take_encoded(self, encode: Callable[[list[Update]], bytes], limit: int = 1024
                     ) -> tuple[bytes, int]:
        """The matching updates available now, encoded (``encode`` of a list): (bytes, count).

        A whole chunk of :attr:`StreamHub.chunk` updates is filtered and encoded once per
        filter and shared by every watcher with that filter (fifty watchers of everything cost
        one encoding, not fifty); only the ragged ends are done per watcher."""
        hub, matches, size = self._hub, self.filter.matches, self._hub.chunk
        parts: list[bytes] = []
        count = 0
        while count < limit:
            self._catch_up()
            head = hub.head
            if self.cursor >= head:
                break
            first = self.cursor + 1
            chunk = (first - 1) // size
            chunk_last = (chunk + 1) * size
            done: tuple[bytes, int] | None = None
            if first == chunk * size + 1 and head >= chunk_last:
                done = hub._encoded(self.filter, chunk)
            if done is None:
                last = min(head, chunk_last, first + limit - count - 1)
                updates = self._read(first, last)
                if updates is None:
                    continue
                matching = [u for u in updates if matches(u)]
                done = (encode(matching) if matching else b"", len(matching))
                if first == chunk * size + 1 and last == chunk_last:
                    hub._remember(self.filter, chunk, done)
                self.cursor = last
            else:
                self.cursor = chunk_last
            if done[1]:
                parts.append(done[0])
                count += done[1]
        self.delivered += count
        return b"".join(parts), count

    def _wait(self, deadline: float, linger_s: float) -> bool:
        """Sleep until something is published or ``deadline``; False once closed."""
        hub = self._hub
        if self.closed or hub.closed:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return True
        events = self.wakes_on_events
        wake = hub._wake if events else hub._wake_samples
        with wake:
            if events:
                hub._sleeping += 1
            else:
                hub._sleeping_samples += 1
            try:
                newest = hub.head if events else hub.sample_head
                if newest <= self.cursor and not hub.closed:
                    wake.wait(remaining)
            finally:
                if events:
                    hub._sleeping -= 1
                else:
                    hub._sleeping_samples -= 1
        if linger_s > 0 and not hub.closed:
            time.sleep(linger_s)
        return not (self.closed or hub.closed)

    def next_batch(self, limit: int = 512, timeout_s: float = 1.0, *,
                   linger_s: float = 0.05) -> list[Update] | None:
        """The next matching updates, waiting up to ``timeout_s`` for some (an empty list when
        none came); None once the watcher or the hub is closed.

        ``linger_s``: after a wake-up, wait this long before reading, so that a busy publisher
        wakes each watcher at most ~1/linger_s times a second (20 by default) instead of once per
        update: fifty watchers then cost the bot's process a thousand short wake-ups a second,
        each sending a batch. A watcher whose filter passes no event (samples only) is not
        woken by events at all (:meth:`StreamFilter.may_match_events`).
        """
        deadline = time.monotonic() + timeout_s
        while True:
            if self.closed or self._hub.closed:
                return None
            batch = self.poll(limit)
            if batch or time.monotonic() >= deadline:
                return batch
            if not self._wait(deadline, linger_s):
                return None

    def next_encoded(self, encode: Callable[[list[Update]], bytes], limit: int = 1024,
                     timeout_s: float = 1.0, *, linger_s: float = 0.05
                     ) -> tuple[bytes, int] | None:
        """:meth:`take_encoded`, waiting as :meth:`next_batch` does; None once closed."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.closed or self._hub.closed:
                return None
            data, count = self.take_encoded(encode, limit)
            if count or time.monotonic() >= deadline:
                return data, count
            if not self._wait(deadline, linger_s):
                return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hub._forget(self)
            self._hub._wake_up()
