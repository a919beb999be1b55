"""Telemetry over gRPC with mutual TLS (a benchmark script, not a test).

1. ``StreamMetrics`` throughput: the bot's process publishes runtime events as fast as it can
   into the stream hub of a real gRPC server on loopback (mTLS, certificates made here); the
   watchers run in other processes (as remote watchers do) and count what they receive. Updates
   per second delivered, to 1 watcher and to 50 (5 processes x 10 streams), and what the slow
   ones lost (dropped from behind, never slowing the publisher). Goal: >= 50,000 updates/s to
   one watcher.
2. The scheduler's bar-to-decision p99 (the load of ``bench_scheduler.py``: 100 mean_reversion
   instances x 10 instruments at full speed) without telemetry, with the metrics and the server
   but no watcher, with 50 watchers of the metric snapshots (what ``metrics watch`` shows) and
   with 50 watchers of every event (a decision event per decision: tens of thousands a second
   at full speed). The watcher processes run at the lowest CPU priority there: remote watchers
   do not share the bot's cores. Goal: 50 watchers cost the p99 under 10 % against none.

    python benchmarks/bench_telemetry.py                 # 10 s per measurement, 3 rounds
    python benchmarks/bench_telemetry.py --quick
    python benchmarks/bench_telemetry.py --process inline  # the server in the bot's process
    python benchmarks/bench_telemetry.py --relay-cpus 1 --watcher-cpus 1

The server runs as ``bot-core run`` runs it by default: in a relay process the bot feeds
(``telemetry.grpc_process = "relay"``); ``--process inline`` measures it on the bot's own
threads instead. ``--relay-cpus`` gives the relay CPUs of its own (``telemetry.relay_cpus``);
``--watcher-cpus`` keeps the watcher processes on those CPUs, off the bot's (a lower priority
alone does not: the OS still runs them on the bot's core now and then), which is how watchers
on other machines would leave the bot's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

GOAL_UPDATES_PER_S = 50_000
GOAL_P99_WORSE = 0.10
END_SAMPLE = "bot_core_bench_end"
"""The sentinel of a watcher of samples (``event:end`` for one of events)."""


# -- the watchers (a separate process each: --client) -------------------------------------------


def client(args: argparse.Namespace) -> None:
    """``--client``: open ``--streams`` StreamMetrics calls, count updates until the sentinel
    (an event named ``end``), print one JSON line per stream."""
    import grpc

    from bot_core.control.protos import bot_core_pb2 as pb

    if args.nice and hasattr(os, "nice"):  # remote watchers run elsewhere: yield the CPU
        os.nice(19)
    if args.cpus:
        os.sched_setaffinity(0, _cpus(args.cpus))
    certs = Path(args.certs)
    credentials = grpc.ssl_channel_credentials(
        (certs / "ca.crt").read_bytes(), (certs / "viewer.key").read_bytes(),
        (certs / "viewer.crt").read_bytes())
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def watch() -> None:
        channel = grpc.secure_channel(args.client, credentials,
                                      options=[("grpc.use_local_subchannel_pool", 1)])
        call = channel.unary_stream("/bot_core.v1.Telemetry/StreamMetrics",
                                    request_serializer=pb.StreamMetricsRequest.SerializeToString,
                                    response_deserializer=pb.MetricsBatch.FromString)
        count, first, last, dropped = 0, 0.0, 0.0, 0
        # the sentinel matches the pattern itself (a watcher of samples stays one of samples:
        # an event pattern would have it woken by every decision)
        for batch in call(pb.StreamMetricsRequest(metrics=[args.pattern]), timeout=600):
            now = time.perf_counter()
            if not first:
                first = now
            last, dropped = now, batch.dropped
            count += len(batch.updates)
            if any(u.event.kind == "end" or u.sample.name == END_SAMPLE
                   for u in batch.updates):
                break
        channel.close()
        with lock:
            results.append({"count": count, "seconds": last - first, "dropped": dropped})

    threads = [threading.Thread(target=watch) for _ in range(args.streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        print(json.dumps(result), flush=True)


# -- the server side -----------------------------------------------------------------------------


class Served:
    """A stream hub and a real mTLS server on loopback (Control is never called here)."""

    def __init__(self, certs: Path, *, buffer: int = 65536, process: str = "relay",
                 relay_cpus: str | None = None, watcher_cpus: str | None = None) -> None:
        from bot_core.control.rbac import AccessPolicy
        from bot_core.control.relay import RelayServer
        from bot_core.control.runtime_target import RuntimeControl
        from bot_core.control.server import ControlServer
        from bot_core.control.tls import TlsFiles, read_server_material
        from bot_core.telemetry.addresses import Address
        from bot_core.telemetry.stream import StreamHub

        self.hub = StreamHub(capacity=buffer)
        material = read_server_material(TlsFiles(certs / "ca.crt", certs / "server.crt",
                                                 certs / "server.key"), "bench")
        options: dict[str, Any] = dict(
            allow_plaintext_loopback=False,
            policy=AccessPolicy.of({"spiffe://bot-core/viewer": "viewer"}, None),
            target=RuntimeControl(), hub=self.hub, stream_buffer=buffer, max_watchers=64)
        address = Address("127.0.0.1", 0)
        self.server = RelayServer(
            address, material, cpus=sorted(_cpus(relay_cpus)) if relay_cpus else None,
            **options) if process == "relay" else ControlServer(address, material, **options)
        self.address = str(self.server.start())
        self.certs = certs
        self.watcher_cpus = watcher_cpus

    def watchers(self, processes: int, streams: int, pattern: str = "event:*", *,
                 nice: bool = False) -> list[subprocess.Popen[str]]:
        procs = [subprocess.Popen([sys.executable, __file__, "--client", self.address,
                                   "--certs", str(self.certs), "--streams", str(streams),
                                   "--pattern", pattern, *(["--nice"] if nice else []),
                                   *(["--cpus", self.watcher_cpus] if self.watcher_cpus
                                     else [])],
                                  stdout=subprocess.PIPE, text=True)
                 for _ in range(processes)]
        deadline = time.monotonic() + 120
        while self.hub.watchers < processes * streams:
            if time.monotonic() > deadline:
                raise RuntimeError("the watchers did not connect")
            time.sleep(0.05)
        return procs

    def end(self, procs: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
        from bot_core.telemetry.stream import Update

        results: list[dict[str, Any]] = []
        done = threading.Event()

        def keep_ending() -> None:  # a watcher that lost the sentinel gets another
            while not done.wait(0.2):
                self.hub.publish_many([Update.event("end", "", "", 0),
                                       Update.sample(END_SAMPLE, {}, 1.0)])

        ender = threading.Thread(target=keep_ending)
        ender.start()
        try:
            for proc in procs:
                out, _ = proc.communicate(timeout=300)
                results += [json.loads(line) for line in out.splitlines()]
        finally:
            done.set()
            ender.join()
        return results

    def close(self) -> None:
        self.server.stop(grace_s=0.5)


def _cpus(text: str) -> set[int]:
    return {int(cpu) for cpu in text.split(",")}


def throughput(certs: Path, processes: int, streams: int, updates: int, process: str) -> None:
    from bot_core.telemetry.stream import Update

    served = Served(certs, process=process)
    try:
        procs = served.watchers(processes, streams)
        started = time.perf_counter()
        publish = served.hub.publish
        for n in range(updates):
            publish(Update.event("decision", "alpha", "balanced", n, strategy="mr", n=n,
                                 side="buy", quantity=0.5, verdict="approve"))
        publish_s = time.perf_counter() - started
        results = served.end(procs)
    finally:
        served.close()
    received = sum(r["count"] for r in results)
    seconds = max(r["seconds"] for r in results)
    per_watcher = [r["count"] / r["seconds"] for r in results if r["seconds"] > 0]
    dropped = sum(r["dropped"] for r in results)
    watchers = processes * streams
    total = received / seconds if seconds else float("nan")
    line = (f"StreamMetrics over mTLS to {watchers} watcher(s): published {updates:,} updates in "
            f"{publish_s:.2f} s ({updates / publish_s:,.0f}/s); delivered {received:,} "
            f"({total:,.0f} updates/s in all, {min(per_watcher):,.0f}-{max(per_watcher):,.0f} "
            f"per watcher), dropped from behind {dropped:,}")
    if watchers == 1:
        verdict = "meets" if per_watcher[0] >= GOAL_UPDATES_PER_S else "misses"
        line += f" -> {verdict} the goal (>= {GOAL_UPDATES_PER_S:,}/s to one watcher)"
    print(line, flush=True)


def scheduler_p99(certs: Path, duration: float, watchers: int, process: str,
                  rounds: int = 1, relay_cpus: str | None = None,
                  watcher_cpus: str | None = None) -> None:
    """The p99 cost of the watchers, measured in ``rounds`` rounds (each: no telemetry, the
    server with no watcher, snapshot watchers, event watchers, one after the other, so that a
    machine whose speed drifts slows the four alike); the verdict is on the median."""
    import bot_core
    from bot_core.runtime.loadtest import run_loadtest
    from bot_core.telemetry.metrics import RuntimeMetrics, SnapshotPublisher

    host = bot_core.load_plugins()
    import gc

    gc.freeze()

    def measure(label: str, served: Served | None) -> float:
        extras: list[Any] = []

        def attach(scheduler: Any) -> None:
            assert served is not None
            metrics = RuntimeMetrics(hub=served.hub)
            host.register_observer(metrics, name=f"bench-metrics-{len(extras)}")
            metrics.track_scheduler(scheduler)
            extras.append((metrics, SnapshotPublisher(metrics.registry, served.hub).start()))

        report = run_loadtest(host, strategies=100, instruments=10, duration_s=duration,
                              attach=attach if served is not None else None)
        for metrics, publisher in extras:
            publisher.close()
            host.unregister_observer(metrics)
        print(f"  {label}: {report.events_per_s:,.0f} events/s, bar-to-decision p50 "
              f"{report.latency_p50_ms:.3f} ms, p99 {report.latency_p99_ms:.3f} ms, skipped bars "
              f"{report.skipped_bars}", flush=True)
        return report.latency_p99_ms

    print(f"scheduler, 100 strategies x 10 instruments, {duration:g} s each, {rounds} "
          f"round(s):", flush=True)
    worse: dict[str, list[float]] = {"metric snapshots": [], "every event": []}
    served = Served(certs, process=process, relay_cpus=relay_cpus, watcher_cpus=watcher_cpus)
    try:
        for round_ in range(1, rounds + 1):
            if rounds > 1:
                print(f" round {round_}:", flush=True)
            bare = measure("no telemetry                        ", None)
            idle = measure("metrics + server, no watcher        ", served)
            print(f"  metrics + server vs no telemetry: p99 {idle / bare - 1:+.1%}", flush=True)
            for pattern, what in (("bot_core_*", "metric snapshots"),
                                  ("event:*", "every event")):
                procs = served.watchers(max(1, watchers // 10), min(10, watchers), pattern,
                                        nice=True)
                try:
                    watched = measure(f"{watchers} watchers of {what:<16}", served)
                finally:
                    results = served.end(procs)
                received = sum(r["count"] for r in results)
                dropped = sum(r["dropped"] for r in results)
                worse[what].append(watched / idle - 1)
                print(f"  {watchers} watchers of {what} received {received:,} updates "
                      f"({dropped:,} dropped from behind); p99 with them vs none: "
                      f"{worse[what][-1]:+.1%}", flush=True)
    finally:
        served.close()
    for what, ratios in worse.items():
        median = statistics.median(ratios)
        verdict = "meets" if median < GOAL_P99_WORSE else "misses"
        print(f"{watchers} watchers of {what}: p99 vs none, median of {len(ratios)} round(s) "
              f"{median:+.1%} (rounds: {', '.join(f'{r:+.1%}' for r in ratios)}) -> {verdict} "
              f"the goal (< {GOAL_P99_WORSE:.0%})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=500_000)
    parser.add_argument("--duration", type=float, default=10.0,
                        help="wall seconds per scheduler measurement (default 10)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--process", choices=("relay", "inline"), default="relay",
                        help="where the gRPC server runs (default: relay, as bot-core run)")
    parser.add_argument("--only", choices=("throughput", "p99"), default=None)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the p99 measurements (default 3; median judged)")
    parser.add_argument("--relay-cpus", default=None,
                        help="CPUs of the relay in the p99 measurements (e.g. 1 or 2,3)")
    parser.add_argument("--watcher-cpus", default=None,
                        help="CPUs of the watcher processes in the p99 measurements")
    parser.add_argument("--cpus", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--client", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--certs", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--streams", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--pattern", default="event:*", help=argparse.SUPPRESS)
    parser.add_argument("--nice", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    if args.client:
        client(args)
        return
    from bot_core.control.certs import generate_dev_certificates

    updates = 100_000 if args.quick else args.updates
    duration = 3.0 if args.quick else args.duration
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.2f} on {os.cpu_count()} cores at the start", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp) / "certs"
        generate_dev_certificates(certs)
        print(f"gRPC server: {args.process}", flush=True)
        if args.only != "p99":
            throughput(certs, 1, 1, updates, args.process)
            throughput(certs, 5, 10, updates // 5, args.process)
        if args.only != "throughput":
            print(f"relay CPUs: {args.relay_cpus or 'any'}; watcher CPUs: "
                  f"{args.watcher_cpus or 'any'}", flush=True)
            scheduler_p99(certs, duration, 50, args.process, rounds=args.rounds,
                          relay_cpus=args.relay_cpus, watcher_cpus=args.watcher_cpus)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at the end: {load:.2f}", flush=True)


if __name__ == "__main__":
    main()
