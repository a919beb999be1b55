"""The stream hub: one ring, a cursor per watcher, slow watchers dropped from behind and counted,
the publisher never waiting; and the same over a real StreamMetrics call on loopback."""

from __future__ import annotations

import threading
import time
from typing import Any

import grpc

from bot_core.control.protos import bot_core_pb2 as pb
from bot_core.telemetry.stream import StreamFilter, StreamHub, Update

from .conftest import Served


def _event(n: int, bot: str = "alpha", strategy: str = "mr") -> Update:
    return Update.event("decision", bot, "balanced", n, strategy=strategy, n=n)


def test_a_slow_watcher_loses_the_oldest_updates_and_counts_them() -> None:
    hub = StreamHub(capacity=1024)
    slow = hub.watch(buffer=100)
    fast = hub.watch()
    for n in range(1, 10_001):
        hub.publish(_event(n))
        if n % 500 == 0:
            assert len(fast.poll(1000)) == 500  # keeps up: loses nothing
    got = slow.poll(10_000)
    assert [u.fields["n"] for u in got] == list(range(9_901, 10_001))  # the newest 100
    assert slow.dropped == 9_900 and fast.dropped == 0
    assert hub.dropped == 9_900 and hub.published == 10_000


def test_filters_are_applied_on_the_watchers_side() -> None:
    hub = StreamHub()
    only_beta = hub.watch(StreamFilter.of(bots=["beta"]))
    equity = hub.watch(StreamFilter.of(names=["bot_core_equity*"]))
    events = hub.watch(StreamFilter.of(names=["event:*"], strategies=["vt"]))
    hub.publish(_event(1, bot="alpha"))
    hub.publish(_event(2, bot="beta", strategy="vt"))
    hub.publish(Update.sample("bot_core_equity", {"bot": "beta", "profile": "x"}, 1.0))
    hub.publish(Update.sample("bot_core_fills_total", {"bot": "beta"}, 3.0))
    assert [u.seq for u in only_beta.poll()] == [2, 3, 4]
    assert [u.name for u in equity.poll()] == ["bot_core_equity"]
    assert [u.fields.get("n") for u in events.poll()] == [2]


def test_a_waiting_watcher_wakes_on_publish_and_ends_on_close() -> None:
    hub = StreamHub()
    watcher = hub.watch()
    got: list[Any] = []

    def consume() -> None:
        got.append(watcher.next_batch(timeout_s=10, linger_s=0))
        got.append(watcher.next_batch(timeout_s=10, linger_s=0))

    thread = threading.Thread(target=consume)
    thread.start()
    time.sleep(0.05)
    hub.publish(_event(1))
    time.sleep(0.05)
    hub.close()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert [u.seq for u in got[0]] == [1] and got[1] is None


def test_which_filters_may_pass_an_event() -> None:
    assert StreamFilter.of().may_match_events()
    assert StreamFilter.of(names=["event:*"]).may_match_events()
    assert StreamFilter.of(names=["*"]).may_match_events()
    assert StreamFilter.of(names=["ev?nt:fill"]).may_match_events()
    assert StreamFilter.of(names=["bot_core_equity", "event:fill"]).may_match_events()
    assert not StreamFilter.of(names=["bot_core_*"]).may_match_events()
    assert not StreamFilter.of(names=["bot_core_equity", "bot_core_pnl"]).may_match_events()


def test_a_watcher_of_samples_is_not_woken_by_events() -> None:
    hub = StreamHub()
    watcher = hub.watch(StreamFilter.of(names=["bot_core_*"]))
    reads = 0
    poll = watcher.poll

    def counted_poll(limit: int = 512) -> list[Update]:
        nonlocal reads
        reads += 1
        return poll(limit)

    watcher.poll = counted_poll  # type: ignore[method-assign]
    got: list[Any] = []
    thread = threading.Thread(
        target=lambda: got.append(watcher.next_batch(timeout_s=10, linger_s=0)))
    thread.start()
    time.sleep(0.05)
    for n in range(1, 201):  # the scheduler's decisions: none of them wakes it
        hub.publish(_event(n))
        time.sleep(0.001)
    hub.publish(Update.sample("bot_core_equity", {"bot": "alpha"}, 1.0))
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert [u.name for u in got[0]] == ["bot_core_equity"]
    assert reads == 2  # before it slept, and once the sample came


