"""Where a bot's state lives: beside its run records, one directory per bot and mode.

``<BOT_CORE_HOME>/state/<bot>/<mode>/state.sqlite`` is the bot's state file;
``<BOT_CORE_HOME>/state/<bot>/<mode>/venues/<venue>.sqlite`` the state of a simulated venue it
trades on (the paper venue plays the exchange, so its book outlives a crash of the bot). The
directory is :func:`bot_core.runtime.history.mode_state_dir`'s: paper and live never share
state, and a directory copied from another bot or mode is refused.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot_core.errors import StateError
from bot_core.home import ensure_home, readable_home
from bot_core.runtime.history import mode_state_dir

__all__ = ["STATE_FILE", "state_dir", "state_file", "venue_state_file"]

STATE_FILE = "state.sqlite"
_VENUE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def state_dir(bot: str, mode: str, home: Path | None = None, *, create: bool = False) -> Path:
    """``<home>/state/<bot>/<mode>`` (created, owner-only, with ``create``).

    :raises HomeError: the home cannot be read (or written, with ``create``).
    :raises StateError: a bad bot name or mode, or the directory belongs to another bot/mode.
    """
    if home is None:
        (ensure_home if create else readable_home)("state")
    return mode_state_dir(bot, mode, home, create=create)


def state_file(bot: str, mode: str, home: Path | None = None, *, create: bool = False) -> Path:
    """The bot's state file in ``mode`` (its directory created with ``create``)."""
    return state_dir(bot, mode, home, create=create) / STATE_FILE


def venue_state_file(bot: str, mode: str, venue: str, home: Path | None = None, *,
                     create: bool = False) -> Path:
    """The state file of simulated venue ``venue`` of the bot in ``mode``."""
    if not _VENUE_NAME.match(venue) or set(venue) == {"."}:
        raise StateError(f"venue name {venue!r} cannot name a state file (letters, digits, "
                         f"'_', '.', '-')")
    directory = state_dir(bot, mode, home, create=create) / "venues"
    if create:
        directory.mkdir(exist_ok=True, mode=0o700)
    return directory / f"{venue}.sqlite"
