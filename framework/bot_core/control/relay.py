"""The gRPC server in a process of its own (``telemetry.grpc_process = "relay"``, the default).

Why: fifty StreamMetrics watchers cost the bot's process every send's gRPC and TLS work, on
fifty threads that take the GIL from the scheduler (bar-to-decision p99 +22 % to +500 %,
docs/performance.md, "Telemetry"). Here that work runs in a relay process: the bot hands it
each update once, and the relay does the filtering, encoding, batching and the fifty sends on
its own core.

The relay is a child of the bot (``python -m bot_core.control.relay FD LANE_FD``) holding the
whole server of :mod:`bot_core.control.server` (Telemetry, Control, health; mutual TLS; RBAC).
Its channels to the bot are two socket pairs made at its start and inherited by it alone (no
file, no port). On the first the bot sends it the start settings (bind, TLS material, policy);
it sends the bot the Control calls it admitted and recorded, each with the caller's identity
from the TLS auth context (the role was checked in the relay, where that context is), the call
counts for ``bot_core_control_calls_total``, and what its watchers want. The bot carries out
the calls on its real :class:`~bot_core.control.target.ControlTarget`, journal entries
included, and answers. The second carries the updates (:class:`_Lane`).

What crosses to the relay is only what someone watches: no update while nobody watches; metric
samples only (a few hundred a second) while no watcher's filter lets events through; every
update otherwise. The bot hands them over on the publisher's own thread, as plain values, in
batches sent without waiting; no thread of the bot reads its hub for the relay, so the
scheduler never waits for the GIL on the relay's account. The relay ends when the bot closes
the channel, and when the bot dies (the channel's end of file), SIGKILL included. A relay that
dies under a running bot is started again on the same address (at most :data:`MAX_RESTARTS`
times a minute; a line on stderr says so each time); watchers reconnect to it as to any server.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import marshal
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from bot_core.control.rbac import AccessPolicy
from bot_core.control.target import (
    BotView,
    ControlError,
    ControlTarget,
    Outcome,
    Problem,
    PromotionView,
    RiskView,
    StrategyView,
)
from bot_core.control.tls import TlsMaterial, check_bind
from bot_core.errors import UsageError
from bot_core.telemetry.addresses import Address
from bot_core.telemetry.stream import EVENT_FIELDS, WIRE_FIELDS, StreamHub, Update

__all__ = ["RelayServer", "RelayStart"]

START_TIMEOUT_S = 30.0
MAX_RESTARTS = 3
"""A relay that dies is started again on the same address, at most this many times a minute."""
CALL_TIMEOUT_S = 60.0
"""How long the relay waits for the bot to carry out a Control call (a promotion judges its
gates) before answering FAILED_PRECONDITION."""
RELAY_NICE = 19
"""The relay runs this much below the bot's CPU priority: on a machine short of cores the
scheduler goes first and a watcher that falls behind loses the oldest updates (as a slow
watcher always does), never the bot's time."""
_LANE_BATCH = 256
"""Updates per message to the relay."""
_LANE_MOST_KEPT = 1 << 16
"""Updates kept at most between two sends (the lane's thread sends twenty times a second)."""
_LANE_LINGER_NS = 50_000_000
"""The longest an update waits to be sent with others."""
_LANE_SOCKET_BYTES = 1 << 20
"""The bot's send buffer for updates asked of the OS (it may give less)."""
_TARGET_METHODS = frozenset(name for name in vars(ControlTarget) if not name.startswith("_"))
"""What the relay may ask the bot's target: the methods of the protocol, nothing else."""


@dataclass(frozen=True)
class RelayStart:
    """What the relay needs to serve: the bind and everything :class:`ControlServer` takes."""

    address: Address
    tls: TlsMaterial | None
    allow_plaintext_loopback: bool
    policy: AccessPolicy
    stream_buffer: int
    max_watchers: int
    what: str
    cpus: tuple[int, ...] | None = None
    """The CPUs the relay runs on (``telemetry.relay_cpus``); None: wherever the OS puts it."""


