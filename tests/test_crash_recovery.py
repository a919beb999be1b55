"""kill -9, again and again: ``bot-core run`` in demo mode as a subprocess, killed with SIGKILL at
named fault points (after an order is committed and before it is sent, after the venue answered
and before the answer is committed, in the middle of a state snapshot, in the middle of a
journal line) and at random moments, then restarted on the same ``BOT_CORE_HOME``.

After each restart the reconciliation must explain everything (no discrepancy: positions and
cash equal the paper venue's). After the last, clean run, from the files themselves: no order
lost, none sent twice, no fill counted twice, positions equal to the venue's, and the decision
journal verifies across every crash.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX"),
]

BOT = "balanced"
_NAMED = {  # fault point -> range of the hit that kills
    "after_persist_before_send": (1, 8),
    "after_venue_ack_before_persist": (1, 8),
    "mid_checkpoint": (2, 10),
    "mid_journal_write": (20, 300),
}
_WATCHDOG_S = 20.0
"""A run whose fault point never fires is killed anyway (it must never end cleanly)."""


@dataclass
class Life:
    """One process: how it was to die, and what it said."""

    how: str
    seconds: float = 0.0
    returncode: int | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""

    def reconcile(self) -> dict[str, Any] | None:
        return next((e for e in self.events if e["event"] == "reconcile"), None)


def _live(home: Path, how: str, *, fault: str | None = None, kill_after_lines: int | None = None,
          kill_after_s: float | None = None, cycles: int = 100_000) -> Life:
    env = {**os.environ, "BOT_CORE_HOME": str(home), "BOT_CORE_DISABLE_PLUGINS": "ccxt",
           "BOT_CORE_RUNTIME__STATE__SNAPSHOT_INTERVAL_S": "0.05"}
    env.pop("BOT_CORE_FAULT_POINT", None)
    if fault is not None:
        env["BOT_CORE_FAULT_POINT"] = fault
    life = Life(how)
    began = time.monotonic()
    err = home / f"stderr-{time.monotonic_ns()}.txt"
    with open(err, "w", encoding="utf-8") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot_core", "run", "--preset", BOT, "--mode", "demo",
             "--speed", "max", "--cycles", str(cycles), "--json"],
            env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        watchdog = threading.Timer(kill_after_s if kill_after_s is not None else _WATCHDOG_S,
                                   proc.kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            for count, line in enumerate(proc.stdout, 1):
                try:
                    life.events.append(json.loads(line))
                except ValueError:
                    break  # a line cut by the kill
                if kill_after_lines is not None and count >= kill_after_lines:
                    proc.kill()
                    break
            proc.stdout.close()
            life.returncode = proc.wait(timeout=60)
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    life.stderr = err.read_text(encoding="utf-8")
    life.seconds = time.monotonic() - began
    return life


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_twenty_odd_kill_9s_lose_nothing_and_send_nothing_twice(bot_core_home: Path) -> None:
    rng = random.Random(20240115)
    plan: list[tuple[str, dict[str, Any]]] = []
    for point, (low, high) in _NAMED.items():
        for _ in range(3):
            hit = rng.randint(low, high)
            plan.append((f"{point}:{hit}", {"fault": f"{point}:{hit}"}))
    for _ in range(6):
        lines = rng.randint(1, 200)
        plan.append((f"after {lines} lines", {"kill_after_lines": lines}))
    for _ in range(4):
        delay = round(rng.uniform(0.3, 3.0), 2)
        plan.append((f"after {delay} s", {"kill_after_s": delay}))
    rng.shuffle(plan)

    lives: list[Life] = []
    for how, kwargs in plan:
        life = _live(bot_core_home, how, **kwargs)
        assert life.returncode == -signal.SIGKILL, (how, life.returncode, life.stderr[-2000:])
        lives.append(life)
    final = _live(bot_core_home, "final", cycles=30)
    assert final.returncode == 0, final.stderr[-2000:]
    lives.append(final)
    assert len(plan) >= 20
    print("\n".join(f"{life.how}: {life.seconds:.1f} s, {len(life.events)} events"
                    for life in lives))

    # -- every restart explained everything it found -----------------------------------------
    reconciled = [life.reconcile() for life in lives]
    reports = [r for r in reconciled if r is not None]
    assert len(reports) >= 15  # some lives died before reconciling, during start-up
    for report in reports:
        assert report["discrepancies"] == [] and report["outcome"] == "clean", report
    not_sent = sum(len(r["not_sent"]) for r in reports)
    assert not_sent >= sum(1 for how, _ in plan if how.startswith("after_persist_before_send"))
    assert sum(len(r["fills_booked"]) for r in reports) >= 1  # a missed fill was booked

    # -- the files, after the last clean run -------------------------------------------------
    state_dir = bot_core_home / "state" / BOT / "demo"
    state = state_dir / "state.sqlite"
    orders = _rows(state, "SELECT client_order_id, lifecycle, status, filled_quantity, "
                          "strategy_id, venue, instrument, side, intent_ts_ns, reason FROM orders")
    assert orders, "the runs placed no order"
    by_id = {o[0]: o for o in orders}
    lifecycles = Counter(o[1] for o in orders)
    assert set(lifecycles) <= {"sent", "not_sent"}, lifecycles  # none adopted, lost, pending
    assert lifecycles["not_sent"] == not_sent

    venue_orders: dict[str, tuple[str, tuple[Any, ...]]] = {}
    venue_fills: dict[tuple[str, str], tuple[Any, ...]] = {}
    venue_positions: dict[tuple[str, str], float] = {}
    for path in sorted((state_dir / "venues").glob("*.sqlite")):
        venue = path.stem
        for row in _rows(path, "SELECT client_order_id, status, filled FROM orders"):
            assert row[0] not in venue_orders, f"{row[0]} reached two venues"
            venue_orders[row[0]] = (venue, row)
        for trade_id, cid, qty, price, fee in _rows(
                path, "SELECT trade_id, client_order_id, quantity, price, fee FROM fills"):
            venue_fills[(venue, trade_id)] = (cid, qty, price, fee)
        balances = dict(_rows(path, "SELECT asset, amount FROM balances"))
        initial = json.loads(_rows(path, "SELECT value FROM meta WHERE key = "
                                         "'initial_balances'")[0][0])
        for (instrument,) in _rows(path, "SELECT DISTINCT instrument FROM orders"):
            base = instrument.split("/")[0]
            venue_positions[(venue, instrument)] = balances.get(base, 0.0) - initial.get(base, 0.0)

    # no order lost: what the venues received, the books recorded as sent, and nothing else
    assert {cid for cid, o in by_id.items() if o[1] == "sent"} == set(venue_orders)
    for cid, (venue, (_, status, filled)) in venue_orders.items():
        assert by_id[cid][5] == venue and by_id[cid][2] == status, (cid, by_id[cid], status)
        assert by_id[cid][3] == pytest.approx(filled, rel=1e-12, abs=1e-12)
    # none sent twice: a client order id reaches a venue once (the venue's book is keyed by
    # it, and a second send would have come back rejected as a duplicate)
    assert not any("duplicate_client_order_id" in o[9] for o in orders)

    # no fill lost or counted twice: the books hold exactly the venues' fills, once each
    fills = _rows(state, "SELECT venue, trade_id, client_order_id, quantity, price, fee "
                         "FROM fills")
    assert len(fills) == len({(f[0], f[1]) for f in fills}) == len(venue_fills)
    for venue, trade_id, cid, qty, price, fee in fills:
        assert venue_fills[(venue, trade_id)] == (cid, qty, price, fee)

    # positions equal the venues'
    books: dict[tuple[str, str], float] = {}
    for venue, instrument, qty in _rows(state, "SELECT venue, instrument, quantity FROM "
                                               "positions"):
        books[(venue, instrument)] = books.get((venue, instrument), 0.0) + qty
    for key in set(books) | set(venue_positions):
        assert books.get(key, 0.0) == pytest.approx(venue_positions.get(key, 0.0), rel=1e-9,
                                                    abs=1e-9), key

    # the journal verifies across every crash
    verify = subprocess.run([sys.executable, "-m", "bot_core", "journal", "verify",
                             str(bot_core_home / "journal" / BOT)],
                            env={**os.environ, "BOT_CORE_HOME": str(bot_core_home)},
                            capture_output=True, text=True, timeout=120, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
