"""The promotion ledger: every promotion and rollback of a bot, and the mode it is in now.

``<BOT_CORE_HOME>/state/<bot>/promotions.jsonl`` holds one JSON object per line, appended and
never rewritten: who (the OS user), when (wall time), from which mode to which, the hash of the
config promoted, and the gates that passed. A bot's current mode is the ``to`` of its last line
(``demo`` when there is none); its evidence window in that mode starts at that line.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from bot_core.errors import StateError
from bot_core.runtime.history import MODES, Mode, bot_state_dir

__all__ = ["LEDGER_FILE", "LedgerRecord", "ModeState", "append", "current_mode", "operator",
           "records"]

LEDGER_FILE = "promotions.jsonl"
Action = Literal["promote", "rollback"]


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    """One promotion or rollback."""

    bot: str
    action: Action
    from_mode: Mode
    to_mode: Mode
    who: str
    when_ns: int
    """Wall time, UTC ns."""
    config_hash: str
    gates: dict[str, bool] = field(default_factory=dict)
    """Gate id -> passed, as evaluated for this promotion (empty for rollbacks)."""
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ModeState:
    """Where a bot stands: its mode, since when (wall ns, None if never run nor promoted), and
    the ledger record that put it there (None: never promoted)."""

    bot: str
    mode: Mode
    since_ns: int | None
    record: LedgerRecord | None


def operator() -> str:
    """The OS user running this process (recorded as who promoted)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers): fall back to the uid
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _path(bot: str, home: Path | None) -> Path:
    return bot_state_dir(bot, home) / LEDGER_FILE


def records(bot: str, home: Path | None = None) -> list[LedgerRecord]:
    """The bot's ledger, oldest first.

    :raises StateError: a line cannot be read (naming the file and line): a ledger that cannot
        be read gives no mode at all, never a guessed one.
    """
    path = _path(bot, home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StateError(f"{path}: cannot read the promotion ledger ({exc.strerror})") from None
    found: list[LedgerRecord] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = cast(dict[str, Any], json.loads(line))
            rec = LedgerRecord(**data)
            if rec.from_mode not in MODES or rec.to_mode not in MODES or rec.bot != bot:
                raise ValueError(f"names bot {rec.bot!r}, modes {rec.from_mode!r} -> {rec.to_mode!r}")
        except (ValueError, TypeError) as exc:
            raise StateError(f"{path}:{number}: unreadable promotion record ({exc})") from None
        found.append(rec)
    return found


def current_mode(bot: str, home: Path | None = None, *, first_run_ns: int | None = None) -> ModeState:
    """The bot's mode now, from its ledger.

    :param first_run_ns: wall start of its first demo run, used as ``since`` when it was never
        promoted.
    """
    ledger = records(bot, home)
    if not ledger:
        return ModeState(bot, "demo", first_run_ns, None)
    last = ledger[-1]
    return ModeState(bot, last.to_mode, last.when_ns, last)


def append(record: LedgerRecord, home: Path | None = None) -> Path:
    """Append one record (one ``write`` of one line, flushed to disk)."""
    path = _path(record.bot, home)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = (json.dumps(record.as_dict(), sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return path
