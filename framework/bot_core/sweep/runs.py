"""One run of a sweep, as a worker process executes it: a normal backtest.

Every run is ``plan_backtest`` + ``run_backtest`` with the sweep's fixed choices and the run's
own parameters, the same two calls ``bot-core backtest`` makes, so a sweep cell is the single
backtest with those parameters (same risk engine, same paths, same numbers). What a worker
keeps between runs is what does not change between them: its plugin host, the datasets
(loaded or received once, kept by checksum) and the config file's text.

Everything here is imported by worker processes (local or Dask); it imports no executor.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from bot_core.errors import BotCoreError
from bot_core.faults import fault_point

if TYPE_CHECKING:
    from bot_core.backtest.plan import DataSpec
    from bot_core.config.models import BotConfig
    from bot_core.plugins import ComponentKind, PluginHost

__all__ = ["DatasetPayload", "Phase", "Requirements", "RunRecord", "RunSpec", "SweepContext",
           "component_versions", "execute_run", "frame_checksum", "install_datasets", "needed_components",
           "release_datasets", "slice_spec", "worker_host", "worker_report"]

Phase = Literal["full", "train", "test"]
"""``full``: a run over the whole data; ``train`` / ``test``: a walk-forward window's periods."""


@dataclass(frozen=True, slots=True)
class DatasetPayload:
    """A dataset as shipped to the workers: its id, checksum and loaded frame."""

    id: str
    checksum: str
    """sha256 of the stored file (the manifest's), or of the frame's contents
    (:func:`frame_checksum`) for a frame given directly."""
    spec: DataSpec


@dataclass(frozen=True, slots=True)
class SweepContext:
    """What every run of a sweep shares; small, sent with each task."""

    strategies: tuple[str, ...]
    datasets: tuple[tuple[str, str], ...]
    """(id, checksum) in the order given."""
    preset: str | None
    config_name: str | None
    """File name of ``--config`` (its text travels in ``config_text``)."""
    config_text: str | None
    fixed: dict[str, Any]
    """``--param`` values."""
    fee_bps: float | None
    environ: dict[str, str]
    """The ``BOT_CORE_*`` settings of the process that planned the sweep (never a secret: only
    configuration settings), so that every worker resolves the same config."""


@dataclass(frozen=True, slots=True)
class Requirements:
    """The plugins a sweep needs on every worker."""

    needed: tuple[tuple[ComponentKind, str], ...]
    """Components (kind, id) its runs use."""
    distributions: Mapping[str, str]
    """``kind:id`` -> the distribution that provides it here."""
    versions: Mapping[str, str]
    """Distribution -> version here (bot-core's included)."""


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One run: its parameters and the stretch of data it replays."""

    key: str
    """Unique in the sweep, stable across resumes (:func:`bot_core.sweep.results.run_key`)."""
    phase: Phase
    params: dict[str, Any]
    """The grid's values for this run (``--grid`` keys)."""
    window: int | None = None
    start_ns: int | None = None
    """First time replayed (inclusive), or None for the data's start."""
    end_ns: int | None = None
    """Time replaying stops (exclusive), or None for the data's end."""
    keep_equity: bool = False
    """Send the equity curve back (walk-forward test runs)."""


@dataclass(slots=True)
class RunRecord:
    """What a run gives back: its metrics, or the error that stopped it."""

    spec: RunSpec
    metrics: dict[str, float | int] = field(default_factory=dict)
    """``Metrics.as_dict()`` of the backtest (empty after an error)."""
    info: dict[str, Any] = field(default_factory=dict)
    """bars, n_fills, verdicts, final_state, path, start, end, elapsed_s."""
    plugins: dict[str, str] = field(default_factory=dict)
    """Distribution -> version of bot-core and of every plugin the run used."""
    worker: str = ""
    error: str = ""
    """One line: the host error's message, or the exception's type and message."""
    traceback: str = ""
    """For an error that is not a host error (a bug): the worker's traceback."""
    ts_ns: np.ndarray | None = None
    equity: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return not self.error


# -- per-process state of a worker -----------------------------------------------------------

_DATASETS: dict[str, DataSpec] = {}
"""Datasets this process holds, by checksum (filled once per process: :func:`install_datasets`)."""
_LOCAL = threading.local()
"""This thread's plugin host (a Dask worker may run several threads)."""
_CONFIG_FILES: dict[str, Path] = {}
_CONFIG_LOCK = threading.Lock()


_HOLDERS: dict[str, set[str]] = {}
"""Checksum -> the sweeps that installed it in this (long-lived Dask worker) process."""


def install_datasets(payloads: Sequence[DatasetPayload], owner: str = "") -> None:
    """Keep ``payloads`` in this process for every later run (a local worker's initializer; a
    Dask worker's, per sweep ``owner``, until :func:`release_datasets`)."""
    for payload in payloads:
        _DATASETS[payload.checksum] = payload.spec
        _HOLDERS.setdefault(payload.checksum, set()).add(owner)


def release_datasets(checksums: Sequence[str], owner: str) -> None:
    """``owner``'s sweep is over: drop the datasets no other sweep in this process holds."""
    for checksum in checksums:
        holders = _HOLDERS.get(checksum, set())
        holders.discard(owner)
        if not holders:
            _HOLDERS.pop(checksum, None)
            _DATASETS.pop(checksum, None)


def worker_host() -> PluginHost:
    host: PluginHost | None = getattr(_LOCAL, "host", None)
    if host is None:
        from bot_core.plugins import load_plugins

        host = _LOCAL.host = load_plugins()
        host.check()
    return host


def _config_path(context: SweepContext) -> Path | None:
    """The config's text in a file of this process under its own name (the same text for every
    run, even when the original file changes during the sweep)."""
    if context.config_text is None or context.config_name is None:
        return None
    digest = hashlib.sha256(context.config_text.encode("utf-8")).hexdigest()
    with _CONFIG_LOCK:
        path = _CONFIG_FILES.get(digest)
        if path is None:
            directory = Path(tempfile.mkdtemp(prefix="bot-core-sweep-"))
            path = directory / context.config_name
            path.write_text(context.config_text, encoding="utf-8")
            _CONFIG_FILES[digest] = path
    return path


def frame_checksum(frame: Any) -> str:
    """sha256 of a frame's index and columns (for datasets given as frames, not files)."""
    digest = hashlib.sha256()
    digest.update(np.asarray(frame.index.as_unit("ns").asi8, dtype=np.int64).tobytes())
    for name in frame.columns:
        digest.update(str(name).encode("utf-8"))
        digest.update(np.ascontiguousarray(frame[name].to_numpy(dtype=np.float64)).tobytes())
    return digest.hexdigest()


def slice_spec(spec: DataSpec, start_ns: int | None, end_ns: int | None) -> DataSpec:
    """The rows of ``spec`` in ``[start_ns, end_ns)`` (the whole frame when both are None)."""
    from dataclasses import replace

    if start_ns is None and end_ns is None:
        return spec
    ts = np.asarray(spec.frame.index.as_unit("ns").asi8, dtype=np.int64)
    lo = 0 if start_ns is None else int(np.searchsorted(ts, start_ns, side="left"))
    hi = len(ts) if end_ns is None else int(np.searchsorted(ts, end_ns, side="left"))
    return replace(spec, frame=spec.frame.iloc[lo:hi])


# -- plugins a run needs ------------------------------------------------------------------------


def needed_components(config: BotConfig, strategies: Sequence[str]
                      ) -> list[tuple[ComponentKind, str]]:
    """The components a backtest of ``strategies`` under ``config`` uses: the strategies'
    plugins, the venues' adapters and the enabled risk checks."""
    needed: list[tuple[ComponentKind, str]] = []
    for name in strategies:
        needed.append(("strategy", config.strategies[name].plugin))
    needed += [("exchange", venue.adapter) for venue in config.venues.values()]
    needed += [("risk_check", check) for check in config.risk.checks]
    return list(dict.fromkeys(needed))


def component_versions(host: PluginHost, needed: Sequence[tuple[ComponentKind, str]]
                       ) -> dict[str, str]:
    """Distribution -> version of bot-core and of every distribution providing ``needed``."""
    host_record = host.record("bot-core")
    versions = {"bot-core": host_record.version if host_record is not None else "unknown"}
    for key in needed:
        owner = host.owners.get(key)
        record = host.record(owner) if owner is not None else None
        if record is not None:
            versions[record.distribution] = record.version
    return dict(sorted(versions.items()))


MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"
"""Dask's nanny sets this for its workers; glibc then maps and unmaps every large array
instead of reusing its heap, and a run takes about a quarter longer (docs/sweeps.md)."""


def worker_report(needed: Sequence[tuple[ComponentKind, str]],
                  distributions: Mapping[str, str]) -> dict[str, Any]:
    """What this worker lacks of ``needed`` (run on every Dask worker before a sweep).

    :param distributions: component ``kind:id`` -> the distribution that provides it where the
        sweep was planned (to say why it is missing here: blocked, broken or not installed).
    :returns: ``{"versions": {distribution: version}, "missing": [lines], "malloc_trim":
        this process's MALLOC_TRIM_THRESHOLD_ or None}``.
    """
    from bot_core.plugins import load_plugins

    host = load_plugins()
    missing = []
    for kind, ident in needed:
        if (kind, ident) in host.owners:
            continue
        dist = distributions.get(f"{kind}:{ident}", "")
        record = host.record(dist) if dist else None
        if record is None:
            why = f"{dist or 'its distribution'} is not installed"
        else:
            why = f"{record.distribution} {record.version} is {record.status}" + (
                f": {record.reason}" if record.reason else "")
        missing.append(f"{kind.replace('_', ' ')} {ident}: {why}")
    return {"versions": component_versions(host, needed), "missing": missing,
            "malloc_trim": os.environ.get(MALLOC_TRIM)}


# -- the run ----------------------------------------------------------------------------------


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"local:{os.getpid()}"


def execute_run(context: SweepContext, spec: RunSpec,
                datasets: Sequence[DataSpec] | None = None, *,
                host: PluginHost | None = None) -> RunRecord:
    """Run one backtest of a sweep; never raises for a failed run (the error is recorded).

    :param datasets: the sweep's datasets in ``context.datasets`` order (a Dask worker gets
        them scattered once); None: this process's (:func:`install_datasets`).
    :param host: the plugin host to run with (default: this thread's, loaded once).
    """
    record = RunRecord(spec, worker=_worker_name())
    started = time.perf_counter()
    try:
        from bot_core.backtest.driver import run_backtest
        from bot_core.backtest.plan import plan_backtest

        host = host or worker_host()
        specs = list(datasets) if datasets is not None else \
            [_DATASETS[checksum] for _, checksum in context.datasets]
        data = {ident: slice_spec(s, spec.start_ns, spec.end_ns)
                for (ident, _), s in zip(context.datasets, specs, strict=True)}
        plan = plan_backtest(host, strategies=context.strategies, datasets=data,
                             preset=context.preset, config_path=_config_path(context),
                             params={**context.fixed, **spec.params}, fee_bps=context.fee_bps,
                             environ=context.environ)
        record.plugins = component_versions(
            host, needed_components(plan.resolved.config, plan.strategies))
        fault_point("mid_sweep_run")  # tests: a worker killed in the middle of a sweep
        result = run_backtest(plan, host)
    except BotCoreError as exc:
        record.error = " / ".join(str(exc).splitlines()) or type(exc).__name__
        return record
    except Exception as exc:  # a bug in a plugin or the host: keep its traceback
        record.error = f"{type(exc).__name__}: {exc}"
        record.traceback = traceback.format_exc()
        return record
    from bot_core.backtest.results import iso_utc

    record.metrics = result.metrics.as_dict()
    record.info = {
        "bars": result.bars, "n_fills": len(result.fills),
        "start": iso_utc(int(result.ts_ns[0])) if len(result.ts_ns) else "",
        "end": iso_utc(int(result.ts_ns[-1])) if len(result.ts_ns) else "",
        "path": str(result.path), "final_state": result.final_state,
        "approved": result.verdicts.get("approve", 0),
        "reduced": result.verdicts.get("reduce", 0),
        "rejected": result.verdicts.get("reject", 0),
        "elapsed_s": time.perf_counter() - started,
    }
    if spec.keep_equity:
        record.ts_ns, record.equity = result.ts_ns, result.equity
    return record
