"""The run manifest: everything a backtest result needs to be re-run and checked bit for bit.

Every result of ``bot-core backtest`` and ``bot-core demo`` records one (the JSON's
``manifest``, ``manifest.json`` in a report folder): the versions of bot-core, of every plugin
distribution and of Python, numpy and numba; the resolved config and its hash
(:func:`bot_core.runtime.history.config_hash`); the strategies with every parameter as the run
used it; every dataset's id, rows, span and checksum; the venues' fee and fill settings; the
random seeds; the path the replay took; and the outcome as digests of the trades, the fills and
the equity curve. ``bot-core rerun`` (:mod:`bot_core.backtest.rerun`) re-runs from it and
compares.

A backtest draws no random numbers: ``random_seeds`` holds ``PYTHONHASHSEED`` (which orders
Python's sets of strings) and any setting of a strategy or venue whose name has ``seed`` in it,
so a plugin that does draw them is recorded too.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bot_core.backtest.times import iso_utc, iso_utc_array
from bot_core.runtime.history import config_hash

if TYPE_CHECKING:
    from bot_core.backtest.feeds import Feed
    from bot_core.backtest.plan import BacktestPlan
    from bot_core.backtest.results import BacktestResult
    from bot_core.data.manifest import DatasetEntry
    from bot_core.plugins import PluginHost

__all__ = ["MANIFEST_FILE", "MANIFEST_VERSION", "DatasetRecord", "Outcome", "Replay",
           "RunManifest", "build_manifest", "environment_versions", "outcome_of",
           "plugin_versions"]

MANIFEST_VERSION: Literal[1] = 1
MANIFEST_FILE = "manifest.json"
"""Its name in a report folder."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CHECKPOINTS = 64
"""Equity points kept in the outcome (evenly spaced, the last one included), so a re-run
compared with a JSON result alone can say where its equity curve first parts from the record."""


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatasetRecord(_Record):
    """One dataset as the run read it."""

    id: str
    kind: str
    venue: str
    """The venue the run delivered it to."""
    instrument: str
    timeframe: str | None
    rows: int = Field(ge=0)
    first: str
    """First row's time (``2024-01-02T03:04:05Z``)."""
    last: str
    sha256: str | None = Field(pattern=r"^[0-9a-f]{64}$")
    """The library file's checksum (``bot-core data list --json``); None for data handed to
    :func:`~bot_core.backtest.plan.plan_backtest` in memory, which cannot be re-run."""
    library: Literal["shipped", "user", "memory"]


class Replay(_Record):
    """How the run was replayed."""

    requested: Literal["compiled", "events"]
    """``compiled``: the compiled replay where the run allows it (the default); ``events``:
    every event through the pipeline (``--no-compiled`` / ``--no-fast``)."""
    path: str
    """The path that produced the result (``BacktestResult.path``)."""
    note: str = ""
    """Why the compiled replay was not used, when it was wanted (``fast_path_note``)."""


class Outcome(_Record):
    """What the run produced, as counts and SHA-256 digests (:func:`outcome_of`)."""

    steps: int
    events: int
    trades: int
    """Round trips, the still-open ones included."""
    fills: int
    final_equity: float
    trades_sha256: str
    fills_sha256: str
    equity_sha256: str
    """Of the equity curve's times (int64) and values (float64), little-endian bytes."""
    equity_checkpoints: list[tuple[str, float]]
    """``(time, equity)`` at up to :data:`CHECKPOINTS` evenly spaced steps."""


class RunManifest(_Record):
    """The manifest of one backtest (see the module docstring)."""

    manifest_version: Literal[1] = MANIFEST_VERSION
    created: str
    """When the run finished, UTC."""
    command: list[str] = Field(default_factory=list)
    """The command line, when the run came from the CLI."""
    versions: dict[str, str]
    """bot-core, Python, numpy, numba (and the platform)."""
    plugins: dict[str, str]
    """Every enabled plugin distribution -> its version."""
    components: dict[str, str]
    """``strategy ID``, ``exchange ID``, ``risk_check ID`` the run used -> its distribution."""
    preset: str
    config: dict[str, Any]
    """The resolved config as the run used it (strategies narrowed to the data, venue
    settings complete)."""
    config_hash: str
    strategies: list[str]
    """Strategy instances that ran, in the config's order."""
    parameters: dict[str, dict[str, Any]]
    """Every parameter of each strategy that ran, validated (defaults and ``--param``)."""
    datasets: list[DatasetRecord]
    venues: dict[str, dict[str, Any]]
    """Each venue's adapter and settings: fees, slippage, fill on close, volume cap."""
    random_seeds: dict[str, Any]
    replay: Replay
    outcome: Outcome


def environment_versions() -> dict[str, str]:
    """The versions a run's numbers may depend on, besides the plugins'."""
    import numba

    return {"bot-core": _version("bot-core"), "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__,
            "platform": f"{sys.platform}-{platform.machine()}"}


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def plugin_versions(host: PluginHost) -> dict[str, str]:
    """Every enabled plugin distribution (the host's own included) -> its version."""
    return dict(sorted({r.distribution: r.version for r in host.records
                        if r.status == "enabled"}.items()))


