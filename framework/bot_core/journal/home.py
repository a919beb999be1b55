"""Where a bot's journal lives, and the one call the runtime makes to open it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot_core.errors import JournalError
from bot_core.journal.keys import keyring_for_run
from bot_core.journal.writer import JournalSettings, JournalWriter

__all__ = ["journal_directory", "open_journal"]


def journal_directory(bot: str, environ: Mapping[str, str] | None = None) -> Path:
    """``<BOT_CORE_HOME>/journal/<bot>`` (not created): the bot's journals, one chain per mode
    below it (``demo/``, ``paper/``, ``live/``), since each mode signs with its own key."""
    from bot_core.home import bot_core_home

    if not bot or bot in (".", "..") or "/" in bot or "\\" in bot:
        raise JournalError(f"bot name {bot!r} cannot name a journal directory")
    return bot_core_home(dict(environ) if environ is not None else None) / "journal" / bot


def open_journal(bot: str, mode: str, *, run_id: str = "",
                 environ: Mapping[str, str] | None = None, directory: Path | None = None,
                 settings: JournalSettings | None = None) -> JournalWriter:
    """Open (or continue) the journal of ``bot`` for a run in ``mode``.

    The key is resolved first (:func:`~bot_core.journal.keys.keyring_for_run`: paper and live
    refuse to start without an explicit one), then the settings
    (:meth:`JournalSettings.from_env`), then the writer opens the directory (default
    ``journal_directory(bot) / mode``) and continues the chain after its last record. Each
    mode keeps its own chain: a paper key cannot continue a chain a demo key signed, and a
    live bot never writes onto its paper record.

    :raises ConfigError: no usable key, or a bad journal setting (exit 2).
    :raises JournalError: the journal is locked by another writer or its last record does not
        verify.
    """
    keyring = keyring_for_run(mode, environ)
    resolved = settings or JournalSettings.from_env(environ)
    where = directory if directory is not None else journal_directory(bot, environ) / mode
    return JournalWriter(where, bot, keyring, run_id=run_id, mode=mode, settings=resolved)
