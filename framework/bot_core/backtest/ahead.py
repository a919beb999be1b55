"""The replay kernel compiled ahead, in a second process, while a cold backtest gets ready.

With an empty Numba cache most of a ``bot-core backtest``'s time is compiling: the replay
kernel (:func:`bot_core.backtest.kernel.replay_bars`, several seconds) and, before it can run,
the strategies' signal kernels and ``decide`` rules. The kernel's types do not depend on the
data (every input is a named tuple of C-contiguous, writable arrays of fixed dtypes), so it can
be compiled before the data is even loaded. :func:`start` does that where it pays: when the
kernel's on-disk cache holds nothing for it and the process may use two CPUs or more, it starts
``python -m bot_core.backtest.ahead``, which calls the kernel once on inputs of one bar
(:func:`tiny_inputs`) and so writes the compiled kernel into the same cache. The backtest
meanwhile loads its datasets and computes its signals on its own CPU; :func:`wait`, called just
before the kernel's first call, lets the kernel load from the cache instead of compiling. When
the helper fails, or its kernel does not match (a cache Numba cannot write), the backtest
compiles the kernel itself, as it always did: ahead-of-time compiling only ever saves time.
"""

from __future__ import annotations

import atexit
import functools
import os
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["kernel_cached", "start", "tiny_inputs", "wait"]

WAIT_S = 300.0
"""The longest :func:`wait` waits for the helper (it is then killed)."""

_helper: subprocess.Popen[bytes] | None = None


def kernel_cached() -> bool:
    """Whether the kernel's on-disk cache holds a compiled kernel (True where that cannot be
    told, or where there is no cache to fill: nothing is then started)."""
    if os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
        return True
    from bot_core.backtest.kernel import replay_bars

    try:  # Numba's cache index: empty when missing, stale (the source changed) or unreadable
        cache_file = getattr(replay_bars, "_cache")._cache_file  # noqa: B009 (untyped)
        if not os.access(os.path.dirname(cache_file._index_path) or ".", os.W_OK):
            return True
        return bool(cache_file._load_index())
    except Exception:  # another Numba's internals: do as before, compile in this process
        return True


def _cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def start(kinds: Iterable[str] = ()) -> bool:
    """Start compiling the kernel in a helper process where the cache lacks it and a second
    CPU is there to do it. ``kinds``: the data kinds of the strategies known to run (none is
    started for a quotes strategy: such a run never takes the compiled replay). Returns
    whether a helper was started."""
    global _helper
    if _helper is not None or any(kind != "ohlcv" for kind in kinds) or _cpus() < 2 \
            or kernel_cached():
        return False
    _helper = subprocess.Popen([sys.executable, "-m", "bot_core.backtest.ahead"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    atexit.register(_end, _helper)  # a command that ends first (an error) leaves none behind
    return True


def _end(helper: subprocess.Popen[bytes]) -> None:
    if helper.poll() is None:  # Numba writes its cache files whole (rename): nothing half-written
        helper.kill()
        helper.wait()


def running() -> bool:
    """Whether a helper is still compiling (the command has a CPU to spare meanwhile)."""
    return _helper is not None and _helper.poll() is None


def wait(timeout_s: float = WAIT_S) -> None:
    """Let the helper, if one runs, finish writing the kernel into the cache (at most
    ``timeout_s``; a helper that takes longer is killed and the kernel compiled here)."""
    global _helper
    helper, _helper = _helper, None
    if helper is None:
        return
    try:
        helper.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        helper.kill()
        helper.wait()


def tiny_inputs() -> tuple[Any, ...]:
    """Arguments of one bar, one feed and one strategy for ``replay_bars``, of the same Numba
    types as any run's (``tests/backtest/test_ahead.py`` holds them equal)."""
    from bot_core.backtest.kernel import MONITOR, Books, EntryLog, Events, Limits, Slots, Venues
    from bot_core.kernels.decide import decide_list

    ints = np.zeros(1, dtype=np.int64)
    floats = np.ones(1)
    flags = np.zeros(1, dtype=np.bool_)
    events = Events.of(np.array([0, 1], dtype=np.int64), ints.copy(), ints.copy(), ints.copy(),
                       floats.copy(), floats.copy(), floats.copy())
    books = Books(ints.copy(), ints.copy(), ints.copy(), ints.copy(), ints.copy(), 1)
    venues = Venues(floats * 0, floats * 0, floats * 0, floats.copy(), ints.copy(),
                    flags.copy(), flags.copy(), floats.copy(), floats * 1e6, flags.copy())
    slots = Slots(np.array([0, 1], dtype=np.int64), ints.copy(), ints.copy(), ints.copy(),
                  floats * np.nan, ints.copy(), np.ones(1, dtype=np.int64), np.zeros(1),
                  np.array([0, 1], dtype=np.int64), np.zeros(1),
                  np.array([0, 1], dtype=np.int64))
    limits = Limits(1e6, np.array([1 << 62], dtype=np.int64), 20.0, 5.0)
    return (events, books, venues, slots, limits, decide_list([_hold_rule()]),
            np.zeros(1, dtype=MONITOR), np.zeros(1), np.zeros(1, dtype=np.bool_),
            EntryLog.allocate(8, 1, 1))


@functools.cache  # one dispatcher: tiny_inputs() may be called more than once
def _hold_rule() -> Any:
    """A rule that never trades, compiled with the batch contract's signature."""
    from numba import njit

    from bot_core.kernels.decide import DECIDE_SIGNATURE

    @njit(DECIDE_SIGNATURE, cache=True, nogil=True)
    def hold(signal: Any, close: float, position: float, equity: float, state: Any,
             params: Any) -> tuple[float, int]:
        return np.nan, 0

    return hold


def main() -> int:
    """The helper: compile the kernel into the on-disk cache."""
    from bot_core.backtest.kernel import replay_bars

    replay_bars(*tiny_inputs())
    return 0


if __name__ == "__main__":
    sys.exit(main())
