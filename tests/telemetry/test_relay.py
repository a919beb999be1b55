"""The gRPC server in a relay process (``telemetry.grpc_process = "relay"``, the default of
``bot-core run``): the stream crosses from the bot's hub to the relay's watchers, only what they
want crosses, the bot's metrics count the relay's watchers, and the relay never outlives its
bot. (The mTLS/RBAC matrix runs against a relay too: ``mtls_server`` in conftest.py.)"""

from __future__ import annotations

import json
import marshal
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import psutil
import pytest

from bot_core.control.protos import bot_core_pb2 as pb
from bot_core.control.relay import _encode_updates, _Lane, _receive_updates
from bot_core.telemetry.stream import StreamHub, Update, event_record

from .conftest import Served, bot_config, build_runtime_for, serve, shut


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Served]:
    scheduler = build_runtime_for(tmp_path, [bot_config(tmp_path, "alpha", "balanced")])
    served = serve(scheduler, tls=None, policy={}, plaintext=True, process="relay")
    try:
        yield served
    finally:
        shut(served)


def _watch(served: Served, **fields: Any) -> Iterator[pb.MetricsBatch]:
    channel = grpc.insecure_channel(served.addr)
    call = channel.unary_stream("/bot_core.v1.Telemetry/StreamMetrics",
                                request_serializer=pb.StreamMetricsRequest.SerializeToString,
                                response_deserializer=pb.MetricsBatch.FromString)
    return call(pb.StreamMetricsRequest(**fields), timeout=30)  # type: ignore[no-any-return]


def _until(condition: Any, what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_s:g} s: {what}")
        time.sleep(0.02)


def test_events_published_in_the_bot_reach_a_watcher_of_the_relay(relay: Served) -> None:
    hub = relay.server.hub
    assert hub.watchers == 0 and relay.server.forwarded == 0  # nobody watches: nothing crosses
    stream = _watch(relay, metrics=["event:decision"])
    _until(lambda: hub.watchers == 1, "the bot's hub counts the relay's watcher")
    seen: list[Any] = []
    n = 0
    while len(seen) < 3:
        hub.publish(Update.event("decision", "alpha", "balanced", n, strategy="mr", n=n,
                                 note={"why": "test"}))
        n += 1
        batch = next(stream)
        seen += [u for u in batch.updates if u.WhichOneof("body") == "event"]
    first = seen[0]
    assert (first.bot, first.profile, first.strategy, first.event.kind) == \
        ("alpha", "balanced", "mr", "decision")
    fields = json.loads(first.event.fields_json)
    assert fields["note"] == {"why": "test"} and fields["n"] == first.event.ts_ns
    stream.cancel()
    _until(lambda: hub.watchers == 0, "the watcher gone from the bot's count")


def test_a_watcher_of_samples_only_gets_no_event_across(relay: Served) -> None:
    hub = relay.server.hub
    stream = _watch(relay, metrics=["bot_core_equity"])
    batch = next(stream)  # the snapshot a new watcher triggers
    assert {u.sample.name for u in batch.updates} == {"bot_core_equity"}
    before = relay.server.forwarded
    for n in range(1000):
        hub.publish(Update.event("decision", "alpha", "balanced", n, strategy="mr"))
    relay.publisher.publish_now()
    batch = next(stream)
    assert {u.sample.name for u in batch.updates} == {"bot_core_equity"}
    crossed = relay.server.forwarded - before
    assert 0 < crossed < 1000  # the snapshot's samples crossed, none of the 1,000 events
    stream.cancel()


def test_the_bots_metrics_count_the_relays_watchers(relay: Served) -> None:
    from prometheus_client import generate_latest

    stream = _watch(relay, metrics=["bot_core_equity"])
    next(stream)
    _until(lambda: b"bot_core_stream_watchers 1.0" in generate_latest(relay.metrics.registry),
           "bot_core_stream_watchers 1 in the bot's /metrics")
    stream.cancel()
    _until(lambda: b"bot_core_stream_watchers 0.0" in generate_latest(relay.metrics.registry),
           "bot_core_stream_watchers back to 0")


