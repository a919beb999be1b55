"""bot_core.state.store and schema: real SQLite files, their versions and migrations."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot_core.errors import StateError
from bot_core.orders import (
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from bot_core.state import SCHEMA_VERSION, Lifecycle, StateStore
from bot_core.state.schema import APPLICATION_ID, MIGRATIONS


def _order(cid: str = "mr-run-1", **changes: object) -> Order:
    intent = OrderIntent("mr", "venue_a", "BTC/USDT", Side.SELL, 0.5, cid,
                         OrderType.LIMIT, 42_000.5, TimeInForce.DAY, True, "g1", 17, "entry")
    order = Order(intent, 0.25)
    for key, value in changes.items():
        setattr(order, key, value)
    return order


def _fill(trade_id: str, cid: str = "mr-run-1", qty: float = 0.1) -> Fill:
    return Fill(trade_id, cid, "venue_a", "BTC/USDT", Side.SELL, qty, 42_001.0, 0.2, 99,
                "maker", "mr")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state.sqlite"


def test_a_new_file_is_versioned_wal_and_durable(path: Path) -> None:
    with StateStore(path) as store:
        assert store.empty and store.durable_orders  # order rows: synchronous = FULL
        conn = store._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.persist_order(_order(), run_id="r", ts_ns=1)
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL for the rest
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    raw.close()


def test_orders_round_trip_with_their_lifecycle_and_counter(path: Path) -> None:
    with StateStore(path, clock=lambda: 5_000) as store:
        order = _order()
        store.persist_order(order, run_id="run-1", ts_ns=10, counter=("mr", 7))
        store.persist_order(_order("mr-run-2"), run_id="run-1", ts_ns=11, counter=("mr", 3))
        order.status, order.filled_quantity, order.average_price = (
            OrderStatus.PARTIALLY_FILLED, 0.1, 42_001.0)
        order.fees, order.reason = 0.2, "partial"
        store.update_order(order, 12, lifecycle=Lifecycle.SENT)
    with StateStore(path) as store:
        rows = store.orders()
        assert [r.client_order_id for r in rows] == ["mr-run-1", "mr-run-2"]
        first = rows[0]
        assert first.order.intent == order.intent
        assert (first.order.quantity, first.order.status, first.order.filled_quantity,
                first.order.average_price, first.order.fees, first.order.reason) == (
            0.25, OrderStatus.PARTIALLY_FILLED, 0.1, 42_001.0, 0.2, "partial")
        assert (first.lifecycle, first.run_id, first.created_ns, first.updated_ns) == (
            Lifecycle.SENT, "run-1", 10, 12)
        assert rows[1].lifecycle is Lifecycle.PERSISTED
        assert store.counters() == {"mr": 7}  # never goes back
        assert store.clock_ns == 5_000
        assert [r.client_order_id for r in store.orders(open_only=True)] == [
            "mr-run-1", "mr-run-2"]


def test_a_client_order_id_is_recorded_once(path: Path) -> None:
    with StateStore(path) as store:
        store.persist_order(_order(), run_id="r", ts_ns=1)
        with pytest.raises(StateError, match="'mr-run-1' is recorded already"):
            store.persist_order(_order(), run_id="r", ts_ns=2)
        assert len(store.orders()) == 1


def test_fills_are_unique_by_venue_and_trade_id(path: Path) -> None:
    with StateStore(path) as store:
        order = _order()
        store.persist_order(order, run_id="r", ts_ns=1)
        order.filled_quantity = 0.1
        assert store.record_fill(_fill("t1"), order, 2)
        assert not store.record_fill(_fill("t1", qty=9.0), order, 3)
        assert store.record_fill(_fill("t2"), None, 4)
        rows = store.fills()
        assert [(r.fill.trade_id, r.fill.quantity) for r in rows] == [("t1", 0.1), ("t2", 0.1)]
        assert rows[0].seq == 1 < rows[1].seq  # booking order
        assert [r.fill.trade_id for r in store.fills(after_seq=1)] == ["t2"]
        assert store.trade_ids(upto_seq=1) == [("venue_a", "t1")]
        assert store.order("mr-run-1").order.filled_quantity == 0.1  # type: ignore[union-attr]


def test_a_snapshot_replaces_the_books_in_one_transaction(path: Path) -> None:
    portfolio = {"cash": [[None, 1.0], ["venue_a", -5.0]], "trade_ids": [["venue_a", "t1"]],
                 "positions": [{"strategy": "mr", "venue": "venue_a", "instrument": "BTC/USDT",
                                "qty": 0.1, "avg_price": 1.0, "realized": 0.0, "fees": 0.1}]}
    with StateStore(path) as store:
        store.record_fill(_fill("t1"), None, 1)
        store.save_snapshot(run_id="r", ts_ns=50, portfolio=portfolio, risk={"state": "active"},
                            pipeline={"order_seq": {"mr": 3}}, quarantine={"vt": ("boom", 40)})
        snap = store.snapshot()
        assert snap is not None
        assert (snap.fill_seq, snap.taken_ns, snap.run_id) == (1, 50, "r")
        assert "trade_ids" not in snap.portfolio  # the fills table holds them
        assert snap.risk == {"state": "active"} and snap.pipeline == {"order_seq": {"mr": 3}}
        assert store.positions()[0]["qty"] == 0.1
        assert store.quarantine() == {"vt": ("boom", 40)}

        def fail() -> None:
            raise RuntimeError("disk on fire")

        with pytest.raises(RuntimeError):
            store.save_snapshot(run_id="r2", ts_ns=60, portfolio={"positions": []}, risk={},
                                pipeline={}, quarantine={}, before_commit=fail)
        assert store.snapshot().run_id == "r"  # type: ignore[union-attr]
        assert len(store.positions()) == 1 and store.quarantine() == {"vt": ("boom", 40)}


def test_runs_say_whether_they_ended_cleanly(path: Path) -> None:
    with StateStore(path) as store:
        store.begin_run("a")
        store.end_run("a", "completed")
        store.begin_run("b")
        runs = store.runs()
        assert [(r.run_id, r.ended_cleanly, r.reason) for r in runs] == [
            ("a", True, "completed"), ("b", False, None)]


def test_one_process_at_a_time(path: Path) -> None:
    with StateStore(path), pytest.raises(StateError, match=rf"in use by pid {os.getpid()}"):
        StateStore(path)
    StateStore(path).close()  # released on close


def test_a_file_from_a_newer_bot_core_is_refused_untouched(path: Path) -> None:
    StateStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.commit()
    raw.close()
    before = path.read_bytes()
    with pytest.raises(StateError, match=rf"schema version {SCHEMA_VERSION + 1}, written by a "
                       rf"newer bot-core; this one reads versions up to {SCHEMA_VERSION}"):
        StateStore(path)
    assert path.read_bytes() == before


def test_not_a_state_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.sqlite"
    text.write_text("hello, this is not SQLite\n" * 50)
    with pytest.raises(StateError, match=r"notes.sqlite: not a bot-core state file"):
        StateStore(text)
    other = tmp_path / "other.sqlite"
    raw = sqlite3.connect(other)
    raw.execute("CREATE TABLE t (x)")
    raw.commit()
    raw.close()
    with pytest.raises(StateError, match=r"other.sqlite: not a bot-core state file \(a SQLite "
                       r"database of another application"):
        StateStore(other)


def _add_note_column(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE orders ADD COLUMN note TEXT NOT NULL DEFAULT 'migrated'")


def test_an_older_file_is_migrated_with_its_data_and_a_copy_kept(path: Path) -> None:
    with StateStore(path) as store:
        store.persist_order(_order(), run_id="r", ts_ns=1)
    with StateStore(path, migrations=(*MIGRATIONS, _add_note_column)) as store:
        assert [r.client_order_id for r in store.orders()] == ["mr-run-1"]
        assert store._conn.execute("SELECT note FROM orders").fetchone()[0] == "migrated"
        assert store._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    copy = path.with_name(f"state.sqlite.v{SCHEMA_VERSION}.bak")
    raw = sqlite3.connect(copy)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("SELECT client_order_id FROM orders").fetchall() == [("mr-run-1",)]
    raw.close()
    with pytest.raises(StateError, match="newer bot-core"):  # the current one refuses it now
        StateStore(path)


def test_a_failing_migration_leaves_the_file_as_it_was(path: Path) -> None:
    with StateStore(path) as store:
        store.persist_order(_order(), run_id="r", ts_ns=1)

    def broken(conn: sqlite3.Connection) -> None:
        _add_note_column(conn)
        raise ValueError("step 2 went wrong")

    with pytest.raises(StateError, match=rf"from schema version {SCHEMA_VERSION} to "
                       rf"{SCHEMA_VERSION + 1} failed \(ValueError: step 2 went wrong\); the file "
                       rf"is left at version {SCHEMA_VERSION}"):
        StateStore(path, migrations=(*MIGRATIONS, broken))
    with StateStore(path) as store:
        assert [r.client_order_id for r in store.orders()] == ["mr-run-1"]
        columns = [c[1] for c in store._conn.execute("PRAGMA table_info(orders)")]
        assert "note" not in columns


_KILLED = """
import sys
from pathlib import Path
from bot_core.orders import Order, OrderIntent, Side
from bot_core.state import StateStore
store = StateStore(Path(sys.argv[1]))
intent = OrderIntent("mr", "venue_a", "BTC/USDT", Side.BUY, 1.0, "mr-x-1")
store.persist_order(Order(intent, 1.0), run_id="x", ts_ns=1)
from bot_core.faults import fault_point
fault_point("after_persist_before_send")
print("not killed")
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX")
def test_a_commit_survives_kill_9(path: Path) -> None:
    env = {**os.environ, "BOT_CORE_FAULT_POINT": "after_persist_before_send"}
    done = subprocess.run([sys.executable, "-c", _KILLED, str(path)], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert "not killed" not in done.stdout
    with StateStore(path) as store:  # the dead process's lock is gone with it
        rows = store.orders()
        assert [(r.client_order_id, r.lifecycle) for r in rows] == [
            ("mr-x-1", Lifecycle.PERSISTED)]
