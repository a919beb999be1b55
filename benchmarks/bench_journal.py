"""Throughput of the decision journal (a benchmark script, not a test).

Measures, in one run and on the same machine:

* **append**: records per second through :class:`JournalWriter` with the default fsync policy
  (a background sync every 100 ms, one ``write`` per record), for a run's mix of records built
  by the observer's payload functions from real intents, verdicts, orders and fills: decision
  (with its inputs summary), risk verdict, order, fill. Target: >= 100,000 records/s.
  Also through the observer's hooks (payloads built from the event objects on the way).
* **verify**: records per second of :func:`verify_paths` over a journal of 1M such records in
  64 MiB files with a checkpoint (files checked in parallel, one worker process per core).
  Target: 1M records in <= 3 s.
* peers measured in the same run: appending the same payloads as plain, unsigned JSON lines
  (``json.dumps`` + a buffered write), and reading the journal back with one HMAC per line and
  nothing else (the least any verifier of these files can do in Python).

Usage::

    python benchmarks/bench_journal.py              # 200k appends, verify 1M records
    python benchmarks/bench_journal.py --quick      # 50k appends, verify 200k records
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bot_core.journal import JournalObserver, JournalWriter, verify_paths
from bot_core.journal.events import fill_payload, intent_payload, order_payload, verdict_payload
from bot_core.journal.keys import JournalKey, Keyring
from bot_core.orders import Fill, Order, OrderIntent, OrderStatus, Side, TimeInForce
from bot_core.risk.check import Verdict, VerdictAction
from bot_core.runinfo import RunInfo

T0 = 1_704_067_200 * 1_000_000_000
RING = Keyring((JournalKey("k1", 0, bytes(range(32))),), "benchmark")
RUN = RunInfo("run-0123456789ab", "demo", T0)
INPUTS = {"last_price": 42_123.5, "last_update_ns": T0, "position": 0.25, "bot_position": 0.75,
          "equity": 100_523.25, "trading_state": "active"}


def _events(n: int) -> list[tuple[str, Any]]:
    """``n`` events of a run: per decision a decision, its verdict, the order, a fill."""
    events: list[tuple[str, Any]] = []
    for k in range(n // 4 + 1):
        intent = OrderIntent("mean_reversion", "paper_a", "BTC/USDT",
                             Side.BUY if k % 2 else Side.SELL, 0.01 + k % 7 / 100,
                             f"mean_reversion-run-0123456789ab-{k}",
                             time_in_force=TimeInForce.IOC, ts_ns=T0 + k * 60_000_000_000,
                             tag="z-score 2.1")
        verdict = Verdict(VerdictAction.APPROVE, "ok") if k % 5 else \
            Verdict(VerdictAction.REDUCE, "max_position_pct", "cut to the 20% cap", 0.005,
                    "max_position")
        order = Order(intent, intent.quantity, OrderStatus.FILLED, intent.quantity,
                      42_130.25, 0.21)
        fill = Fill(f"t{k}", intent.client_order_id, "paper_a", "BTC/USDT", intent.side,
                    intent.quantity, 42_130.25, 0.21, intent.ts_ns + 60_000_000_000,
                    strategy_id="mean_reversion")
        events += [("decision", intent), ("risk_verdict", (intent, verdict)),
                   ("order", order), ("fill", fill)]
    return events[:n]


def _payloads(events: list[tuple[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for kind, event in events:
        if kind == "decision":
            out.append((kind, intent_payload(event, INPUTS)))
        elif kind == "risk_verdict":
            out.append((kind, verdict_payload(*event)))
        elif kind == "order":
            out.append((kind, order_payload(event)))
        else:
            out.append((kind, fill_payload(event)))
    return out


def bench_append(directory: Path, payloads: list[tuple[str, dict[str, Any]]]) -> float:
    writer = JournalWriter(directory, "bench", RING, run_id=RUN.run_id, mode="demo")
    append = writer.append
    start = time.perf_counter()
    for kind, payload in payloads:
        append(kind, payload, trusted_shape=True)
    elapsed = time.perf_counter() - start
    writer.close()
    return len(payloads) / elapsed


def bench_observer(directory: Path, events: list[tuple[str, Any]]) -> float:
    writer = JournalWriter(directory, "bench", RING, run_id=RUN.run_id, mode="demo")
    observer = JournalObserver(writer, inputs=_Inputs())
    hooks = {"decision": lambda e: observer.bot_core_on_decision(RUN, e),
             "risk_verdict": lambda e: observer.bot_core_on_risk_verdict(RUN, *e),
             "order": lambda e: observer.bot_core_on_order(RUN, e),
             "fill": lambda e: observer.bot_core_on_fill(RUN, e)}
    calls = [(hooks[kind], event) for kind, event in events]
    start = time.perf_counter()
    for hook, event in calls:
        hook(event)
    elapsed = time.perf_counter() - start
    writer.close()
    return len(events) / elapsed


class _Inputs:
    trusted_shape = True

    def __call__(self, intent: OrderIntent) -> dict[str, Any]:
        return INPUTS


def bench_plain_jsonl(path: Path, payloads: list[tuple[str, dict[str, Any]]]) -> float:
    start = time.perf_counter()
    with open(path, "w", encoding="utf-8") as out:
        for seq, (kind, payload) in enumerate(payloads, start=1):
            out.write(json.dumps({"seq": seq, "type": kind, "payload": payload}) + "\n")
    return len(payloads) / (time.perf_counter() - start)


def write_big_journal(directory: Path, payloads: list[tuple[str, dict[str, Any]]],
                      records: int) -> None:
    writer = JournalWriter(directory, "bench", RING, run_id=RUN.run_id, mode="demo")
    for k in range(records):
        kind, payload = payloads[k % len(payloads)]
        writer.append(kind, payload, trusted_shape=True)
    writer.close()


def bench_verify(directory: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of one verification (CPU time shows what other jobs on the
    machine took from the wall time)."""
    def cpu_now() -> float:  # this process and its finished workers
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system

    start, cpu = time.perf_counter(), cpu_now()
    (report,) = verify_paths([directory], RING)
    elapsed, cpu = time.perf_counter() - start, cpu_now() - cpu
    assert report.ok, report.finding
    return elapsed, cpu, report.records


