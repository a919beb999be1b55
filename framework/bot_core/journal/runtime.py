"""The journals of a running ``bot-core run``: one writer and one observer per bot (sleeve).

Every sleeve shares the runtime's plugin host, so each bot's observer journals only its own run
(``run_ids``). Quarantines, which the runtime reports through its event sink rather than a hook,
reach the journal through :meth:`RuntimeJournals.sink`, which passes every event on unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from bot_core.journal.home import open_journal
from bot_core.journal.keys import keyring_for_run
from bot_core.journal.observer import JournalObserver, PipelineInputs
from bot_core.journal.writer import JournalSettings

if TYPE_CHECKING:
    from bot_core.pipeline import TradingPipeline
    from bot_core.plugins import PluginHost
    from bot_core.runinfo import RunInfo

__all__ = ["RuntimeJournals"]


class _Sleeve(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def run(self) -> RunInfo: ...
    @property
    def pipeline(self) -> TradingPipeline: ...


class _Sink(Protocol):
    def emit(self, event: str, bot: str, ts_ns: int, **fields: Any) -> None: ...


class _JournalingSink:
    """Passes every runtime event on; journals the quarantines of bots with a journal."""

    def __init__(self, inner: _Sink, journals: RuntimeJournals) -> None:
        self._inner = inner
        self._journals = journals

    def emit(self, event: str, bot: str, ts_ns: int, **fields: Any) -> None:
        if event == "quarantine":
            observer = self._journals.observers.get(bot)
            if observer is not None and not observer.writer.failed:
                observer.quarantine(str(fields.get("strategy", "")),
                                    str(fields.get("cause", "")),
                                    detail=f"{fields.get('cancelled', 0)} open orders cancelled "
                                    f"at {ts_ns}")
        self._inner.emit(event, bot, ts_ns, **fields)

    def __getattr__(self, name: str) -> Any:  # the wrapped sink's other attributes
        return getattr(self._inner, name)


class RuntimeJournals:
    """Opens, registers and closes the journal of every bot of one run.

    :param host: the runtime's plugin host (observers are registered on it).
    :param mode: the run's mode; the key is resolved here, before anything is written (paper
        and live refuse to start without an explicit key).
    :raises ConfigError: no usable journal key, or a bad journal setting.
    """

    def __init__(self, host: PluginHost, mode: str,
                 environ: Mapping[str, str] | None = None) -> None:
        self.host = host
        self.mode = mode
        self._environ = os.environ if environ is None else environ
        keyring_for_run(mode, self._environ)
        self._settings = JournalSettings.from_env(self._environ)
        self.observers: dict[str, JournalObserver] = {}

    def sink(self, inner: _Sink) -> _JournalingSink:
        """``inner``, with quarantines journaled too."""
        return _JournalingSink(inner, self)

    def attach(self, sleeve: _Sleeve) -> JournalObserver:
        """Open the bot's journal (``BOT_CORE_HOME/journal/<bot>/<mode>``) and register its observer.

        :raises JournalError: the journal is locked by another process, or its last record
            does not verify.
        """
        writer = open_journal(sleeve.name, self.mode, run_id=sleeve.run.run_id,
                              environ=self._environ, settings=self._settings)
        observer = JournalObserver(writer, inputs=PipelineInputs(sleeve.pipeline),
                                   run_ids=[sleeve.run.run_id])
        self.host.register_observer(observer, name=f"journal-{sleeve.run.run_id}")
        self.observers[sleeve.name] = observer
        return observer

    def close(self) -> None:
        """Unregister every observer and close every writer (final sync, clean checkpoint)."""
        for observer in self.observers.values():
            self.host.unregister_observer(observer)
            observer.close()
        self.observers.clear()