def _components(plan: BacktestPlan, host: PluginHost) -> dict[str, str]:
    config = plan.resolved.config
    used = [("strategy", config.strategies[name].plugin) for name in plan.strategies]
    used += [("exchange", venue.adapter) for venue in config.venues.values()]
    used += [("risk_check", check) for check in config.risk.checks]
    return {f"{kind} {ident}": host.owners.get((kind, ident), "unknown") for kind, ident in used}


def _dataset_record(feed: Feed, entries: Mapping[str, DatasetEntry]) -> DatasetRecord:
    entry = entries.get(feed.dataset)
    first, last = int(feed.ts_ns[0]), int(feed.ts_ns[-1])
    from_library = (entry is not None and entry.rows == len(feed)
                    and _ns(entry.first_timestamp) == first and _ns(entry.last_timestamp) == last)
    return DatasetRecord(
        id=feed.dataset, kind=feed.kind, venue=feed.venue, instrument=feed.instrument,
        timeframe=feed.timeframe, rows=len(feed), first=iso_utc(first), last=iso_utc(last),
        sha256=entry.sha256 if from_library and entry is not None else None,
        library=entry.library if from_library and entry is not None else "memory")


def _ns(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(microseconds=1) * 1_000


def _library_entries(ids: Sequence[str]) -> dict[str, DatasetEntry]:
    """The library's entries of ``ids`` (an id the library does not know is left out)."""
    from bot_core.data.library import catalogue

    wanted = set(ids)
    return {e.id: e for e in catalogue().entries if e.id in wanted}


def _seeds(parameters: Mapping[str, Mapping[str, Any]],
           venues: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    seeds: dict[str, Any] = {"PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "random")}
    for owner, values in [*(("strategies." + n, p) for n, p in parameters.items()),
                          *(("venues." + n, v.get("settings", {})) for n, v in venues.items())]:
        seeds.update({f"{owner}.{key}": value for key, value in values.items()
                      if "seed" in key.lower()})
    return seeds


def _digest(payload: bytes | str) -> str:
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    return hashlib.sha256(data).hexdigest()


def outcome_of(result: BacktestResult) -> Outcome:
    """The result's counts and digests: two runs with equal digests have the same trades, fills
    and equity curve bit for bit (floats are hashed as ``repr``, which round-trips exactly)."""
    trades = [[t.strategy, t.venue, t.instrument, t.side, t.quantity, t.entry_ns,
               t.entry_price, t.exit_ns, t.exit_price, t.pnl, t.fees, t.fills]
              for t in result.trades]
    fills = [list(f) for f in result.fills]
    ts = np.ascontiguousarray(result.ts_ns, dtype="<i8")
    equity = np.ascontiguousarray(result.equity, dtype="<f8")
    steps = len(ts)
    picks = sorted({*np.linspace(0, steps - 1, min(CHECKPOINTS, steps)).astype(int).tolist()}
                   ) if steps else []
    times = iso_utc_array(ts[picks]).tolist() if picks else []
    return Outcome(
        steps=steps, events=result.bars, trades=len(result.trades), fills=len(result.fills),
        final_equity=result.metrics.final_equity,
        trades_sha256=_digest(json.dumps(trades, separators=(",", ":"))),
        fills_sha256=_digest(json.dumps(fills, separators=(",", ":"))),
        equity_sha256=_digest(ts.tobytes() + equity.tobytes()),
        equity_checkpoints=[(t, float(equity[i])) for t, i in zip(times, picks, strict=True)])


def build_manifest(plan: BacktestPlan, host: PluginHost, result: BacktestResult, *,
                   compiled: bool = True, command: Sequence[str] = (),
                   entries: Mapping[str, DatasetEntry] | None = None) -> RunManifest:
    """The manifest of ``result``, the run of ``plan`` under ``host``.

    :param compiled: whether the compiled replay was wanted (False: ``--no-compiled``).
    :param command: the command line that ran it, for the reader.
    :param entries: the library entries of the datasets (default: looked up by id); a feed
        whose rows and span do not match its entry was handed over in memory.
    """
    config = plan.resolved.config
    entries = _library_entries(plan.datasets) if entries is None else entries
    parameters = {name: plan.resolved.strategy_settings[name].model_dump(mode="json")
                  for name in plan.strategies}
    venues = {name: venue.model_dump(mode="json") for name, venue in config.venues.items()}
    return RunManifest(
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), command=list(command),
        versions=environment_versions(), plugins=plugin_versions(host),
        components=_components(plan, host), preset=plan.preset,
        config=config.model_dump(mode="json"), config_hash=config_hash(config),
        strategies=list(plan.strategies), parameters=parameters,
        datasets=[_dataset_record(feed, entries) for feed in plan.feeds], venues=venues,
        random_seeds=_seeds(parameters, venues),
        replay=Replay(requested="compiled" if compiled else "events", path=str(result.path),
                      note=result.fast_path_note),
        outcome=outcome_of(result))
