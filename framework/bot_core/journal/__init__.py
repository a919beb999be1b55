"""The signed decision journal: an append-only, HMAC-chained JSONL record of every decision.

* :func:`open_journal` opens a bot's journal for a run (the key first: paper and live need an
  explicit one), :class:`JournalObserver` turns the host's hooks into records;
* :class:`JournalWriter` signs, chains, rotates, syncs and checkpoints;
* :func:`verify_paths` checks journals and names the first bad line and its cause;
* :mod:`~bot_core.journal.keys` holds the keys and their rotation,
  :mod:`~bot_core.journal.sanitize` what may reach the file.

docs/journal.md describes the format, the keys, the durability and how to read a finding.
Everything here uses the standard library only (``hmac``, ``hashlib``, ``json``).
"""

from bot_core.journal.home import journal_directory, open_journal
from bot_core.journal.keys import Keyring, keyring_for_run, keyring_for_verify, rotate_key
from bot_core.journal.lines import Cause
from bot_core.journal.observer import JournalObserver, PipelineInputs
from bot_core.journal.sanitize import sanitise
from bot_core.journal.verify import ChainReport, Finding, verify_paths
from bot_core.journal.writer import FsyncPolicy, JournalSettings, JournalWriter

__all__ = [
    "Cause",
    "ChainReport",
    "Finding",
    "FsyncPolicy",
    "JournalObserver",
    "JournalSettings",
    "JournalWriter",
    "Keyring",
    "PipelineInputs",
    "journal_directory",
    "keyring_for_run",
    "keyring_for_verify",
    "open_journal",
    "rotate_key",
    "sanitise",
    "verify_paths",
]
