"""Walk-forward windows: ``--walk-forward TRAIN:TEST[:STEP]``.

Durations are a number and a unit: ``s``, ``m`` (minutes), ``h``, ``d``, ``w`` (``30d``,
``12h``, ``1.5d``). The first window's training period starts at the data's first time;
every window is ``[train start, train start + TRAIN)`` for training followed at once by
``[train end, train end + TEST)`` for testing, and the next window starts ``STEP`` later
(default ``TEST``, so the test periods tile the data). Intervals are half-open, so a bar
belongs to exactly one of a window's two periods: a test period never sees a training bar
and a training period never sees a bar of its test (no look-ahead). ``STEP`` shorter than
``TEST`` would make test periods overlap (the stitched out-of-sample curve would count some
bars twice) and is refused. Only whole windows run: a tail of data shorter than a window is
not used.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot_core.errors import UsageError

__all__ = ["WalkForward", "Window", "format_span", "parse_walk_forward", "walk_forward_windows"]

_UNIT_NS = {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
            "d": 86_400_000_000_000, "w": 604_800_000_000_000}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")


@dataclass(frozen=True, slots=True)
class WalkForward:
    """Lengths of a walk-forward's periods, ns."""

    train_ns: int
    test_ns: int
    step_ns: int
    text: str
    """As given (``30d:10d``)."""


@dataclass(frozen=True, slots=True)
class Window:
    """One walk-forward window: training period, then test period (half-open, UTC ns)."""

    index: int
    train_start_ns: int
    train_end_ns: int
    test_start_ns: int
    test_end_ns: int


def _duration(text: str, part: str, whole: str) -> int:
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise UsageError(f"--walk-forward {whole}: {part} {text!r} is not a duration; use a "
                         f"number and a unit: s, m, h, d or w (e.g. 30d:10d)")
    value = round(float(match.group(1)) * _UNIT_NS[match.group(2)])
    if value <= 0:
        raise UsageError(f"--walk-forward {whole}: {part} must be longer than 0")
    return value


def parse_walk_forward(text: str) -> WalkForward:
    """``TRAIN:TEST[:STEP]`` (see the module docstring).

    :raises UsageError: not two or three durations, a zero duration, or STEP shorter than TEST.
    """
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise UsageError(f"--walk-forward {text}: expected TRAIN:TEST or TRAIN:TEST:STEP "
                         f"(e.g. 30d:10d)")
    train = _duration(parts[0], "TRAIN", text)
    test = _duration(parts[1], "TEST", text)
    step = _duration(parts[2], "STEP", text) if len(parts) == 3 else test
    if step < test:
        raise UsageError(f"--walk-forward {text}: STEP ({parts[2]}) is shorter than TEST "
                         f"({parts[1]}): test periods would overlap")
    return WalkForward(train, test, step, text)


def walk_forward_windows(spec: WalkForward, start_ns: int, end_ns: int) -> list[Window]:
    """The whole windows that fit in ``[start_ns, end_ns)``.

    :raises UsageError: not even one window fits (naming the data's span).
    """
    windows: list[Window] = []
    train_start = start_ns
    while train_start + spec.train_ns + spec.test_ns <= end_ns:
        train_end = train_start + spec.train_ns
        windows.append(Window(len(windows), train_start, train_end, train_end,
                              train_end + spec.test_ns))
        train_start += spec.step_ns
    if not windows:
        raise UsageError(f"--walk-forward {spec.text}: one window needs "
                         f"{format_span(spec.train_ns + spec.test_ns)} of data; the datasets "
                         f"span {format_span(end_ns - start_ns)}")
    return windows


def format_span(ns: int) -> str:
    """``12d 6h``, ``3h 20m``, ``45s``: a duration in its two largest units."""
    seconds = ns // 1_000_000_000
    parts: Sequence[tuple[int, str]] = ((seconds // 86_400, "d"), (seconds // 3600 % 24, "h"),
                                        (seconds // 60 % 60, "m"), (seconds % 60, "s"))
    shown = [f"{n}{unit}" for n, unit in parts if n]
    return " ".join(shown[:2]) or "0s"
