"""Crash-safe state: a bot's orders, fills and books in SQLite, restored and reconciled with its
venues after a restart (docs/state.md).

* :mod:`~bot_core.state.schema`: the file, its versions and migrations;
* :mod:`~bot_core.state.store`: :class:`StateStore`, reads and writes of one bot in one mode;
* :mod:`~bot_core.state.observer`: :class:`StateObserver`, which commits orders before they are
  sent and every answer, fill and snapshot as they come;
* :mod:`~bot_core.state.restore` and :mod:`~bot_core.state.reconcile`: the restart;
* :mod:`~bot_core.state.runtime`: how ``bot-core run`` puts them together.
"""

from bot_core.state.observer import StateObserver
from bot_core.state.paths import STATE_FILE, state_dir, state_file, venue_state_file
from bot_core.state.reconcile import Discrepancy, ReconciliationReport, reconcile
from bot_core.state.records import FillRow, Lifecycle, OrderRow, Snapshot
from bot_core.state.restore import Restored, restore
from bot_core.state.schema import SCHEMA_VERSION
from bot_core.state.store import StateStore

__all__ = [
    "SCHEMA_VERSION",
    "STATE_FILE",
    "Discrepancy",
    "FillRow",
    "Lifecycle",
    "OrderRow",
    "ReconciliationReport",
    "Restored",
    "Snapshot",
    "StateObserver",
    "StateStore",
    "reconcile",
    "restore",
    "state_dir",
    "state_file",
    "venue_state_file",
]