class _Channel:
    """One end of the socket pair: whole pickled messages, sent by any thread."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> bool:
        """False when the other side is gone."""
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            with self._lock:
                self.conn.send_bytes(data)
        except (OSError, ValueError):
            return False
        return True

    def recv(self) -> tuple[Any, ...] | None:
        """The next message; None at end of file (the other process closed it or died)."""
        try:
            message: tuple[Any, ...] = self.conn.recv()
        except (EOFError, OSError):
            return None
        return message

    def close(self) -> None:
        self.conn.close()


# -- the bot's side ---------------------------------------------------------------------------


class _Lane:
    """The bot's end of the updates' socket (a :class:`~bot_core.telemetry.stream.Lane`).

    The hub hands it each update the relay's watchers want, as plain values, on the
    publisher's own thread (the scheduler's, for events): no thread of the bot reads the hub
    for the relay, so none takes the GIL from the scheduler per update, and taking an update is
    a deque's ``append``. The rest (an event's fields where they are still a function, the
    encoding with :mod:`marshal`, the send) happens in :meth:`hand_over`, which the scheduler's
    probe calls between batches of decisions (:meth:`StreamHub.hand_over`) once
    :data:`_LANE_BATCH` updates are kept or :data:`_LANE_LINGER_NS` passed since the last
    send; a thread sends what lingers while nothing calls it. Nothing waits for the relay: a
    batch the socket cannot take now waits in a queue of at most ``buffer`` updates, whose
    oldest are dropped and counted when it is full, as a slow watcher's are.
    """

    def __init__(self, hub: StreamHub, sock: socket.socket, buffer: int) -> None:
        self.hub = hub
        self.buffer = buffer
        self.samples = False
        self.events = False
        self.forwarded = 0
        """Updates handed to the relay so far."""
        self.dropped = 0
        self._sock = sock
        self._lock = threading.Lock()
        # appended to by publishers without a lock (a deque's append and popleft are atomic);
        # bounded only against a process whose lane thread cannot run
        self._updates: deque[tuple[Any, ...]] = deque(maxlen=_LANE_MOST_KEPT)
        self._events: deque[list[Any]] = deque(maxlen=_LANE_MOST_KEPT)
        self.take = self._updates.append
        self.take_event = self._events.append
        self._sent_ns = time.time_ns()
        self._queued: deque[tuple[bytes, int]] = deque()
        self._queued_count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._linger, name="bot-core-relay-lane",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def want(self, watching: bool, events: bool) -> None:
        self.samples = watching
        self.events = watching and events

    def attach(self, sock: socket.socket) -> None:
        """A new relay's socket: nothing crosses until it says what its watchers want."""
        with self._lock:
            self.want(False, False)
            self._updates.clear()
            self._events.clear()
            self._queued.clear()
            self._queued_count = 0
            self._sock.close()
            self._sock = sock

    def _due(self) -> bool:
        kept = len(self._updates) + len(self._events)
        return bool(self._queued) or kept >= _LANE_BATCH or (
            kept > 0 and time.time_ns() - self._sent_ns >= _LANE_LINGER_NS)

    def hand_over(self) -> None:
        if self._due():
            with self._lock:
                self._flush()

    def _flush(self) -> None:
        """Send the kept updates and what waits in the queue, as far as the socket takes them
        now (the lock held)."""
        self._sent_ns = time.time_ns()
        updates = _drain(self._updates)
        events = _drain(self._events)
        if events:
            self.hub.count_published(len(events))
        for at in range(0, max(len(updates), len(events)), _LANE_BATCH):  # a message fits
            part = (updates[at:at + _LANE_BATCH], events[at:at + _LANE_BATCH])
            count = len(part[0]) + len(part[1])
            self._queued.append((_encode_updates(*part), count))
            self._queued_count += count
        while self._queued:
            data, count = self._queued[0]
            try:
                self._sock.send(data)
            except BlockingIOError:
                break
            except OSError:  # the relay is gone (or the batch is too large for the socket)
                self.dropped += count
                self.hub.count_dropped(count)
            else:
                self.forwarded += count
            self._queued.popleft()
            self._queued_count -= count
        while self._queued_count > self.buffer and len(self._queued) > 1:  # from behind
            _, count = self._queued.popleft()
            self._queued_count -= count
            self.dropped += count
            self.hub.count_dropped(count)

    def _linger(self) -> None:
        while not self._stop.wait(_LANE_LINGER_NS / 1e9):
            if self._due():
                with self._lock:
                    self._flush()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._lock:
            self.want(False, False)
            self._sock.close()


