"""The run record: what each run of a bot did, kept as evidence for the promotion gates.

Every run of a bot in demo, paper or live mode writes one small JSON file,
``<BOT_CORE_HOME>/state/<bot>/<mode>/runs/<run_id>.json``, through a :class:`RunRecorder`: how
many scheduler cycles it ran, the span of its cycles on the scheduler's clock, and how many
cycles it spent HALTED or past the daily-loss or drawdown limit (with the first time of each).
The file is replaced atomically every few seconds, at once when a breach first shows, and when
the run closes, so a run that crashes still counts up to its last flush and a breach is never
lost. Paper and live (and demo) keep separate directories: nothing a paper run wrote is ever
read as live state.

Each mode's directory carries a marker (``mode.json``) naming its bot and mode; a directory
whose marker names another bot or mode (a copied or renamed directory) is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from bot_core.errors import StateError
from bot_core.home import bot_core_home

if TYPE_CHECKING:
    from bot_core.config.models import BotConfig

__all__ = [
    "FLUSH_INTERVAL_S",
    "MODES",
    "Mode",
    "RunRecorder",
    "RunSummary",
    "bot_state_dir",
    "config_hash",
    "mode_state_dir",
    "runs",
]

Mode = Literal["demo", "paper", "live"]
MODES: tuple[Mode, ...] = ("demo", "paper", "live")
"""Run modes in promotion order."""
FLUSH_INTERVAL_S = 5.0
"""Longest wall time between two flushes of a running record, seconds."""
_MARKER = "mode.json"
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_HALTED = "halted"


def config_hash(config: BotConfig) -> str:
    """SHA-256 (hex) of the config's canonical JSON: equal configs, equal hashes."""
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _safe_component(value: str, what: str) -> str:
    # Names become directory names: no separators, no "." / "..".
    if not _SAFE_ID.match(value) or set(value) == {"."}:
        raise StateError(f"{what} {value!r} cannot name a state directory "
                         "(letters, digits, '_', '.', '-'; not '.' or '..')")
    return value


def bot_state_dir(bot: str, home: Path | None = None) -> Path:
    """``<home>/state/<bot>``, not created. Promotion records live here, each mode below it."""
    return (home or bot_core_home()) / "state" / _safe_component(bot, "bot name")


def mode_state_dir(bot: str, mode: str, home: Path | None = None, *, create: bool = False) -> Path:
    """``<home>/state/<bot>/<mode>``: everything a bot keeps for one mode.

    :param create: create it (owner-only permissions) with its marker when missing.
    :raises StateError: the directory's marker names another bot or mode.
    """
    if mode not in MODES:
        raise StateError(f"unknown mode {mode!r} (modes: {', '.join(MODES)})")
    path = bot_state_dir(bot, home) / mode
    marker = path / _MARKER
    if marker.exists():
        try:
            owner = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StateError(f"{marker}: unreadable state marker ({exc})") from None
        if not isinstance(owner, dict) or owner.get("bot") != bot or owner.get("mode") != mode:
            raise StateError(f"{path} holds the state of {owner!r}, not of bot {bot!r} in "
                             f"{mode} mode; a bot never starts from another mode's state")
    elif create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        _atomic_write(marker, {"bot": bot, "mode": mode})
    return path