def test_a_relay_that_dies_is_started_again_on_the_same_address(relay: Served,
                                                                capsys: Any) -> None:
    server = relay.server
    first, addr = server.pid, relay.addr
    os.kill(first, signal.SIGKILL)
    _until(lambda: server.restarts == 1 and server.running, "a new relay")
    assert server.pid != first and relay.addr == addr
    assert f"the gRPC relay process exited (status -9); started again (pid {server.pid})" in \
        capsys.readouterr().err
    stream = _watch(relay, metrics=["bot_core_equity"])  # it serves as the first did
    assert {u.sample.name for u in next(stream).updates} == {"bot_core_equity"}
    _until(lambda: relay.server.hub.watchers == 1, "its watcher counted by the bot")
    stream.cancel()


def test_a_relay_that_keeps_dying_is_given_up_on_and_the_bot_goes_on(relay: Served,
                                                                      capsys: Any) -> None:
    from bot_core.control.relay import MAX_RESTARTS

    server = relay.server
    for n in range(1, MAX_RESTARTS + 1):
        os.kill(server.pid, signal.SIGKILL)
        _until(lambda n=n: server.restarts == n and server.running, f"relay number {n + 1}")
    os.kill(server.pid, signal.SIGKILL)
    _until(lambda: server.pid is None, "the bot giving up on its relay")
    err = capsys.readouterr().err
    assert err.count("started again") == MAX_RESTARTS
    assert f"exited (status -9) {MAX_RESTARTS} times within a minute; gRPC is not served any " \
           f"more (the bots keep running)" in err
    assert relay.server.hub.watchers == 0
    server.stop()  # and stopping it after that is quiet


def _start_bot(tmp_path: Path, home: Path, addr: str, extra: str = "", *,
               new_group: bool = False) -> subprocess.Popen[str]:
    config = bot_config(tmp_path, "alpha", "balanced",
                        "[telemetry]\nallow_plaintext_loopback = true\n" + extra)
    return subprocess.Popen(
        [sys.executable, "-m", "bot_core", "run", "--config", str(config), "--json",
         "--grpc-addr", addr, "--speed", "60", "--duration", "30m"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "BOT_CORE_HOME": str(home)},
        process_group=0 if new_group else None)


def test_ctrl_c_in_a_terminal_stops_bot_and_relay_without_a_traceback(
        tmp_path: Path, bot_core_home: Path) -> None:
    # a terminal sends SIGINT to its whole foreground process group, not to the bot alone
    proc = _start_bot(tmp_path, bot_core_home, "127.0.0.1:0", new_group=True)
    try:
        relay = psutil.Process(_telemetry_event(proc)["grpc_relay_pid"])
        assert proc.stdout is not None
        assert any(json.loads(line)["event"] == "status" for line in proc.stdout)  # running
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "started again" not in err, err
    gone, alive = psutil.wait_procs([relay], timeout=15)
    assert gone and not alive


