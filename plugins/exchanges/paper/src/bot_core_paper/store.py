"""The paper venue's own state file: the simulated exchange's book outlives the bot.

A real exchange does not forget orders when a trading bot crashes, so neither does the paper
venue once it has a ``state_file``: its balances, every order it received (working or done),
every fill it made and what it knows of each market are kept in a SQLite file (standard
library, WAL). Each call that changes the book (``submit``, ``cancel``, market data that filled
or expired an order, ``close``) commits its changes in one transaction before it returns its
reports: whatever the bot heard of, the file has, whenever the bot's process dies. Commits are
``synchronous = NORMAL`` (a simulated exchange that fsyncs every fill would make a demo replay
crawl): a power cut may undo the venue's last changes, and the bot's reconciliation then
reports the difference.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bot_core import Fill, OrderStatus, Side, StateError

__all__ = ["MarketRow", "OrderRecord", "PaperStore"]

APPLICATION_ID = 0x626F7470
"""``PRAGMA application_id`` of paper venue state files (``botp``)."""
SCHEMA_VERSION = 1

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE balances (asset TEXT PRIMARY KEY, amount REAL NOT NULL)",
    """CREATE TABLE orders (
        client_order_id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        strategy_id TEXT NOT NULL,
        instrument TEXT NOT NULL,
        side INTEGER NOT NULL,
        order_type TEXT NOT NULL,
        limit_price REAL,
        time_in_force TEXT NOT NULL,
        reduce_only INTEGER NOT NULL,
        intent_ts_ns INTEGER NOT NULL,
        quantity REAL NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL,
        eligible_ns INTEGER NOT NULL,
        submit_day INTEGER NOT NULL,
        filled REAL NOT NULL,
        notional REAL NOT NULL,
        fees REAL NOT NULL,
        tried INTEGER NOT NULL,
        updated_ns INTEGER NOT NULL
    )""",
    """CREATE TABLE fills (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        trade_id TEXT NOT NULL UNIQUE,
        client_order_id TEXT NOT NULL,
        strategy_id TEXT NOT NULL,
        instrument TEXT NOT NULL,
        side INTEGER NOT NULL,
        quantity REAL NOT NULL,
        price REAL NOT NULL,
        fee REAL NOT NULL,
        ts_ns INTEGER NOT NULL,
        liquidity TEXT NOT NULL
    )""",
    """CREATE TABLE markets (
        instrument TEXT PRIMARY KEY,
        last_event TEXT NOT NULL,
        interval_ns INTEGER,
        used_ts_ns INTEGER,
        used_quantity REAL
    )""",
)

_ORDER_COLUMNS = ("client_order_id, seq, strategy_id, instrument, side, order_type, limit_price, "
                  "time_in_force, reduce_only, intent_ts_ns, quantity, status, reason, "
                  "eligible_ns, submit_day, filled, notional, fees, tried, updated_ns")


@dataclass(slots=True)
class OrderRecord:
    """One order as the venue keeps it (the columns of ``orders``)."""

    client_order_id: str
    seq: int
    strategy_id: str
    instrument: str
    side: int
    order_type: str
    limit_price: float | None
    time_in_force: str
    reduce_only: bool
    intent_ts_ns: int
    quantity: float
    status: str
    reason: str
    eligible_ns: int
    submit_day: int
    filled: float
    notional: float
    fees: float
    tried: bool
    updated_ns: int

    def row(self) -> tuple[Any, ...]:
        return (self.client_order_id, self.seq, self.strategy_id, self.instrument, self.side,
                self.order_type, self.limit_price, self.time_in_force, int(self.reduce_only),
                self.intent_ts_ns, self.quantity, self.status, self.reason, self.eligible_ns,
                self.submit_day, self.filled, self.notional, self.fees, int(self.tried),
                self.updated_ns)

    @property
    def working(self) -> bool:
        return not OrderStatus(self.status).is_final


@dataclass(frozen=True, slots=True)
class MarketRow:
    """What the venue knows of one market: its last event, bar length and volume used."""

    instrument: str
    last_event: dict[str, Any]
    interval_ns: int | None
    used: tuple[int, float] | None


class PaperStore:
    """The paper venue's state file (see the module docstring).

    :raises StateError: not a paper venue state file, from a newer plugin, in use by another
        process, or unreadable.
    """

    def __init__(self, path: Path, *, initial_balances: Mapping[str, float]) -> None:
        self.path = path
        if not path.parent.is_dir():
            raise StateError(f"paper venue state_file {path}: its directory does not exist")
        self._lock = _lock(path.with_name(path.name + ".lock"), path)
        try:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._open(initial_balances)
        except sqlite3.Error as exc:
            self._lock.close()
            raise StateError(f"paper venue state_file {path}: unreadable ({exc})") from None
        except BaseException:
            self._lock.close()
            raise

    def _open(self, initial_balances: Mapping[str, float]) -> None:
        conn, path = self._conn, self.path
        conn.execute("PRAGMA busy_timeout = 5000")
        try:
            app = conn.execute("PRAGMA application_id").fetchone()[0]
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StateError(f"paper venue state_file {path}: not a paper venue state file "
                             f"({exc})") from None
        if app != APPLICATION_ID and (tables or version):
            raise StateError(f"paper venue state_file {path}: not a paper venue state file "
                             f"(application_id {app:#x})")
        if version > SCHEMA_VERSION:
            raise StateError(f"paper venue state_file {path}: schema version {version}, written "
                             f"by a newer bot-core-paper; this one reads up to {SCHEMA_VERSION}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if version == 0:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.executemany("INSERT INTO balances (asset, amount) VALUES (?, ?)",
                                 [(a, float(v)) for a, v in initial_balances.items()])
                conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                                 [("initial_balances", json.dumps(dict(initial_balances))),
                                  ("trade_seq", "0"), ("clock_ns", "0")])
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        if self._lock.closed:
            return
        try:
            self._conn.close()
        finally:
            self._lock.close()

    # -- reading ------------------------------------------------------------------------------

    def _rows(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self._conn.execute(sql, tuple(args)).fetchall())
        except sqlite3.Error as exc:
            raise StateError(f"paper venue state_file {self.path}: unreadable ({exc})") from None

    def meta(self, key: str) -> str:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else ""

    def balances(self) -> dict[str, float]:
        return {a: float(v) for a, v in self._rows("SELECT asset, amount FROM balances")}

    def initial_balances(self) -> dict[str, float]:
        return {k: float(v) for k, v in json.loads(self.meta("initial_balances") or "{}").items()}

    def orders(self, *, working_only: bool = False) -> list[OrderRecord]:
        where = " WHERE status IN ('accepted', 'partially_filled')" if working_only else ""
        return [_record(r) for r in
                self._rows(f"SELECT {_ORDER_COLUMNS} FROM orders{where} ORDER BY seq")]

    def order(self, client_order_id: str) -> OrderRecord | None:
        rows = self._rows(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE client_order_id = ?",
                          (client_order_id,))
        return _record(rows[0]) if rows else None

    def client_order_ids(self) -> set[str]:
        return {r[0] for r in self._rows("SELECT client_order_id FROM orders")}

    def instruments(self) -> set[str]:
        return {r[0] for r in self._rows("SELECT DISTINCT instrument FROM orders")}

    def fills(self, *, after_seq: int = 0,
              instruments: Iterable[str] | None = None) -> list[tuple[int, Fill]]:
        """(seq, fill) after ``after_seq``, oldest first; ``venue`` is left empty."""
        rows = self._rows("SELECT seq, trade_id, client_order_id, strategy_id, instrument, side, "
                          "quantity, price, fee, ts_ns, liquidity FROM fills WHERE seq > ? "
                          "ORDER BY seq", (after_seq,))
        wanted = None if instruments is None else set(instruments)
        return [(int(seq), Fill(tid, cid, "", inst, Side(int(side)), float(q), float(p),
                                float(fee), int(ts), liq, sid))
                for seq, tid, cid, sid, inst, side, q, p, fee, ts, liq in rows
                if wanted is None or inst in wanted]

    def markets(self) -> list[MarketRow]:
        return [MarketRow(i, json.loads(e), None if iv is None else int(iv),
                          None if uts is None else (int(uts), float(uq)))
                for i, e, iv, uts, uq in self._rows(
                    "SELECT instrument, last_event, interval_ns, used_ts_ns, used_quantity "
                    "FROM markets")]

    # -- writing ------------------------------------------------------------------------------

    def save(self, *, orders: Iterable[OrderRecord], fills: Iterable[Fill],
             balances: Mapping[str, float], markets: Iterable[MarketRow], trade_seq: int,
             clock_ns: int) -> None:
        """Commit one call's changes in one transaction."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(f"INSERT OR REPLACE INTO orders ({_ORDER_COLUMNS}) VALUES "
                             "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             [o.row() for o in orders])
            conn.executemany(
                "INSERT OR IGNORE INTO fills (trade_id, client_order_id, strategy_id, "
                "instrument, side, quantity, price, fee, ts_ns, liquidity) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(f.trade_id, f.client_order_id, f.strategy_id, f.instrument, int(f.side),
                  f.quantity, f.price, f.fee, f.ts_ns, f.liquidity) for f in fills])
            conn.executemany("INSERT OR REPLACE INTO balances (asset, amount) VALUES (?, ?)",
                             list(balances.items()))
            conn.executemany(
                "INSERT OR REPLACE INTO markets (instrument, last_event, interval_ns, "
                "used_ts_ns, used_quantity) VALUES (?, ?, ?, ?, ?)",
                [(m.instrument, json.dumps(m.last_event), m.interval_ns,
                  None if m.used is None else m.used[0], None if m.used is None else m.used[1])
                 for m in markets])
            conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             [("trade_seq", str(trade_seq)), ("clock_ns", str(clock_ns))])
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StateError(f"paper venue state_file {self.path}: cannot write ({exc})") from None


def _record(row: tuple[Any, ...]) -> OrderRecord:
    (cid, seq, sid, inst, side, kind, limit, tif, reduce_only, its, qty, status, reason,
     eligible, day, filled, notional, fees, tried, updated) = row
    return OrderRecord(cid, int(seq), sid, inst, int(side), kind, limit, tif, bool(reduce_only),
                       int(its), float(qty), status, reason, int(eligible), int(day),
                       float(filled), float(notional), float(fees), bool(tried), int(updated))


def _lock(path: Path, owner: Path) -> IO[str]:
    """One process per state file: an exclusive lock held while the venue is open."""
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the venue's life
    try:
        import fcntl
    except ImportError:  # no flock (Windows)
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise StateError(f"paper venue state_file {owner}: in use by another process") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle
