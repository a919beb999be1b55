"""Runs on a Dask cluster: an existing scheduler, or a LocalCluster on loopback.

Needs the optional extra ``bot-core[dask]`` (``dask[distributed]``); every worker needs
bot-core and the plugin wheels the sweep uses, at the versions of the machine that plans the
sweep. Before any run, every connected worker is asked (``Client.run``) which of the sweep's
components it lacks; a worker that lacks one, or has another version, is named with what it
lacks and left out (the runs go to the others); with none left the sweep is refused.

The datasets are sent to each usable worker once (``Client.run``) and kept in the worker's
process for this sweep (released at its end), outside Dask's data management: scattered data
has no recipe to recompute it, and the scheduler's Active Memory Manager drops "excess"
replicas, so a worker dying with the last replica made the runs still waiting on it fail
("cancelled: already forgotten"). The runs go to those workers only. A worker that dies
mid-sweep loses nothing: Dask runs its unfinished runs again on the other workers (and gives
up on a run that killed three workers: ``KilledWorker``, reported as that run's error).
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from bot_core.errors import PluginError, UsageError
from bot_core.sweep.executors import available_cores
from bot_core.sweep.runs import (
    MALLOC_TRIM,
    DatasetPayload,
    Requirements,
    RunRecord,
    RunSpec,
    SweepContext,
    execute_run,
    install_datasets,
    release_datasets,
    worker_report,
)

__all__ = ["SCHEDULER_ENV", "DaskExecutor", "check_address"]

SCHEDULER_ENV = "BOT_CORE_DASK_SCHEDULER"
_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://[^\s/]+$")
_MISSING_DASK = ("--executor dask needs dask.distributed, which this installation lacks: "
                 "pip install 'bot-core[dask]'")


def _client_module() -> Any:
    try:
        import distributed
    except ImportError:
        raise UsageError(_MISSING_DASK) from None
    return distributed


def check_address(address: str) -> None:
    """Refuse what is not a scheduler address (``tcp://HOST:PORT``).

    :raises UsageError: naming the address."""
    if not _ADDRESS.match(address):
        raise UsageError(f"--scheduler {address}: expected an address such as tcp://HOST:PORT")


def _probe(address: str) -> None:
    """Fail at once when nothing listens at a ``tcp://`` address (Dask would retry until its
    timeout)."""
    import socket

    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme != "tcp" or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise UsageError(f"--scheduler {address}: cannot connect ({exc.strerror or exc}); is "
                         f"a Dask scheduler running there?") from None


class DaskExecutor:
    """Runs on dask.distributed (see the module docstring)."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None, *,
                 timeout_s: float = 30.0) -> None:
        if scheduler is not None:
            check_address(scheduler)
        self.scheduler = scheduler
        self.workers = workers
        self.requirements = Requirements((), {}, {})
        self.timeout_s = timeout_s
        self._client: Any = None
        self._cluster: Any = None
        self._context: SweepContext | None = None
        self._owner = f"sweep-{uuid.uuid4().hex[:12]}"
        self._checksums: list[str] = []
        self._restrict: list[str] = []
        self._outstanding: list[Any] = []
        self._usable = 0

    @property
    def description(self) -> str:
        where = self.scheduler or "local cluster on 127.0.0.1"
        return f"dask {where}, {self._usable} worker{'s' if self._usable != 1 else ''}"

    def start(self, context: SweepContext, payloads: Sequence[DatasetPayload], runs: int,
              requirements: Requirements) -> list[str]:
        distributed = _client_module()
        self._context, self.requirements = context, requirements
        if self.scheduler is None:
            import dask

            # without the nanny's MALLOC_TRIM_THRESHOLD_ (see runs.MALLOC_TRIM), and without
            # the worker's profiler, which samples every thread's stack a hundred times a second
            # (a tenth of a run's time, measured)
            with dask.config.set({f"distributed.nanny.pre-spawn-environ.{MALLOC_TRIM}": None,
                                  "distributed.worker.profile.enabled": False}):
                self._cluster = distributed.LocalCluster(
                    n_workers=self.workers or available_cores(), threads_per_worker=1,
                    processes=True, host="127.0.0.1", dashboard_address=None,
                    silence_logs=logging.ERROR)
            self._client = distributed.Client(self._cluster)
        else:
            _probe(self.scheduler)
            try:
                self._client = distributed.Client(self.scheduler, timeout=f"{self.timeout_s}s")
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"--scheduler {self.scheduler}: cannot connect ({exc})") \
                    from None
        wanted = self.workers if self.scheduler is not None and self.workers else 1
        try:
            self._client.wait_for_workers(wanted, timeout=self.timeout_s)
        except TimeoutError:
            have = len(self._client.scheduler_info(n_workers=-1)["workers"])
            raise UsageError(f"--scheduler {self.scheduler}: {have} worker(s) connected, "
                             f"{wanted} wanted, after {self.timeout_s:g} s") from None
        notes, good = self._preflight()
        self._usable = len(good)
        self._restrict = good
        self._checksums = [p.checksum for p in payloads]
        self._client.run(install_datasets, list(payloads), self._owner, workers=good)
        return notes

    def _preflight(self) -> tuple[list[str], list[str]]:
        req = self.requirements
        reports = self._client.run(worker_report, list(req.needed), dict(req.distributions),
                                   on_error="return")
        info = self._client.scheduler_info(n_workers=-1)["workers"]
        notes, problems, good = [], [], []
        for address, report in sorted(reports.items()):
            name = info.get(address, {}).get("name", "")
            label = f"worker {address}" + (f" ({name})" if name and name != address else "")
            if isinstance(report, BaseException):
                lacks = [f"cannot load bot-core's plugins: {type(report).__name__}: {report}"]
            else:
                lacks = list(report["missing"]) + [
                    f"{dist} {theirs} (here: {req.versions[dist]})"
                    for dist, theirs in report["versions"].items()
                    if dist in req.versions and theirs != req.versions[dist]]
            if lacks:
                problems.append(f"{label}: {'; '.join(lacks)}")
            else:
                good.append(address)
        if not good:
            raise PluginError("no Dask worker can run this sweep (install the same bot-core "
                              "and plugin wheels on the workers):\n" + "\n".join(problems))
        if problems:
            notes = [f"{p}; left out" for p in problems]
        trimming = sorted(a for a in good if reports[a].get("malloc_trim") is not None)
        if trimming:
            notes.append(
                f"{len(trimming)} of {len(good)} workers run with {MALLOC_TRIM} set (the "
                f"Dask nanny's default), which makes every run about 25 % slower; unset it in "
                f"their Dask config (docs/sweeps.md, 'Worker memory'): {', '.join(trimming)}")
        return notes, good

    def run(self, specs: Sequence[RunSpec]) -> Iterator[RunRecord]:
        distributed = _client_module()
        assert self._client is not None and self._context is not None, "start() first"
        prefix = f"bot-core-{self._owner}-{uuid.uuid4().hex[:6]}"
        futures = self._client.map(
            execute_run, [self._context] * len(specs), list(specs),
            key=[f"{prefix}-{i}" for i in range(len(specs))],
            pure=False, workers=self._restrict, allow_other_workers=False)
        self._outstanding = list(futures)
        by_key = {f.key: spec for f, spec in zip(futures, specs, strict=True)}
        for future in distributed.as_completed(futures):
            spec = by_key[future.key]
            try:
                record: RunRecord = future.result()
            except Exception as exc:  # the run never returned (KilledWorker, cancelled)
                record = RunRecord(spec, error=f"{type(exc).__name__}: {exc}")
            future.release()
            yield record
        self._outstanding = []

    def close(self, *, cancel: bool = False) -> None:
        client, self._client = self._client, None
        if client is not None:
            if cancel and self._outstanding:
                client.cancel(self._outstanding)
            if self._checksums:  # long-lived workers keep nothing of this sweep
                with contextlib.suppress(Exception):  # a worker gone meanwhile: nothing held
                    client.run(release_datasets, self._checksums, self._owner,
                               workers=self._restrict, on_error="ignore")
            client.close()
        cluster, self._cluster = self._cluster, None
        if cluster is not None:
            cluster.close()
