"""Where a sweep's runs execute: local worker processes (the default) or a Dask cluster.

An executor is started once per sweep with the sweep's context and datasets, then given runs
(a walk-forward gives it the training runs, then the test runs) and yields each
:class:`~bot_core.sweep.runs.RunRecord` as it finishes, in any order. ``close(cancel=True)``
stops at once: the runs still queued are dropped and the workers are stopped.

``LocalExecutor`` is a ``ProcessPoolExecutor`` of spawned processes, one per core by default.
Each process loads the plugins and receives the datasets once, in its initializer, and keeps
them for every run it executes. Workers ignore SIGINT: Ctrl-C reaches the sweep's own process,
which stops them; a worker whose sweep process is gone (killed) ends itself within a second.
A worker that dies (out of memory, killed) breaks the pool; the pool is
started again and the runs that had not finished are given to it (at most
``MAX_POOL_RESTARTS`` times, after which those runs are reported as failed).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from bot_core.sweep.runs import (
    DatasetPayload,
    Requirements,
    RunRecord,
    RunSpec,
    SweepContext,
    execute_run,
    install_datasets,
    worker_host,
)

__all__ = ["MAX_POOL_RESTARTS", "Executor", "LocalExecutor", "available_cores"]

MAX_POOL_RESTARTS = 3
_PARENT_POLL_S = 1.0


class Executor(Protocol):
    """What the sweep needs from where its runs execute."""

    def start(self, context: SweepContext, payloads: Sequence[DatasetPayload], runs: int,
              requirements: Requirements) -> list[str]:
        """Start the workers for up to ``runs`` runs that need ``requirements``; returns notes
        for the user (workers left out and why)."""

    def run(self, specs: Sequence[RunSpec]) -> Iterator[RunRecord]:
        """Execute ``specs``, yielding each record as it finishes."""

    def close(self, *, cancel: bool = False) -> None:
        """Stop the workers (``cancel``: without waiting for queued runs)."""

    @property
    def description(self) -> str:
        """``local, 2 processes``, ``dask tcp://...: 4 workers``."""


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _exit_with_parent(parent: int) -> None:
    """End this worker when the sweep's process is gone (killed, or ended without stopping
    its pool): an orphaned worker would otherwise keep a core busy."""
    while True:
        time.sleep(_PARENT_POLL_S)
        if os.getppid() != parent:
            os._exit(1)


def _init_worker(payloads: Sequence[DatasetPayload]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the sweep's to handle
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True,
                     name="bot-core-sweep-parent-watch").start()
    install_datasets(payloads)
    worker_host()  # load the plugins now, while the other workers start


class LocalExecutor:
    """Runs on this machine's cores (see the module docstring)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._context: SweepContext | None = None
        self._payloads: Sequence[DatasetPayload] = ()
        self._size = 1

    @property
    def description(self) -> str:
        return f"local, {self._size} process{'es' if self._size != 1 else ''}"

    def start(self, context: SweepContext, payloads: Sequence[DatasetPayload], runs: int,
              requirements: Requirements) -> list[str]:
        # the workers are this machine's processes, with its plugins: nothing to check
        self._context, self._payloads = context, payloads
        self._size = max(1, min(self.workers or available_cores(), max(runs, 1)))
        return []

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self._size,
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(tuple(self._payloads),))

    def run(self, specs: Sequence[RunSpec]) -> Iterator[RunRecord]:
        assert self._context is not None, "start() first"
        todo = list(specs)
        if todo and self._pool is None:
            self._pool = self._new_pool()  # started on the first runs: a resume may have none
        restarts = 0
        while todo:
            pool = self._pool
            assert pool is not None
            pending: dict[Future[RunRecord], RunSpec] = {
                pool.submit(execute_run, self._context, spec): spec for spec in todo}
            todo = []
            broken = False
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    spec = pending.pop(future)
                    try:
                        record = future.result()
                    except BrokenProcessPool:
                        broken = True
                        todo.append(spec)
                        continue
                    yield record
                if broken:
                    todo += list(pending.values())
                    pending = {}
            if broken:
                self._stop_pool()
                restarts += 1
                if restarts > MAX_POOL_RESTARTS:
                    for spec in todo:
                        yield RunRecord(spec, error=f"worker processes died {restarts} times "
                                        "while running this and other runs (out of memory?)")
                    return
                self._pool = self._new_pool()

    def _stop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # Python < 3.14 has no public way to end a pool's workers; a worker may be deep in a
        # long run, and Ctrl-C must not wait for it
        processes = list((getattr(pool, "_processes", None) or {}).values())
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)
        # the pool's manager thread sees its workers gone and ends; waiting for it keeps its
        # pipes open until it has (an exit with the thread still running writes to a closed one)
        pool.shutdown(wait=True, cancel_futures=True)

    def close(self, *, cancel: bool = False) -> None:
        if cancel:
            self._stop_pool()
        elif self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