def bench_hmac_floor(directory: Path) -> float:
    """Read every line and compute its HMAC, nothing else."""
    secret = RING.keys[0].secret
    base = hmac.new(secret, digestmod=hashlib.sha256)
    start = time.perf_counter()
    count = 0
    for path in sorted(directory.glob("journal-*.jsonl")):
        for line in path.read_bytes().split(b"\n")[:-1]:
            mac = base.copy()
            mac.update(line)
            mac.hexdigest()
            count += 1
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000, help="records appended")
    parser.add_argument("--verify-records", type=int, default=1_000_000,
                        help="records in the journal verified")
    parser.add_argument("--quick", action="store_true", help="50k appends, verify 200k")
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    args = parser.parse_args()
    if args.quick:
        args.records, args.verify_records = 50_000, 200_000
    events = _events(args.records)
    payloads = _payloads(events)
    tmp = Path(tempfile.mkdtemp(prefix="bench-journal-"))
    try:
        appended, observed, plain = 0.0, 0.0, 0.0
        for attempt in range(args.repeat):
            appended = max(appended, bench_append(tmp / f"a{attempt}", payloads))
            observed = max(observed, bench_observer(tmp / f"o{attempt}", events))
            plain = max(plain, bench_plain_jsonl(tmp / f"plain{attempt}.jsonl", payloads))
            shutil.rmtree(tmp / f"a{attempt}")
            shutil.rmtree(tmp / f"o{attempt}")
        size = sum(len(json.dumps(p)) for _, p in payloads) / len(payloads)
        print(f"append ({args.records:,} records, mean payload {size:.0f} chars, fsync every "
              "100 ms):")
        print(f"  JournalWriter.append        {appended:>12,.0f} records/s   target >= 100,000: "
              f"{'met' if appended >= 100_000 else 'NOT met'}")
        print(f"  through the observer hooks  {observed:>12,.0f} records/s")
        print(f"  peer: plain json.dumps JSONL{plain:>12,.0f} records/s   journal = "
              f"{appended / plain:.2f}x the peer")
        big = tmp / "big"
        built = time.perf_counter()
        write_big_journal(big, payloads, args.verify_records)
        built = time.perf_counter() - built
        files = len(list(big.glob("journal-*.jsonl")))
        megabytes = sum(p.stat().st_size for p in big.glob("journal-*.jsonl")) / 2**20
        best, best_cpu = float("inf"), float("inf")
        for _ in range(args.repeat):
            elapsed, cpu, records = bench_verify(big)
            best, best_cpu = min(best, elapsed), min(best_cpu, cpu)
        floor = min(bench_hmac_floor(big) for _ in range(args.repeat))
        scaled = best * 1_000_000 / records
        print(f"verify ({records:,} records in {files} files, {megabytes:,.0f} MiB; written in "
              f"{built:.1f} s):")
        print(f"  verify_paths                {best:>10.2f} s   {records / best:>12,.0f} "
              f"records/s   1M records: {scaled:.2f} s, target <= 3 s: "
              f"{'met' if scaled <= 3 else 'NOT met'}")
        print(f"  (CPU time, workers included, of the best run: {best_cpu:.2f} s; files are "
              "checked in parallel, one worker per core)")
        print(f"  peer: read + one HMAC/line  {floor:>10.2f} s   verify = {best / floor:.2f}x "
              "the peer")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