def test_a_watcher_that_stops_reading_never_slows_the_publisher(
        plaintext_server: Served) -> None:
    """A StreamMetrics client that reads nothing while 20,000 events are published: every
    publish returns without the client having read anything (were it to wait for the watcher,
    this would never finish), and the client later learns what it lost."""
    hub = plaintext_server.server.hub

    def publish_all() -> None:
        for n in range(20_000):
            hub.publish(_event(n))

    with grpc.insecure_channel(plaintext_server.addr) as channel:
        call = channel.unary_stream("/bot_core.v1.Telemetry/StreamMetrics",
                                    request_serializer=pb.StreamMetricsRequest.SerializeToString,
                                    response_deserializer=pb.MetricsBatch.FromString)
        stream = call(pb.StreamMetricsRequest(metrics=["event:*"]), timeout=30)
        deadline = time.monotonic() + 10
        while hub.watchers < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        hub.publish(_event(-1))
        first = next(stream)  # subscribed
        head_before = hub.head
        publish_all()  # meanwhile the client reads nothing
        assert hub.head >= head_before + 20_000  # (snapshots may be published meanwhile)
        newest = Update.event("decision", "alpha", "balanced", 0, strategy="mr", last=True)
        hub.publish(newest)
        dropped, seen_newest = first.dropped, False
        for batch in stream:
            dropped = batch.dropped
            if any(u.seq == newest.seq for u in batch.updates):
                seen_newest = True
                break
        stream.cancel()
    assert seen_newest  # it caught up with the newest
    assert dropped > 10_000  # and was told how much it missed (buffer: 4096)


def test_watchers_with_the_same_filter_share_each_chunks_encoding() -> None:
    from bot_core.control.protos import bot_core_pb2 as pb
    from bot_core.control.service import encode_updates

    hub = StreamHub(capacity=1024)
    first, second = hub.watch(), hub.watch()
    only_x = hub.watch(StreamFilter.of(strategies=["x"]))
    for n in range(1, 1001):
        hub.publish(_event(n, strategy="x" if n % 3 == 0 else "y"))
    encoded: list[bytes] = []

    def counting(updates: list[Update]) -> bytes:
        encoded.append(b"")
        return encode_updates(updates)

    a, count_a = first.take_encoded(counting, 10_000)
    calls_for_first = len(encoded)
    b, count_b = second.take_encoded(counting, 10_000)
    assert a == b and count_a == count_b == 1000
    assert len(encoded) == calls_for_first + 1  # only the last, ragged chunk encoded again
    x, count_x = only_x.take_encoded(counting, 10_000)
    batch = pb.MetricsBatch.FromString(x)
    assert count_x == 333 and [u.seq for u in batch.updates] == list(range(3, 1001, 3))
    assert [u.seq for u in pb.MetricsBatch.FromString(a).updates] == list(range(1, 1001))


def test_publishers_are_told_whether_anyone_wants_events() -> None:
    hub = StreamHub(capacity=64)
    assert not hub.events_wanted
    samples = hub.watch(StreamFilter.of(names=["bot_core_equity"]))
    assert hub.watchers == 1 and not hub.events_wanted  # a watcher of samples only
    events = hub.watch(StreamFilter.of(names=["event:decision"]))
    assert hub.events_wanted
    events.close()
    assert not hub.events_wanted
    hub.set_remote(3, 0, events=True)  # a relay's watchers count too
    assert hub.watchers == 4 and hub.events_wanted
    hub.set_remote(0, 5, events=True)  # nobody there: no events wanted whatever it says
    assert hub.watchers == 1 and not hub.events_wanted and hub.remote_dropped == 5
    samples.close()


def test_a_samples_only_filter_lets_no_event_through() -> None:
    flt = StreamFilter(samples_only=True)
    assert not flt.may_match_events()
    assert flt.matches(Update.sample("process_cpu_seconds_total", {}, 1.0))
    assert not flt.matches(_event(1))

