"""The state file's schema, its version and the migrations between versions.

A state file is a SQLite database marked with :data:`APPLICATION_ID` (so a stray SQLite file is
never mistaken for one) whose ``user_version`` is its schema version. Opening a file runs the
migrations from its version up to :data:`SCHEMA_VERSION` in one transaction (all or nothing,
after a copy of the file is kept next to it); a file from a newer bot-core is refused, never
read or written.

Connections use WAL journaling with ``synchronous = NORMAL``: a commit survives any crash of
the process (it is in the WAL once the commit returns), and the file is never corrupted; a power
cut may undo the last commits. The one commit that must survive a power cut too, an order row
before ``venue.submit``, is made with ``synchronous = FULL`` (its WAL is flushed to the disk
before the order goes out; see :class:`~bot_core.state.store.StateStore`). What a power cut
undoes otherwise (an answer, a fill, a snapshot) the venue still knows: reconciliation finds it.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from bot_core.errors import StateError

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Migration",
    "Synchronous",
    "connect",
]

APPLICATION_ID = 0x626F7463
"""``PRAGMA application_id`` of bot-core state files (``botc``)."""

Synchronous = Literal["full", "normal"]
Migration = Callable[[sqlite3.Connection], None]
"""One step: brings a file from version N - 1 to N (``MIGRATIONS[N - 1]``), inside the
migration's transaction."""


def _script(conn: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated statements inside the current transaction (``executescript`` would
    commit it first)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v1(conn: sqlite3.Connection) -> None:
    _script(conn, """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        -- every order we decided to send, from the moment before it reaches the venue
        CREATE TABLE orders (
            client_order_id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL UNIQUE,
            run_id TEXT NOT NULL,
            strategy_id TEXT NOT NULL,
            venue TEXT NOT NULL,
            instrument TEXT NOT NULL,
            side INTEGER NOT NULL,
            order_type TEXT NOT NULL,
            limit_price REAL,
            time_in_force TEXT NOT NULL,
            reduce_only INTEGER NOT NULL,
            group_id TEXT,
            tag TEXT NOT NULL,
            intent_quantity REAL NOT NULL,
            intent_ts_ns INTEGER NOT NULL,
            quantity REAL NOT NULL,
            lifecycle TEXT NOT NULL,
            status TEXT NOT NULL,
            filled_quantity REAL NOT NULL DEFAULT 0,
            average_price REAL NOT NULL DEFAULT 0,
            fees REAL NOT NULL DEFAULT 0,
            reason TEXT NOT NULL DEFAULT '',
            created_ns INTEGER NOT NULL,
            updated_ns INTEGER NOT NULL
        );
        CREATE INDEX orders_open ON orders (status) WHERE status IN ('accepted',
                                                                   'partially_filled');
        -- every fill booked into the portfolio, once per venue trade id
        CREATE TABLE fills (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            venue TEXT NOT NULL,
            trade_id TEXT NOT NULL,
            client_order_id TEXT NOT NULL,
            strategy_id TEXT NOT NULL,
            instrument TEXT NOT NULL,
            side INTEGER NOT NULL,
            quantity REAL NOT NULL,
            price REAL NOT NULL,
            fee REAL NOT NULL,
            ts_ns INTEGER NOT NULL,
            liquidity TEXT NOT NULL,
            UNIQUE (venue, trade_id)
        );
        -- the latest snapshot (one row) and the books it describes
        CREATE TABLE snapshot (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            fill_seq INTEGER NOT NULL,
            taken_ns INTEGER NOT NULL,
            wall_ns INTEGER NOT NULL,
            run_id TEXT NOT NULL,
            portfolio TEXT NOT NULL,
            risk TEXT NOT NULL,
            pipeline TEXT NOT NULL
        );
        CREATE TABLE positions (
            strategy_id TEXT NOT NULL,
            venue TEXT NOT NULL,
            instrument TEXT NOT NULL,
            quantity REAL NOT NULL,
            average_price REAL NOT NULL,
            realized REAL NOT NULL,
            fees REAL NOT NULL,
            PRIMARY KEY (strategy_id, venue, instrument)
        );
        CREATE TABLE cash (
            venue TEXT PRIMARY KEY,
            amount REAL NOT NULL
        );
        CREATE TABLE counters (
            strategy_id TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        );
        CREATE TABLE quarantine (
            strategy_id TEXT PRIMARY KEY,
            cause TEXT NOT NULL,
            ts_ns INTEGER NOT NULL
        );
        -- per venue: where the last "fills since" query stopped, and the balances it started with
        CREATE TABLE venues (
            venue TEXT PRIMARY KEY,
            fill_cursor TEXT,
            start_balances TEXT NOT NULL
        );
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            pid INTEGER NOT NULL,
            started_wall_ns INTEGER NOT NULL,
            ended_wall_ns INTEGER,
            reason TEXT
        );
        CREATE TABLE reconciliations (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            ts_ns INTEGER NOT NULL,
            wall_ns INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            report TEXT NOT NULL
        );
    """)


MIGRATIONS: tuple[Migration, ...] = (_v1,)
"""``MIGRATIONS[i]`` brings a file from version ``i`` to ``i + 1`` (0: a new file)."""
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path, *, synchronous: Synchronous = "normal",
            migrations: Sequence[Migration] = MIGRATIONS) -> sqlite3.Connection:
    """Open (creating it when missing) the state file at ``path``, at the latest version.

    :param migrations: the schema's steps (tests pass more to exercise an upgrade).
    :raises StateError: not a state file, from a newer bot-core, unreadable, or a migration
        failed (the file is left as it was).
    """
    latest = len(migrations)
    existed = path.exists()
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StateError(f"{path}: cannot open the state file ({exc})") from None
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        version = _check_identity(conn, path, latest)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StateError(f"{path}: cannot switch the state file to WAL journaling "
                             f"(got {mode}); is it on a network file system?")
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        if version < latest:
            if existed and version > 0:
                _keep_copy(conn, path, version)
            _migrate(conn, path, version, migrations)
    except StateError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise StateError(f"{path}: unreadable state file ({exc})") from None
    return conn


