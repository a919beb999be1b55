"""Split a batch kernel's work into anchor-aligned segments and run them on several threads.

The rolling kernels rebuild their state from the window at every multiple of :data:`ANCHOR`
bars (see :mod:`bot_core.kernels.rolling`), so a segment that starts there does not depend on
the bars before its window. Segments are handed out in contiguous runs, one per thread; the
compiled kernels release the GIL (``nogil=True``), so the threads run in parallel, and the
result is the same for any number of them.

The threads are the process's helper pool (:mod:`bot_core.helpers`), the calling thread taking
the last run. Plain threads rather than Numba's ``parallel=True``: they need no threading layer
(Numba's default one aborts when two Python threads start parallel kernels at once, as a Dask
worker would) and add no compile time.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from bot_core.helpers import helper_pool, in_helper

__all__ = [
    "ANCHOR",
    "ANCHOR_BITS",
    "PARALLEL_MIN_BARS",
    "check_workers",
    "default_workers",
    "run_segments",
    "segment_count",
    "usable_cpus",
]

ANCHOR_BITS = 16
ANCHOR = 1 << ANCHOR_BITS
"""Bars between two anchors (65,536)."""

PARALLEL_MIN_BARS = 1 << 20
"""Below this many bars a kernel runs on the calling thread unless told otherwise."""

_MAX_AUTO_WORKERS = 8


def segment_count(bars: int) -> int:
    """Segments of :data:`ANCHOR` bars (the last one may be shorter) covering ``bars``."""
    return (bars + ANCHOR - 1) >> ANCHOR_BITS


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def default_workers(segments: int) -> int:
    """Threads for ``segments`` segments when the caller did not choose: one for small inputs."""
    if segments * ANCHOR < PARALLEL_MIN_BARS:
        return 1
    return max(1, min(usable_cpus(), _MAX_AUTO_WORKERS, segments))


def check_workers(workers: int) -> int:
    """``workers`` as a thread count, or a ValueError naming the bad value."""
    if int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
    return int(workers)


def run_segments(kernel: Callable[[int, int], None], segments: int,
                 workers: int | None = None) -> None:
    """Call ``kernel(first, last)`` over contiguous runs covering ``range(segments)``.

    ``workers`` threads (``None``: :func:`default_workers`); 1 runs on the calling thread.
    Exceptions from any run propagate.
    """
    count = default_workers(segments) if workers is None else check_workers(workers)
    count = min(count, max(segments, 1))
    if count <= 1:
        kernel(0, segments)
        return
    bounds = [segments * t // count for t in range(count + 1)]
    if in_helper():  # already on a helper thread: queuing would wait on the pool itself
        for t in range(count):
            kernel(bounds[t], bounds[t + 1])
        return
    pool = helper_pool()
    futures = [pool.submit(kernel, bounds[t], bounds[t + 1]) for t in range(count - 1)]
    try:
        kernel(bounds[count - 1], bounds[count])  # the last run on the calling thread
    finally:
        for future in futures:
            future.result()
