"""Named fault points: where a test can kill the process as ``kill -9`` would.

Code that must survive a crash at a precise moment calls :func:`fault_point` there
(``fault_point("after_persist_before_send")``). In production ``BOT_CORE_FAULT_POINT`` is unset
and the call returns at once. A test sets it to ``NAME`` (die at the first hit of that point) or
``NAME:N`` (die at its N-th hit) for the process it starts; the process then sends itself
SIGKILL at that point: no ``finally``, no ``atexit``, no buffered output flushed, exactly like a
crash or a power cut as far as the process can tell.

======================================  ========================================================
point                                   where
======================================  ========================================================
``after_persist_before_send``           an order row is committed, ``venue.submit`` not called
``after_venue_ack_before_persist``      ``venue.submit`` returned, its answer not committed
``mid_checkpoint``                      inside the state snapshot's transaction, before commit
``mid_journal_write``                   the decision journal wrote half of a record's line
``mid_sweep_run``                       a sweep's worker planned a run and is about to replay it
======================================  ========================================================
"""

from __future__ import annotations

import os
import signal

from bot_core.errors import UsageError

__all__ = ["FAULT_ENV", "FAULT_POINTS", "armed", "fault_point", "parse_fault"]

FAULT_ENV = "BOT_CORE_FAULT_POINT"
FAULT_POINTS = (
    "after_persist_before_send",
    "after_venue_ack_before_persist",
    "mid_checkpoint",
    "mid_journal_write",
    "mid_sweep_run",
)
"""The points the host defines (a plugin may add its own names)."""

_parsed: tuple[str, tuple[str, int]] | None = None
"""(raw env value, (point, hit that kills)) of the last parse."""
_hits: dict[str, int] = {}


def parse_fault(raw: str) -> tuple[str, int]:
    """``NAME`` or ``NAME:N`` -> (name, N); N defaults to 1.

    :raises UsageError: N is not a positive integer.
    """
    name, sep, count = raw.strip().partition(":")
    hit = 1
    if sep:
        hit = int(count) if count.strip().isdigit() else 0
        if hit < 1:
            raise UsageError(f"{FAULT_ENV}={raw}: expected NAME or NAME:N with N a positive "
                             f"integer (the hit of the point that kills)")
    return name, hit


def armed(name: str) -> bool:
    """Whether ``BOT_CORE_FAULT_POINT`` names point ``name``: a hot path asks once (when it is
    built) and calls :func:`fault_point` only then."""
    raw = os.environ.get(FAULT_ENV)
    return raw is not None and raw != "" and parse_fault(raw)[0] == name


def fault_point(name: str) -> None:
    """Kill this process with SIGKILL if ``BOT_CORE_FAULT_POINT`` names this point (and this
    is the hit it names); otherwise do nothing."""
    raw = os.environ.get(FAULT_ENV)
    if not raw:
        return
    global _parsed
    if _parsed is None or _parsed[0] != raw:
        _parsed = (raw, parse_fault(raw))
        _hits.clear()
    point, hit = _parsed[1]
    if point != name:
        return
    count = _hits.get(name, 0) + 1
    _hits[name] = count
    if count >= hit:
        _die()


def _die() -> None:
    kill = getattr(signal, "SIGKILL", None)
    if kill is not None:
        os.kill(os.getpid(), kill)
    os._exit(137)  # no SIGKILL (Windows): the closest, still skips every cleanup