def _check_identity(conn: sqlite3.Connection, path: Path, latest: int) -> int:
    try:
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StateError(f"{path}: not a bot-core state file ({exc})") from None
    if app != APPLICATION_ID and (tables or version):
        raise StateError(f"{path}: not a bot-core state file (a SQLite database of another "
                         f"application: application_id {app:#x})")
    if version > latest:
        raise StateError(f"{path}: state file of schema version {version}, written by a newer "
                         f"bot-core; this one reads versions up to {latest}. Upgrade bot-core "
                         f"(the file is left untouched)")
    return version


def _keep_copy(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Copy the file before migrating it: ``<name>.v<version>.bak`` (an older bot-core can go
    on with it)."""
    target = path.with_name(f"{path.name}.v{version}.bak")
    tmp = target.with_name(target.name + ".tmp")
    try:
        with sqlite3.connect(tmp) as dest:
            conn.backup(dest)
        dest.close()
        shutil.move(str(tmp), target)
    except (OSError, sqlite3.Error) as exc:
        tmp.unlink(missing_ok=True)
        raise StateError(f"{path}: cannot keep a copy before migrating it to the new schema "
                         f"({exc}); nothing was changed") from None


def _migrate(conn: sqlite3.Connection, path: Path, version: int,
             migrations: Sequence[Migration]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        if version == 0:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        for step in range(version, len(migrations)):
            migrations[step](conn)
        conn.execute(f"PRAGMA user_version = {len(migrations)}")
        conn.execute("COMMIT")
    except Exception as exc:
        conn.execute("ROLLBACK")
        raise StateError(f"{path}: migrating the state file from schema version {version} to "
                         f"{len(migrations)} failed ({type(exc).__name__}: {exc}); the file is "
                         f"left at version {version}") from None
