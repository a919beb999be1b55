"""The state file of one bot in one mode: orders, fills, snapshots, counters, quarantine.

Every write is one short transaction, committed before the method returns (see
:mod:`bot_core.state.schema` for durability). Each also records the market time it happened at
(``clock_ns``): a replay resumed after a crash starts there. One process at a time owns a state
file: a second one is refused while the first holds its lock (the operating system releases it
when a process dies, however it dies).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from bot_core.errors import StateError
from bot_core.orders import Fill, Order, OrderStatus
from bot_core.state.records import (
    FILL_COLUMNS,
    ORDER_COLUMNS,
    FillRow,
    Lifecycle,
    OrderRow,
    Snapshot,
)
from bot_core.state.schema import MIGRATIONS, Migration, Synchronous, connect

__all__ = ["RunRow", "StateStore", "hold_lock"]

_OPEN = (OrderStatus.ACCEPTED.value, OrderStatus.PARTIALLY_FILLED.value)


def hold_lock(path: Path, what: str) -> IO[str]:
    """Take the exclusive lock ``path`` (created when missing) for as long as the returned file
    stays open; another process holding it is a StateError naming ``what``."""
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the owner's life
    try:
        import fcntl
    except ImportError:  # no flock (Windows): one process per file is the user's promise
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StateError(f"{path}: {what} is in use by {holder}; one process at a time may "
                         f"run a bot in one mode") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


class RunRow:
    """One process that used the state file: when it started and how it ended."""

    __slots__ = ("ended_wall_ns", "pid", "reason", "run_id", "started_wall_ns")

    def __init__(self, run_id: str, pid: int, started_wall_ns: int, ended_wall_ns: int | None,
                 reason: str | None) -> None:
        self.run_id = run_id
        self.pid = pid
        self.started_wall_ns = started_wall_ns
        self.ended_wall_ns = ended_wall_ns
        self.reason = reason

    @property
    def ended_cleanly(self) -> bool:
        """It wrote its shutdown snapshot (a crash leaves ``ended_wall_ns`` empty)."""
        return self.ended_wall_ns is not None


class StateStore:
    """Reads and writes one state file (see the module docstring).

    :param path: the file (``<home>/state/<bot>/<mode>/state.sqlite``); its directory exists.
    :param synchronous: ``full``: an order row committed before it is sent survives a power
        cut (its commit flushes the WAL to the disk); ``normal``: it survives a crash of the
        process only. Every other commit survives crashes of the process (WAL, ``synchronous =
        NORMAL``); what a power cut undoes of them, reconciliation finds at the venue.
    :param clock: market time in UTC ns, recorded with every write (the resume point).
    :param migrations: the schema's steps (tests only).
    :raises StateError: see :func:`bot_core.state.schema.connect`, or the file is in use.
    """

    def __init__(self, path: Path, *, synchronous: Synchronous = "full",
                 clock: Callable[[], int] | None = None,
                 migrations: Sequence[Migration] = MIGRATIONS) -> None:
        self.path = path
        self.clock = clock
        self.durable_orders = synchronous == "full"
        self._lock = hold_lock(path.with_name(path.name + ".lock"), f"state file {path.name}")
        try:
            self._conn = connect(path, synchronous="normal", migrations=migrations)
        except BaseException:
            self._lock.close()
            raise
        self._seq = self._scalar("SELECT coalesce(max(seq), 0) FROM orders")

    def close(self) -> None:
        """Close the file and release its lock (idempotent)."""
        if self._lock.closed:
            return
        try:
            self._conn.close()
        finally:
            self._lock.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------------

    def _scalar(self, sql: str, args: Sequence[Any] = ()) -> Any:
        try:
            row = self._conn.execute(sql, args).fetchone()
        except sqlite3.Error as exc:
            raise StateError(f"{self.path}: cannot read the state file ({exc})") from None
        return None if row is None else row[0]

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self._conn.execute(sql, args).fetchall())
        except sqlite3.Error as exc:
            raise StateError(f"{self.path}: cannot read the state file ({exc})") from None

    @contextmanager
    def _write(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction, committed when the block ends (in the WAL: safe from a crash of
        the process; ``durable``: flushed to the disk, safe from a power cut too)."""
        conn = self._conn
        try:
            if durable:
                conn.execute("PRAGMA synchronous = FULL")
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StateError(f"{self.path}: cannot write the state file ({exc})") from None
        try:
            yield conn
            if self.clock is not None:
                now = int(self.clock())
                conn.execute("INSERT INTO meta (key, value) VALUES ('clock_ns', ?) "
                             "ON CONFLICT (key) DO UPDATE SET value = excluded.value "
                             "WHERE CAST(meta.value AS INTEGER) < CAST(excluded.value AS INTEGER)",
                             (str(now),))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StateError(f"{self.path}: cannot write the state file ({exc})") from None
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            if durable:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA synchronous = NORMAL")

    # -- meta ---------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        value = self._scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                         "DO UPDATE SET value = excluded.value", (key, value))

    @property
    def clock_ns(self) -> int:
        """Market time of the last write (0 for a new file): where a resumed replay starts."""
        value = self.meta("clock_ns")
        return int(value) if value else 0

    @property
    def empty(self) -> bool:
        """Nothing was ever recorded (no order, fill or snapshot)."""
        return not self._scalar("SELECT (SELECT count(*) FROM orders) + "
                                "(SELECT count(*) FROM fills) + (SELECT count(*) FROM snapshot)")

    # -- orders -------------------------------------------------------------------------------

    def persist_order(self, order: Order, *, run_id: str, ts_ns: int,
                      lifecycle: Lifecycle = Lifecycle.PERSISTED,
                      counter: tuple[str, int] | None = None) -> None:
        """Insert ``order`` (before it is sent; or adopted from the venue) and, in the same
        transaction, its strategy's client-order-id counter.

        :raises StateError: the client order id is in the file already (never sent twice).
        """
        i = order.intent
        with self._write(durable=self.durable_orders) as conn:
            seq = self._seq + 1
            try:
                conn.execute(
                    f"INSERT INTO orders ({ORDER_COLUMNS}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (i.client_order_id, seq, run_id, i.strategy_id, i.venue, i.instrument,
                     int(i.side), i.order_type.value, i.limit_price, i.time_in_force.value,
                     int(i.reduce_only), i.group_id, i.tag, i.quantity, i.ts_ns, order.quantity,
                     lifecycle.value, order.status.value, order.filled_quantity,
                     order.average_price, order.fees, order.reason, ts_ns, ts_ns))
            except sqlite3.IntegrityError:
                raise StateError(f"{self.path}: client order id {i.client_order_id!r} is "
                                 f"recorded already; an order id is never used twice") from None
            if counter is not None:
                conn.execute("INSERT INTO counters (strategy_id, value) VALUES (?, ?) "
                             "ON CONFLICT (strategy_id) DO UPDATE SET value = "
                             "max(value, excluded.value)", counter)
        self._seq = seq

    def update_order(self, order: Order, ts_ns: int, *,
                     lifecycle: Lifecycle | None = None) -> None:
        """Store the order's status, fill progress and reason (and a new lifecycle)."""
        with self._write() as conn:
            self._update(conn, order, ts_ns, lifecycle)

    @staticmethod
    def _update(conn: sqlite3.Connection, order: Order, ts_ns: int,
                lifecycle: Lifecycle | None) -> None:
        conn.execute(
            "UPDATE orders SET status = ?, filled_quantity = ?, average_price = ?, fees = ?, "
            "reason = ?, updated_ns = ?, lifecycle = coalesce(?, lifecycle) "
            "WHERE client_order_id = ?",
            (order.status.value, order.filled_quantity, order.average_price, order.fees,
             order.reason, ts_ns, None if lifecycle is None else lifecycle.value,
             order.client_order_id))

    def orders(self, *, open_only: bool = False) -> list[OrderRow]:
        """Every order row in the order they were recorded (open ones only: not final)."""
        where = f" WHERE status IN {_OPEN}" if open_only else ""
        return [OrderRow.from_db(r)
                for r in self._rows(f"SELECT {ORDER_COLUMNS} FROM orders{where} ORDER BY seq")]

    def order(self, client_order_id: str) -> OrderRow | None:
        rows = self._rows(f"SELECT {ORDER_COLUMNS} FROM orders WHERE client_order_id = ?",
                          (client_order_id,))
        return OrderRow.from_db(rows[0]) if rows else None

    def client_order_ids(self) -> set[str]:
        return {r[0] for r in self._rows("SELECT client_order_id FROM orders")}

    def counters(self) -> dict[str, int]:
        return {s: int(v) for s, v in self._rows("SELECT strategy_id, value FROM counters")}

    # -- fills --------------------------------------------------------------------------------

    def record_fill(self, fill: Fill, order: Order | None, ts_ns: int) -> bool:
        """Store a booked fill and, in the same transaction, its order's progress. Returns
        False (changing nothing) for a trade id stored already."""
        with self._write() as conn:
            cur = conn.execute(
                f"INSERT OR IGNORE INTO fills ({FILL_COLUMNS}) VALUES "
                "(NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (fill.venue, fill.trade_id, fill.client_order_id, fill.strategy_id,
                 fill.instrument, int(fill.side), fill.quantity, fill.price, fill.fee,
                 fill.ts_ns, fill.liquidity))
            if cur.rowcount == 0:
                return False
            if order is not None:
                self._update(conn, order, ts_ns, None)
        return True

    def fills(self, *, after_seq: int = 0) -> list[FillRow]:
        """Booked fills after ``after_seq``, in booking order."""
        return [FillRow.from_db(r) for r in self._rows(
            f"SELECT {FILL_COLUMNS} FROM fills WHERE seq > ? ORDER BY seq", (after_seq,))]

    def trade_ids(self, *, upto_seq: int | None = None) -> list[tuple[str, str]]:
        """(venue, trade id) of the booked fills (up to ``upto_seq``)."""
        if upto_seq is None:
            return [(v, t) for v, t in self._rows("SELECT venue, trade_id FROM fills")]
        return [(v, t) for v, t in self._rows(
            "SELECT venue, trade_id FROM fills WHERE seq <= ?", (upto_seq,))]

    def has_trade(self, venue: str, trade_id: str) -> bool:
        return bool(self._scalar("SELECT 1 FROM fills WHERE venue = ? AND trade_id = ?",
                                 (venue, trade_id)))

    # -- snapshots ----------------------------------------------------------------------------

    def save_snapshot(self, *, run_id: str, ts_ns: int, portfolio: Mapping[str, Any],
                      risk: Mapping[str, Any], pipeline: Mapping[str, Any],
                      quarantine: Mapping[str, tuple[str, int]],
                      before_commit: Callable[[], None] | None = None) -> None:
        """Replace the snapshot, the positions and cash tables and the quarantine list, in one
        transaction. The portfolio's trade ids are not stored again: the fills table has them,
        and the snapshot notes the last fill it includes.

        :param before_commit: called inside the transaction, after every write (a fault point).
        """
        books = {k: v for k, v in portfolio.items() if k != "trade_ids"}
        with self._write() as conn:
            fill_seq = conn.execute("SELECT coalesce(max(seq), 0) FROM fills").fetchone()[0]
            conn.execute("INSERT OR REPLACE INTO snapshot (id, fill_seq, taken_ns, wall_ns, "
                         "run_id, portfolio, risk, pipeline) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
                         (fill_seq, ts_ns, time.time_ns(), run_id, json.dumps(books),
                          json.dumps(risk), json.dumps(pipeline)))
            conn.execute("DELETE FROM positions")
            conn.executemany(
                "INSERT INTO positions (strategy_id, venue, instrument, quantity, average_price, "
                "realized, fees) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(p["strategy"], p["venue"], p["instrument"], p["qty"], p["avg_price"],
                  p["realized"], p["fees"]) for p in books.get("positions", ())])
            conn.execute("DELETE FROM cash")
            conn.executemany("INSERT INTO cash (venue, amount) VALUES (?, ?)",
                             [("" if v is None else v, c) for v, c in books.get("cash", ())])
            conn.execute("DELETE FROM quarantine")
            conn.executemany("INSERT INTO quarantine (strategy_id, cause, ts_ns) VALUES (?, ?, ?)",
                             [(s, c, t) for s, (c, t) in quarantine.items()])
            if before_commit is not None:
                before_commit()

    def snapshot(self) -> Snapshot | None:
        rows = self._rows("SELECT fill_seq, taken_ns, wall_ns, run_id, portfolio, risk, "
                          "pipeline FROM snapshot WHERE id = 1")
        if not rows:
            return None
        fill_seq, taken, wall, run_id, portfolio, risk, pipeline = rows[0]
        try:
            return Snapshot(int(fill_seq), int(taken), int(wall), run_id, json.loads(portfolio),
                            json.loads(risk), json.loads(pipeline))
        except ValueError as exc:
            raise StateError(f"{self.path}: the snapshot is not valid JSON ({exc})") from None

    def quarantine(self) -> dict[str, tuple[str, int]]:
        """strategy -> (cause, time) of the strategies quarantined at the last snapshot."""
        return {s: (c, int(t)) for s, c, t in
                self._rows("SELECT strategy_id, cause, ts_ns FROM quarantine")}

    def positions(self) -> list[dict[str, Any]]:
        """The positions table (as of the last snapshot)."""
        return [{"strategy": s, "venue": v, "instrument": i, "qty": q, "avg_price": a,
                 "realized": r, "fees": f} for s, v, i, q, a, r, f in self._rows(
                     "SELECT strategy_id, venue, instrument, quantity, average_price, realized, "
                     "fees FROM positions ORDER BY strategy_id, venue, instrument")]

    # -- venues -------------------------------------------------------------------------------

    def venue_start(self, venue: str) -> dict[str, float] | None:
        """The venue's balances when this state file first met it (None: not yet)."""
        raw = self._scalar("SELECT start_balances FROM venues WHERE venue = ?", (venue,))
        return None if raw is None else {k: float(v) for k, v in json.loads(raw).items()}

    def set_venue_start(self, venue: str, balances: Mapping[str, float]) -> None:
        """Record the venue's starting balances, the first time only."""
        with self._write() as conn:
            conn.execute("INSERT OR IGNORE INTO venues (venue, start_balances) VALUES (?, ?)",
                         (venue, json.dumps(dict(balances))))

    def fill_cursor(self, venue: str) -> dict[str, Any] | None:
        raw = self._scalar("SELECT fill_cursor FROM venues WHERE venue = ?", (venue,))
        return None if raw is None else dict(json.loads(raw))

    def set_fill_cursor(self, venue: str, cursor: Mapping[str, Any]) -> None:
        with self._write() as conn:
            conn.execute("INSERT INTO venues (venue, fill_cursor, start_balances) VALUES "
                         "(?, ?, '{}') ON CONFLICT (venue) DO UPDATE SET fill_cursor = "
                         "excluded.fill_cursor", (venue, json.dumps(dict(cursor))))

    # -- runs and reconciliations -------------------------------------------------------------

    def begin_run(self, run_id: str) -> None:
        with self._write() as conn:
            conn.execute("INSERT INTO runs (run_id, pid, started_wall_ns) VALUES (?, ?, ?)",
                         (run_id, os.getpid(), time.time_ns()))

    def end_run(self, run_id: str, reason: str) -> None:
        """The run shut down cleanly (its last snapshot is written)."""
        with self._write() as conn:
            conn.execute("UPDATE runs SET ended_wall_ns = ?, reason = ? WHERE run_id = ?",
                         (time.time_ns(), reason, run_id))

    def runs(self) -> list[RunRow]:
        return [RunRow(*r) for r in self._rows(
            "SELECT run_id, pid, started_wall_ns, ended_wall_ns, reason FROM runs "
            "ORDER BY started_wall_ns, rowid")]

    def record_reconciliation(self, run_id: str, ts_ns: int, outcome: str,
                              report: Mapping[str, Any]) -> None:
        with self._write() as conn:
            conn.execute("INSERT INTO reconciliations (run_id, ts_ns, wall_ns, outcome, report) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (run_id, ts_ns, time.time_ns(), outcome, json.dumps(dict(report))))

    def reconciliations(self) -> list[dict[str, Any]]:
        return [{"run_id": r, "ts_ns": t, "outcome": o, **json.loads(rep)}
                for r, t, o, rep in self._rows("SELECT run_id, ts_ns, outcome, report FROM "
                                               "reconciliations ORDER BY seq")]