def _atomic_write(path: Path, payload: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(payload, out, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(slots=True)
class RunSummary:
    """One run's record, as stored. Times are UTC nanoseconds on the scheduler's clock unless
    named ``wall``."""

    bot: str
    mode: str
    run_id: str
    config_hash: str
    started_ns: int
    created_wall_ns: int
    """Wall time at which the run began; orders runs against promotions (always wall time)."""
    pid: int = 0
    cycles: int = 0
    first_cycle_ns: int | None = None
    last_cycle_ns: int | None = None
    halted_cycles: int = 0
    first_halted_ns: int | None = None
    daily_loss_cycles: int = 0
    first_daily_loss_ns: int | None = None
    drawdown_cycles: int = 0
    first_drawdown_ns: int | None = None
    states: dict[str, int] = field(default_factory=dict)
    """Cycles spent in each trading state (``active``, ``reducing``, ``halted``)."""
    ended_ns: int | None = None
    reason: str | None = None
    """Why the run ended (``completed``, ``interrupted``, ...); None: still running or crashed."""
    flushed_wall_ns: int = 0

    @property
    def span_ns(self) -> int:
        """Time between the run's first and last cycle: the market time it was watched."""
        if self.first_cycle_ns is None or self.last_cycle_ns is None:
            return 0
        return max(0, self.last_cycle_ns - self.first_cycle_ns)

    @property
    def hours(self) -> float:
        return self.span_ns / 3.6e12

    @property
    def closed(self) -> bool:
        return self.reason is not None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hours": self.hours}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


class RunRecorder:
    """Records one run of one bot in one mode; the scheduler calls :meth:`cycle` once per cycle.

    ``cycle`` only updates counters; the file is rewritten when the first cycle arrives, when a
    HALTED state or a limit breach first shows, at most every :data:`FLUSH_INTERVAL_S` seconds
    of wall time, and on :meth:`close`.
    """

    def __init__(self, *, bot: str, mode: str, run_id: str, config_hash: str, started_ns: int,
                 home: Path | None = None, wall_clock: Callable[[], int] = time.time_ns) -> None:
        """
        :param bot: bot name (``config.name``).
        :param mode: ``demo``, ``paper`` or ``live``.
        :param run_id: unique id of the run (file name: letters, digits, ``_.-``).
        :param config_hash: :func:`config_hash` of the config the run uses.
        :param started_ns: start time on the scheduler's clock, UTC ns.
        :param home: ``BOT_CORE_HOME`` (default: from the environment).
        :param wall_clock: wall time in UTC ns (tests inject one to seed history).
        """
        directory = mode_state_dir(bot, mode, home, create=True) / "runs"
        directory.mkdir(exist_ok=True, mode=0o700)
        self.path = directory / f"{_safe_component(run_id, 'run id')}.json"
        if self.path.exists():
            raise StateError(f"{self.path}: a run with id {run_id!r} was already recorded")
        self._wall_clock = wall_clock
        self.summary = RunSummary(bot=bot, mode=mode, run_id=run_id, config_hash=config_hash,
                                  started_ns=started_ns, created_wall_ns=wall_clock(),
                                  pid=os.getpid())
        self._next_flush = time.monotonic() + FLUSH_INTERVAL_S
        self._flush()

    def cycle(self, *, ts_ns: int, trading_state: str, daily_loss_breached: bool,
              drawdown_breached: bool) -> None:
        """One scheduler cycle ended at ``ts_ns`` in ``trading_state``, with the limits' state."""
        s = self.summary
        urgent = s.cycles == 0
        s.cycles += 1
        if s.first_cycle_ns is None:
            s.first_cycle_ns = ts_ns
        s.last_cycle_ns = ts_ns
        state = str(trading_state).lower()
        s.states[state] = s.states.get(state, 0) + 1
        if state == _HALTED:
            s.halted_cycles += 1
            if s.first_halted_ns is None:
                s.first_halted_ns, urgent = ts_ns, True
        if daily_loss_breached:
            s.daily_loss_cycles += 1
            if s.first_daily_loss_ns is None:
                s.first_daily_loss_ns, urgent = ts_ns, True
        if drawdown_breached:
            s.drawdown_cycles += 1
            if s.first_drawdown_ns is None:
                s.first_drawdown_ns, urgent = ts_ns, True
        if urgent or time.monotonic() >= self._next_flush:
            self._flush()

    def close(self, *, ended_ns: int, reason: str) -> None:
        """The run ended at ``ended_ns`` (scheduler clock) for ``reason``; writes the record."""
        self.summary.ended_ns = ended_ns
        self.summary.reason = reason
        self._flush()

    def _flush(self) -> None:
        self.summary.flushed_wall_ns = self._wall_clock()
        _atomic_write(self.path, self.summary.as_dict())
        self._next_flush = time.monotonic() + FLUSH_INTERVAL_S


def runs(bot: str, mode: str, home: Path | None = None) -> list[RunSummary]:
    """Every recorded run of ``bot`` in ``mode``, oldest first (by wall start time).

    :raises StateError: a record cannot be read; evidence is never skipped silently.
    """
    directory = mode_state_dir(bot, mode, home) / "runs"
    if not directory.is_dir():
        return []
    found: list[RunSummary] = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            summary = RunSummary.from_dict(cast(dict[str, Any], data))
        except (OSError, ValueError, TypeError) as exc:
            raise StateError(f"{path}: unreadable run record ({exc})") from None
        found.append(summary)
    return sorted(found, key=lambda r: (r.created_wall_ns, r.run_id))
