"""The process's helper threads: one pool, started on first use and kept.

The batch kernels split long arrays over threads (:mod:`bot_core.kernels`) and a backtest
computes its result's curve on a second thread while it judges its log
(:mod:`bot_core.backtest.driver`). Starting a thread costs about a millisecond on a busy
2-core machine, a few per run: a pool kept for the life of the process pays that once, which
matters to a sweep running hundreds of backtests in one worker.

Work handed to the pool must not wait on other work in the pool (a task that did could wait for
a thread that never comes): kernels' segments and the result's curve are leaves. A caller that
is itself one of the pool's threads runs its work in place (:func:`in_helper`).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["helper_pool", "in_helper"]

_MAX_THREADS = 32
"""Upper bound of the pool (threads start only when work is waiting and none is idle)."""
_PREFIX = "bot-core-helper"

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def helper_pool() -> ThreadPoolExecutor:
    """The process's helper pool (started on the first call; never shut down by callers)."""
    global _pool
    pool = _pool
    if pool is None:
        with _lock:
            pool = _pool
            if pool is None:
                pool = _pool = ThreadPoolExecutor(max_workers=_MAX_THREADS,
                                                  thread_name_prefix=_PREFIX)
    return pool


def in_helper() -> bool:
    """True on one of the pool's threads (where work must run in place, not be queued)."""
    return threading.current_thread().name.startswith(_PREFIX)


def _forget_after_fork() -> None:
    # a forked child has none of the parent's threads: the pool object would queue forever
    global _pool, _lock
    _pool = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