def _telemetry_event(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    for line in proc.stdout:
        event: dict[str, Any] = json.loads(line)
        if event["event"] == "telemetry":
            return event
    pytest.fail(f"no telemetry event: {proc.stderr.read() if proc.stderr else ''}")


def test_grpc_process_inline_serves_from_the_bots_own_process(tmp_path: Path,
                                                              bot_core_home: Path,
                                                              run_cli: Any) -> None:
    proc = _start_bot(tmp_path, bot_core_home, "127.0.0.1:0", 'grpc_process = "inline"\n')
    try:
        event = _telemetry_event(proc)
        assert "grpc_relay_pid" not in event
        assert not [p for p in psutil.Process(proc.pid).children()
                    if "bot_core.control.relay" in " ".join(p.cmdline())]
        status = run_cli("control", event["grpc_addr"], "--json", "status", timeout=60)
        assert status.returncode == 0, status.stderr
        assert [b["name"] for b in json.loads(status.stdout)["bots"]["bots"]] == ["alpha"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0


def test_a_bot_killed_by_sigkill_takes_its_relay_with_it(tmp_path: Path,
                                                         bot_core_home: Path) -> None:
    proc = _start_bot(tmp_path, bot_core_home, "127.0.0.1:0")
    try:
        event = _telemetry_event(proc)
        addr = event["grpc_addr"]
        relays = [p for p in psutil.Process(proc.pid).children()
                  if "bot_core.control.relay" in " ".join(p.cmdline())]
        assert len(relays) == 1
        assert any(c.laddr.port == int(addr.rpartition(":")[2])
                   for c in relays[0].net_connections("tcp") if c.status == "LISTEN")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        gone, alive = psutil.wait_procs(relays, timeout=15)
        assert gone and not alive, "the relay outlived its bot"
        with socket.socket() as probe:  # its port was given back
            probe.bind(("127.0.0.1", int(addr.rpartition(":")[2])))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux's")
def test_relay_cpus_keeps_the_relay_and_its_threads_on_those_cpus(tmp_path: Path,
                                                                  bot_core_home: Path) -> None:
    cpu = max(os.sched_getaffinity(0))
    proc = _start_bot(tmp_path, bot_core_home, "127.0.0.1:0", f"relay_cpus = [{cpu}]\n")
    try:
        event = _telemetry_event(proc)
        relay = psutil.Process(event["grpc_relay_pid"])
        threads = [t.id for t in relay.threads()]
        assert len(threads) > 1  # gRPC's threads and the relay's own
        for tid in threads:  # every thread, not only the first: each has its own mask
            assert os.sched_getaffinity(tid) == {cpu}
        assert psutil.Process(proc.pid).cpu_affinity() == sorted(os.sched_getaffinity(0))
        assert proc.stdout is not None
        assert any(json.loads(line)["event"] == "status" for line in proc.stdout)  # running
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0


@pytest.mark.parametrize(("value", "message"), [
    ("[4096]", "telemetry.relay_cpus [4096]: CPU 4096 is not one this process may run on"),
    ("[]", "give at least one CPU, or leave it unset"),
    ("[0, 0]", "CPU numbers are distinct and >= 0, not [0, 0]"),
])
def test_bad_relay_cpus_are_one_clear_line(tmp_path: Path, bot_core_home: Path, value: str,
                                           message: str) -> None:
    proc = _start_bot(tmp_path, bot_core_home, "127.0.0.1:0", f"relay_cpus = {value}\n")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err and '"event": "start"' not in out


def test_relay_cpus_for_an_inline_server_is_refused(tmp_path: Path,
                                                    bot_core_home: Path) -> None:
    proc = _start_bot(tmp_path, bot_core_home, "127.0.0.1:0",
                      'relay_cpus = [0]\ngrpc_process = "inline"\n')
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert '"event": "start"' not in out
    assert err.strip().endswith('telemetry.relay_cpus [0]: it applies to grpc_process = '
                                '"relay" only'), err


def test_a_port_in_use_is_one_clear_line_from_the_relay(tmp_path: Path,
                                                        bot_core_home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _start_bot(tmp_path, bot_core_home, f"127.0.0.1:{port}")
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert err.strip().splitlines() == [
        f"error: --grpc-addr 127.0.0.1:{port}: cannot listen there (in use, or not an address "
        f"of this machine)"]
    assert '"event": "start"' not in out


def _crossed(updates: list[Update], events: list[list[Any]]) -> list[Update]:
    """What the relay makes of a message with these updates and event records."""
    wires, records = marshal.loads(_encode_updates([u.wire() for u in updates], events))
    return [*(Update.from_wire(w) for w in wires), *(Update.from_record(r) for r in records)]


def _seen(update: Update) -> tuple[Any, ...]:
    return (update.kind, update.name, update.bot, update.profile, update.strategy,
            update.labels, update.value, update.ts_ns, update.wall_ns, update.fields_json)


def test_an_update_crosses_to_another_process_as_it_was() -> None:
    plain = Update.event("decision", "alpha", "balanced", 7, strategy="mr", side="buy",
                         quantity=0.5)
    odd = Update.event("note", "alpha", "balanced", 8, lock=threading.Lock())  # not plain
    sample = Update.sample("bot_core_equity", {"bot": "alpha"}, 1.5)
    for batch in ([plain, sample], [plain, odd, sample]):
        assert [_seen(u) for u in _crossed(batch, [])] == [_seen(u) for u in batch]
    assert '"lock":"<unlocked _thread.lock object' in odd.fields_json


def test_an_event_never_made_into_an_update_crosses_as_one_would() -> None:
    made = Update.event("fill", "alpha", "balanced", 9, strategy="mr", side="sell", fee=0.1)
    lazy = event_record("fill", "alpha", "balanced", 9, "mr", lambda: {"side": "sell",
                                                                       "fee": 0.1})
    odd = event_record("note", "alpha", "balanced", 8, "", {"lock": threading.Lock()})
    sample = Update.sample("bot_core_equity", {"bot": "alpha"}, 1.5)
    crossed, back, strange = _crossed([sample], [lazy, odd])
    assert _seen(back)[:8] + _seen(back)[9:] == _seen(made)[:8] + _seen(made)[9:]
    assert back.wall_ns == lazy[5] and _seen(crossed) == _seen(sample)
    assert '"lock":"<unlocked _thread.lock object' in strange.fields_json


def test_the_relay_skips_a_message_it_cannot_read_and_goes_on() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    hub = StreamHub()
    watcher = hub.watch()
    reader = threading.Thread(target=_receive_updates, args=(theirs, hub))
    reader.start()
    try:
        ours.send(b"not marshal data")
        ours.send(marshal.dumps(([1, 2],)))  # marshal, but not a batch
        ours.send(_encode_updates([], [event_record("fill", "alpha", "balanced", 3, "mr",
                                                    {"side": "buy"})]))
        got = watcher.next_batch(timeout_s=20, linger_s=0)
        assert got is not None and [(u.name, u.fields) for u in got] == \
            [("event:fill", {"side": "buy"})]
    finally:
        ours.close()  # end of file: the reader returns
        reader.join(timeout=10)
        theirs.close()
    assert not reader.is_alive()


def _lane(buffer: int) -> tuple[_Lane, socket.socket, StreamHub]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setblocking(False)
    hub = StreamHub()
    lane = _Lane(hub, ours, buffer)
    lane.want(True, True)
    hub.forward_to(lane)
    return lane, theirs, hub


def _received(theirs: socket.socket) -> list[Update]:
    theirs.setblocking(False)
    out: list[Update] = []
    while True:
        try:
            data = theirs.recv(1 << 20)
        except BlockingIOError:
            return out
        updates, events = marshal.loads(data)
        out += [*(Update.from_wire(values) for values in updates),
                *(Update.from_record(record) for record in events)]


def test_the_lane_never_waits_for_a_relay_that_does_not_read() -> None:
    lane, theirs, hub = _lane(buffer=2048)
    try:
        started = time.monotonic()
        for n in range(200_000):  # far more than the socket holds: the relay reads nothing
            hub.publish_event("decision", "alpha", "balanced", n, strategy="mr",
                              fields={"n": n, "note": "x" * 40})
            if n % 16 == 15:
                hub.hand_over()  # as the scheduler's probe does after each batch
        assert time.monotonic() - started < 30  # it never blocked (seconds, not forever)
        assert lane.dropped > 0 and hub.dropped == lane.dropped  # counted where watchers look
        assert hub.published == 200_000 - len(lane._events)
        first = [u.fields["n"] for u in _received(theirs)]  # what the socket held: the oldest
        assert first == list(range(len(first)))
        newest: list[int] = []
        while lane._queued or lane._events:  # the relay catches up: the kept queue crosses
            with lane._lock:
                lane._flush()
            newest += [u.fields["n"] for u in _received(theirs)]
        # dropped from behind: the newest crossed, in order, the last of them with no gap
        assert newest == sorted(newest) and newest[-1] == 199_999
        kept = 2048 - 256
        assert newest[-kept:] == list(range(200_000 - kept, 200_000))
        assert lane.forwarded == len(first) + len(newest)
        assert lane.forwarded + lane.dropped == 200_000 == hub.published
    finally:
        lane.stop()
        theirs.close()


def test_the_lane_sends_what_lingers_while_nothing_is_published() -> None:
    lane, theirs, hub = _lane(buffer=1024)
    lane.start()
    try:
        hub.publish_event("stop", "alpha", "balanced", 1, fields={"reason": "done"})
        hub.publish(Update.sample("bot_core_equity", {"bot": "alpha"}, 2.0))
        deadline = time.monotonic() + 10
        got: list[Update] = []
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
            got += _received(theirs)
        # a batch of two goes when it has lingered, though nothing calls hand_over
        assert sorted((u.name, str(u.fields) if u.kind == "event" else u.value)
                      for u in got) == [("bot_core_equity", 2.0),
                                        ("event:stop", "{'reason': 'done'}")]
        lane.want(True, False)  # the relay's watchers want samples only now
        hub.publish_event("stop", "alpha", "balanced", 2, fields={"reason": "again"})
        assert not lane._events and not lane._updates
    finally:
        lane.stop()
        theirs.close()