def _drain(kept: deque[Any]) -> list[Any]:
    """What ``kept`` holds now, oldest first (publishers may append meanwhile)."""
    out = []
    for _ in range(len(kept)):
        out.append(kept.popleft())
    return out


def _encode_updates(updates: list[tuple[Any, ...]], events: list[list[Any]]) -> bytes:
    """Updates' :meth:`~Update.wire` values and events' records as :mod:`marshal` bytes, each
    event's fields made where they are still a function. Plain values only: an event whose
    fields hold anything else crosses with them as JSON text, which the relay reads back."""
    for record in events:
        fields = record[EVENT_FIELDS]
        if callable(fields):
            record[EVENT_FIELDS] = fields()
    try:
        return marshal.dumps((updates, events))
    except ValueError:
        return marshal.dumps(([_plain(values, WIRE_FIELDS) for values in updates],
                              [_plain(record, EVENT_FIELDS) for record in events]))


def _plain(values: Sequence[Any], at: int) -> list[Any]:
    """``values`` with the fields at ``at`` as JSON text if they are not plain values."""
    out = list(values)
    try:
        marshal.dumps(out[at])
    except ValueError:
        out[at] = json.dumps(out[at], default=str, separators=(",", ":"))
    return out


class RelayServer:
    """:class:`~bot_core.control.server.ControlServer`'s interface, served by a relay process
    (see the module docstring).

    :raises UsageError: a plaintext bind that is not allowed (checked before the relay starts),
        a bind the relay could not make.
    """

    def __init__(self, address: Address, tls: TlsMaterial | None, *,
                 allow_plaintext_loopback: bool, policy: AccessPolicy, target: ControlTarget,
                 hub: StreamHub, metrics: Any = None, stream_buffer: int = 4096,
                 max_watchers: int = 64, what: str = "--grpc-addr",
                 cpus: Sequence[int] | None = None) -> None:
        check_bind(address, tls, allow_plaintext_loopback, what)
        self.requested = address
        self.address = address
        self.tls = tls
        self.hub = hub
        self.what = what
        self.target = target
        self.metrics = metrics
        self._start = RelayStart(address, tls, allow_plaintext_loopback, policy, stream_buffer,
                                 max_watchers, what, tuple(cpus) if cpus is not None else None)
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: _Channel | None = None
        self._lane: _Lane | None = None
        self._reader: threading.Thread | None = None
        self._calls = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bot-core-control")
        self._stopping = False
        self._restarted: list[float] = []
        self.restarts = 0
        """Times a relay that died was started again."""

    def start(self) -> Address:
        """Start the relay and wait until it listens; returns the bound address."""
        self.address, sock = self._spawn(self.requested)
        self._lane = _Lane(self.hub, sock, self._start.stream_buffer)
        self._lane.start()
        self.hub.forward_to(self._lane)
        self._reader = threading.Thread(target=self._read, name="bot-core-relay-calls",
                                        daemon=True)
        self._reader.start()
        return self.address

    def _channel_or_fail(self) -> _Channel:
        assert self._channel is not None, "start() first"
        return self._channel

    def _spawn(self, address: Address) -> tuple[Address, socket.socket]:
        """A relay process listening at ``address``: its bound address and the bot's end of
        its updates' socket.

        :raises UsageError: the relay could not listen there, or did not start."""
        ours, theirs = socket.socketpair()
        # updates: whole messages (a batch is sent whole or not at all), never waited on
        lane, lane_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        lane.setblocking(False)
        with contextlib.suppress(OSError):
            lane.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _LANE_SOCKET_BYTES)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "bot_core.control.relay", str(theirs.fileno()),
                 str(lane_theirs.fileno())],
                pass_fds=(theirs.fileno(), lane_theirs.fileno()), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # the bot's stdout may be its --json event stream
                # a group of its own: a terminal's Ctrl-C is the bot's to handle (it stops the
                # relay in order); the relay would die of it, with a traceback on our stderr
                process_group=0,
                # no gRPC log lines (a refused bind's) before the one line the bot prints
                env={**os.environ, "GRPC_VERBOSITY": "NONE"})
        except BaseException:
            lane.close()
            raise
        finally:
            theirs.close()
            lane_theirs.close()
        channel = self._channel = _Channel(Connection(ours.detach()))
        channel.send(("start", dataclasses.replace(self._start, address=address)))
        reply = channel.recv() if channel.conn.poll(START_TIMEOUT_S) else None
        if reply is None or reply[0] != "ready":
            self._end_process(channel, grace_s=0.0)
            lane.close()
            if reply is None:
                raise UsageError(f"{self.what} {address}: the gRPC relay process did not start "
                                 f"within {START_TIMEOUT_S:g} s")
            raise UsageError(str(reply[1]))
        return Address(address.host, int(reply[1])), lane

    def _read(self) -> None:
        while True:
            channel = self._channel
            message = channel.recv() if channel is not None else None
            if message is None:
                if self._stopping or not self._restart():
                    return
                continue
            kind = message[0]
            if kind == "watchers":
                _, count, events, dropped = message
                assert self._lane is not None
                self._lane.want(count > 0, events)  # before the snapshot a watcher triggers
                self.hub.set_remote(count, dropped, events)
            elif kind == "count":
                if self.metrics is not None:
                    self.metrics.control_call(*message[1:])
            elif kind == "call":
                self._calls.submit(self._answer, *message[1:])

    def _restart(self) -> bool:
        """The relay died under a running bot: start another on the same address (at most
        :data:`MAX_RESTARTS` a minute), saying so on stderr. False when it gives up."""
        process, channel = self._process, self._channel
        status = process.wait() if process is not None else None
        if channel is not None:
            channel.close()
        self.hub.set_remote(0, self.hub.remote_dropped, False)
        now = time.monotonic()
        self._restarted = [t for t in self._restarted if now - t < 60.0] + [now]
        where = f"{self.what} {self.address}"
        if len(self._restarted) > MAX_RESTARTS:
            sys.stderr.write(f"error: {where}: the gRPC relay process exited (status {status}) "
                             f"{MAX_RESTARTS} times within a minute; gRPC is not served any "
                             f"more (the bots keep running)\n")
            self._process = self._channel = None
            return False
        try:
            _, sock = self._spawn(self.address)
        except UsageError as exc:
            sys.stderr.write(f"error: {where}: the gRPC relay process exited (status {status}) "
                             f"and could not be started again: {exc}\n")
            self._process = self._channel = None
            return False
        if self._stopping:  # stop() came meanwhile: this one goes too
            sock.close()
            self._end_process(self._channel, grace_s=0.0)
            return False
        assert self._lane is not None
        self._lane.attach(sock)
        self.restarts += 1
        sys.stderr.write(f"warning: {where}: the gRPC relay process exited (status {status}); "
                         f"started again (pid {self.pid})\n")
        return True

    def _answer(self, call_id: int, method: str, args: tuple[Any, ...],
                kwargs: Mapping[str, Any]) -> None:
        if method not in _TARGET_METHODS:
            reply: tuple[Any, ...] = ("reply", call_id, False,
                                      ControlError(Problem.INVALID, f"no such call: {method}"))
        else:
            try:
                reply = ("reply", call_id, True, getattr(self.target, method)(*args, **kwargs))
            except ControlError as exc:
                reply = ("reply", call_id, False, exc)
            except Exception as exc:  # a bug: the relay answers UNKNOWN with its text
                reply = ("reply", call_id, False, RuntimeError(f"{type(exc).__name__}: {exc}"))
        channel = self._channel
        if channel is not None:  # else the relay that asked is gone, and its caller with it
            channel.send(reply)

    def _end_process(self, channel: _Channel | None, grace_s: float) -> None:
        """Ask the relay to stop, wait ``grace_s`` + 5 s for it, then kill it."""
        if channel is not None:
            channel.send(("stop", grace_s))
        process, self._process = self._process, None
        if process is not None:
            try:
                process.wait(timeout=grace_s + 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if channel is not None:
            channel.close()

    def stop(self, grace_s: float = 1.0) -> None:
        """End every stream and the relay; waits at most ``grace_s`` + 5 s for it."""
        self._stopping = True
        channel, self._channel = self._channel, None
        self._end_process(channel, grace_s)
        if self._lane is not None:
            self.hub.forward_to(None)
            self._lane.stop()
            self._lane = None
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        self._calls.shutdown(wait=False, cancel_futures=True)
        self.hub.set_remote(0, self.hub.remote_dropped, False)

    def __enter__(self) -> RelayServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def forwarded(self) -> int:
        """Updates handed to the relay so far (only what its watchers want crosses)."""
        return self._lane.forwarded if self._lane is not None else 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None


# -- the relay's side -------------------------------------------------------------------------



class _BotTarget:
    """The bot's :class:`ControlTarget`, called over the channel (in the relay)."""

    def __init__(self, channel: _Channel) -> None:
        self._channel = channel
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._waiting: dict[int, list[Any]] = {}

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        call_id = next(self._ids)
        done = threading.Event()
        slot: list[Any] = [done]
        with self._lock:
            self._waiting[call_id] = slot
        try:
            if not self._channel.send(("call", call_id, method, args, kwargs)):
                raise ControlError(Problem.REFUSED, "the bot's process is gone")
            if not done.wait(CALL_TIMEOUT_S):
                raise ControlError(Problem.REFUSED, f"the bot did not answer {method} within "
                                                    f"{CALL_TIMEOUT_S:g} s")
        finally:
            with self._lock:
                self._waiting.pop(call_id, None)
        ok, value = slot[1], slot[2]
        if not ok:
            raise value
        return value

    def answered(self, call_id: int, ok: bool, value: Any) -> None:
        with self._lock:
            slot = self._waiting.get(call_id)
        if slot is not None:
            slot += [ok, value]
            slot[0].set()

    def abandon(self) -> None:
        """The bot is gone: every waiting call fails now."""
        with self._lock:
            slots = list(self._waiting.values())
        for slot in slots:
            if len(slot) == 1:
                slot += [False, ControlError(Problem.REFUSED, "the bot's process is gone")]
                slot[0].set()

    def bots(self) -> list[BotView]:
        return list(self._call("bots"))

    def strategies(self, bot: str) -> list[StrategyView]:
        return list(self._call("strategies", bot))

    def risk(self, bot: str) -> list[RiskView]:
        return list(self._call("risk", bot))

    def pause(self, bot: str, strategy: str, reason: str, who: str) -> Outcome:
        outcome: Outcome = self._call("pause", bot, strategy, reason, who)
        return outcome

    def resume(self, bot: str, strategy: str, reason: str, who: str) -> Outcome:
        outcome: Outcome = self._call("resume", bot, strategy, reason, who)
        return outcome

    def set_trading_state(self, bot: str, state: str, reason: str, who: str) -> list[Outcome]:
        return list(self._call("set_trading_state", bot, state, reason, who))

    def clear_reducing(self, bot: str, reason: str, who: str, *,
                       lift_daily_loss_halt: bool = False) -> list[Outcome]:
        return list(self._call("clear_reducing", bot, reason, who,
                               lift_daily_loss_halt=lift_daily_loss_halt))

    def promote(self, bot: str, to_mode: str, confirm: str, who: str) -> PromotionView:
        view: PromotionView = self._call("promote", bot, to_mode, confirm, who)
        return view

    def journal(self, bots: list[str], action: str, who: str,
                detail: Mapping[str, object]) -> None:
        self._call("journal", bots, action, who, dict(detail))


class _CallCounts:
    """``bot_core_control_calls_total`` is the bot's: the relay sends it each call."""

    def __init__(self, channel: _Channel) -> None:
        self._channel = channel

    def control_call(self, method: str, role: str, code: str) -> None:
        self._channel.send(("count", method, role, code))


def _report_watchers(hub: StreamHub, channel: _Channel, stop: threading.Event) -> Callable[
        [int], None]:
    """Tell the bot the watchers, whether any wants events, and the drops: at once when the
    watchers change, and every half second while the drops grow."""
    last: list[Any] = [None]
    lock = threading.Lock()

    def report(_count: int = 0) -> None:
        with lock:
            now = (hub.watchers, hub.events_wanted, hub.dropped)
            if now != last[0]:
                last[0] = now
                channel.send(("watchers", *now))

    def keep_reporting() -> None:
        while not stop.wait(0.5):
            report()

    threading.Thread(target=keep_reporting, name="bot-core-relay-report", daemon=True).start()
    return report


def _receive_updates(lane: socket.socket, hub: StreamHub) -> None:
    """Publish the bot's batches of updates (a thread of the relay), until end of file."""
    buffer = bytearray(_LANE_SOCKET_BYTES)
    view = memoryview(buffer)
    while True:
        try:
            size, _, flags, _ = lane.recvmsg_into([buffer])
        except OSError:
            return
        if not size:
            return
        if flags & socket.MSG_TRUNC:  # larger than any batch the bot's socket can send
            continue
        try:
            updates, events = marshal.loads(view[:size])
            batch = [*(Update.from_wire(values) for values in updates),
                     *(Update.from_record(record) for record in events)]
        except (EOFError, ValueError, TypeError):  # not the bot's batch: skipped, not fatal
            continue
        hub.publish_many(batch)


def serve(channel: _Channel, lane: socket.socket) -> int:
    """The relay's life: start the server the bot asks for, serve until the bot closes the
    channel or dies. Returns the exit status."""
    from bot_core.control.server import ControlServer

    message = channel.recv()
    if message is None or message[0] != "start":
        return 2
    start: RelayStart = message[1]
    if start.cpus is not None:  # before any thread starts: gRPC's threads inherit it
        try:
            os.sched_setaffinity(0, start.cpus)
        except (OSError, AttributeError) as exc:
            channel.send(("refused", f"{start.what}: telemetry.relay_cpus "
                                     f"{list(start.cpus)}: {exc}"))
            return 2
    hub = StreamHub(capacity=start.stream_buffer)
    target = _BotTarget(channel)
    try:
        server = ControlServer(start.address, start.tls,
                               allow_plaintext_loopback=start.allow_plaintext_loopback,
                               policy=start.policy, target=target, hub=hub,
                               metrics=_CallCounts(channel), stream_buffer=start.stream_buffer,
                               max_watchers=start.max_watchers, what=start.what)
        address = server.start()
    except UsageError as exc:
        channel.send(("refused", str(exc)))
        return 2
    stop = threading.Event()
    hub.on_watchers_changed.append(_report_watchers(hub, channel, stop))
    threading.Thread(target=_receive_updates, args=(lane, hub), name="bot-core-relay-updates",
                     daemon=True).start()
    channel.send(("ready", address.port))
    grace_s = 1.0
    try:
        while True:
            message = channel.recv()
            if message is None:
                break
            kind = message[0]
            if kind == "reply":
                target.answered(*message[1:])
            elif kind == "stop":
                grace_s = float(message[1])
                break
    finally:
        stop.set()
        target.abandon()
        server.stop(grace_s)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not all(arg.isdigit() for arg in args):
        sys.stderr.write("usage: python -m bot_core.control.relay FD LANE_FD (started by "
                         "bot-core run, with the sockets it inherits)\n")
        return 2
    fd, lane_fd = int(args[0]), int(args[1])
    os.set_inheritable(fd, False)
    os.set_inheritable(lane_fd, False)
    with contextlib.suppress(OSError):  # where the bot's cores are short, the bot goes first
        os.nice(RELAY_NICE)
    lane = socket.socket(fileno=lane_fd)
    try:
        return serve(_Channel(Connection(fd)), lane)
    finally:
        lane.close()


if __name__ == "__main__":
    sys.exit(main())
