"""Re-running a recorded backtest from its manifest, and saying whether it came out the same.

:func:`load_recorded` reads a result: the JSON of ``bot-core backtest --json`` (its
``manifest`` and ``trades``) or a report folder (``manifest.json`` and the trades, fills and
equity CSVs). :func:`rerun` plans the run again from the manifest alone: the resolved config as
one layer (no preset, file or environment laid over it), every parameter as recorded, the same
datasets from the library and the same replay request. :func:`compare` then holds the new
outcome against the recorded digests: identical means the trades, the fills and the equity
curve are equal bit for bit. Otherwise it says what differs (the first trade, fill or equity
point that parts, as far as the record allows) and which recorded inputs changed since and may
explain it: a dataset's checksum, a plugin's or bot-core's version, Python, numpy or numba, the
resolved config or a parameter.

Bad input (no such file, not a result, a manifest this version cannot read, a dataset the
library lacks) is a :class:`~bot_core.errors.UsageError`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bot_core.backtest.manifest import (
    MANIFEST_FILE,
    DatasetRecord,
    RunManifest,
    build_manifest,
)
from bot_core.backtest.times import iso_utc_array
from bot_core.errors import BotCoreError, UsageError

if TYPE_CHECKING:
    from bot_core.backtest.plan import BacktestPlan
    from bot_core.backtest.results import BacktestResult
    from bot_core.plugins import PluginHost

__all__ = ["Comparison", "Recorded", "compare", "load_recorded", "rerun"]

Rows = list[dict[str, str]]
SHOWN = 8
"""Differing fields or keys named in one line, at most."""


@dataclass(slots=True)
class Recorded:
    """A recorded result: its manifest and whatever per-row view it kept."""

    source: Path
    manifest: RunManifest
    trades: Rows | None = None
    """Round trips as ``trades.csv`` or the JSON's ``trades`` hold them (every value text)."""
    fills: Rows | None = None
    """Fills as ``fills.csv`` holds them (a report folder only)."""
    equity: Rows | None = None
    """``equity.csv``'s rows (a report folder only)."""


@dataclass(slots=True)
class Comparison:
    """A re-run held against its record."""

    identical: bool
    differences: list[str] = field(default_factory=list)
    """What differs, one line per part (trades, fills, equity curve, run length)."""
    changes: list[str] = field(default_factory=list)
    """Recorded inputs that changed since (why the outcome may differ), one line each."""

    def as_dict(self) -> dict[str, Any]:
        return {"identical": self.identical, "differences": list(self.differences),
                "changes": list(self.changes)}


# -- reading a record ------------------------------------------------------------------------------

def load_recorded(path: Path) -> Recorded:
    """The result at ``path``: a JSON file or a report folder.

    :raises UsageError: naming the file and what is wrong with it.
    """
    if path.is_dir():
        record = _read_json(path / MANIFEST_FILE)
        manifest = _manifest(record, path / MANIFEST_FILE)
        return Recorded(path, manifest, _read_csv(path / "trades.csv"),
                        _read_csv(path / "fills.csv"), _read_csv(path / "equity.csv"))
    document = _read_json(path)
    if not isinstance(document, dict) or "manifest" not in document:
        raise UsageError(f"{path}: no run manifest (a result of `bot-core backtest --json` or "
                         "a --report folder holds one)")
    manifest = _manifest(document["manifest"], path)
    trades = document.get("trades")
    rows = ([{k: _cell(v) for k, v in t.items()} for t in trades if isinstance(t, dict)]
            if isinstance(trades, list) else None)
    return Recorded(path, manifest, rows)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot be read ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: "
                         f"{exc.msg})") from None


def _manifest(data: Any, path: Path) -> RunManifest:
    if isinstance(data, dict) and data.get("manifest_version") not in (None, 1):
        raise UsageError(f"{path}: manifest_version {data['manifest_version']!r} is not one "
                         "this bot-core reads (1)")
    try:
        return RunManifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(part) for part in err["loc"]) or "manifest"
        raise UsageError(f"{path}: manifest field {where}: {err['msg']}") from None


def _read_csv(path: Path) -> Rows | None:
    """The rows of a report's CSV; None when the folder has none (then digests only)."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{path}: cannot be read ({exc})") from None


def _cell(value: object) -> str:
    """A value as the CSVs write it (floats as ``repr``, which round-trips exactly)."""
    return "" if value is None else str(value)


# -- re-running --------------------------------------------------------------------------------

def replan(recorded: Recorded, host: PluginHost) -> BacktestPlan:
    """The recorded run's plan, from its manifest alone.

    :raises UsageError: a dataset given in memory or missing from the library, or a manifest
        the installed plugins can no longer set up (with the versions that changed).
    """
    from bot_core.backtest.plan import plan_backtest
    from bot_core.config.resolve import Layer
    from bot_core.data.library import get_dataset

    m, source = recorded.manifest, recorded.source
    for dataset in m.datasets:
        if dataset.sha256 is None:
            raise UsageError(f"{source}: dataset {dataset.id} was handed to the run in memory, "
                             "not read from the library: the run cannot be repeated")
        try:
            get_dataset(dataset.id)
        except BotCoreError as exc:
            raise UsageError(f"{source}: dataset {dataset.id} of the recorded run: {exc}") from None
    params = {f"{name}.{key}": value for name, values in m.parameters.items()
              for key, value in values.items()}
    try:
        return plan_backtest(host, strategies=m.strategies,
                             datasets=list(dict.fromkeys(d.id for d in m.datasets)),
                             preset=None, universe=Layer(f"manifest of {source}", m.config),
                             params=params, environ={})
    except BotCoreError as exc:
        changed = _plugin_changes(m.plugins, _installed(host), m.components)
        why = f" ({'; '.join(changed)})" if changed else ""
        raise UsageError(f"{source}: the recorded run cannot be set up again{why}: "
                         f"{_one_line(exc)}") from None


def _installed(host: PluginHost) -> dict[str, str]:
    from bot_core.backtest.manifest import plugin_versions

    return plugin_versions(host)


def _one_line(exc: BotCoreError) -> str:
    from bot_core.errors import ConfigError

    if isinstance(exc, ConfigError):
        return "; ".join(str(p) for p in exc.problems)
    return " ".join(str(exc).split())


def rerun(recorded: Recorded, host: PluginHost, *,
          progress: Callable[[int, int], None] | None = None
          ) -> tuple[Comparison, BacktestResult, RunManifest]:
    """Run the recorded backtest again and compare (see the module docstring)."""
    from bot_core.backtest.driver import run_backtest

    plan = replan(recorded, host)
    compiled = recorded.manifest.replay.requested == "compiled"
    result = run_backtest(plan, host, compiled=compiled, progress=progress)
    now = build_manifest(plan, host, result, compiled=compiled,
                         command=recorded.manifest.command)
    return compare(recorded, now, result), result, now


# -- comparing ------------------------------------------------------------------------------

def compare(recorded: Recorded, now: RunManifest, result: BacktestResult) -> Comparison:
    """``result`` (whose manifest is ``now``) against ``recorded``."""
    before, after = recorded.manifest.outcome, now.outcome
    differences = []
    if before.steps != after.steps or before.events != after.events:
        differences.append(f"run length: {before.events:,} events over {before.steps:,} "
                           f"steps recorded, {after.events:,} over {after.steps:,} now")
    if before.trades_sha256 != after.trades_sha256:
        differences.append(_rows_difference(
            "trades", "trade", recorded.trades, _trade_rows(result), before.trades,
            after.trades, before.trades_sha256, after.trades_sha256, _describe_trade))
    if before.fills_sha256 != after.fills_sha256:
        differences.append(_rows_difference(
            "fills", "fill", recorded.fills, _fill_rows(result), before.fills, after.fills,
            before.fills_sha256, after.fills_sha256, _describe_fill))
    if before.equity_sha256 != after.equity_sha256:
        differences.append(_equity_difference(recorded, now, result))
    return Comparison(not differences, differences, changes(recorded.manifest, now))


def _trade_rows(result: BacktestResult) -> Rows:
    return [{k: _cell(v) for k, v in t.as_dict().items()} for t in result.trades]


def _fill_rows(result: BacktestResult) -> Rows:
    return [{k: _cell(v) for k, v in f.as_dict().items()} for f in result.fills]


def _describe_trade(row: Mapping[str, str]) -> str:
    return (f"{row.get('strategy')} {row.get('instrument')} {row.get('side')}, entered "
            f"{row.get('entry_time')}")


def _describe_fill(row: Mapping[str, str]) -> str:
    return (f"{row.get('time')} {row.get('strategy')} {row.get('side')} "
            f"{row.get('instrument')}")


def _rows_difference(label: str, noun: str, before: Rows | None, after: Rows, n_before: int,
                     n_after: int, digest_before: str, digest_after: str,
                     describe: Callable[[Mapping[str, str]], str]) -> str:
    counts = f"{n_before:,} recorded, {n_after:,} now"
    if before is None:
        return (f"{label}: {counts}, not the same (sha256 {digest_before[:12]}... recorded, "
                f"{digest_after[:12]}... now; the record keeps no per-{noun} rows to compare)")
    for index, (old, new) in enumerate(zip(before, after, strict=False)):
        fields = [k for k in old if old[k] != new.get(k)]
        if not fields:
            continue
        first = f"{label}: {counts}; the first to differ is {noun} {index + 1}"
        if describe(old) != describe(new):  # another trade or fill altogether
            return f"{first}: recorded {describe(old)}, now {describe(new)}"
        shown = ", ".join(f"{k} {old[k] or '-'} -> {new.get(k) or '-'}" for k in fields[:SHOWN])
        more = f" (and {len(fields) - SHOWN} more)" if len(fields) > SHOWN else ""
        return f"{first} ({describe(old)}): {shown}{more}"
    if len(before) != len(after):
        longer, which = (before, "recorded") if len(before) > len(after) else (after, "now")
        extra = longer[min(len(before), len(after))]
        return (f"{label}: {counts}; the first {min(len(before), len(after)):,} agree, then "
                f"{which} has {noun} {min(len(before), len(after)) + 1} ({describe(extra)})")
    return (f"{label}: {counts}; equal to the record's resolution (times to the second) but "
            f"not bit for bit (sha256 {digest_before[:12]}... recorded, {digest_after[:12]}... "
            "now)")


def _equity_difference(recorded: Recorded, now: RunManifest, result: BacktestResult) -> str:
    before, after = recorded.manifest.outcome, now.outcome
    head = (f"equity curve: {before.steps:,} points recorded, {after.steps:,} now; final "
            f"{before.final_equity!r} recorded, {after.final_equity!r} now")
    if recorded.equity is not None:
        times = iso_utc_array(result.ts_ns).tolist()
        values = [repr(float(v)) for v in result.equity.tolist()]
        differing = [(i, row) for i, row in enumerate(recorded.equity)
                     if i >= len(values) or row.get("time") != times[i]
                     or row.get("equity") != values[i]]
        if differing:
            index, row = differing[0]
            got = (f"{times[index]} {values[index]}" if index < len(values) else "no point")
            return (f"{head}; {len(differing):,} of {len(recorded.equity):,} points differ, the "
                    f"first at point {index + 1}: recorded {row.get('time')} "
                    f"{row.get('equity')}, now {got}")
        return f"{head}; every recorded point agrees, the curve is longer now"
    checkpoints = dict(after.equity_checkpoints)
    agreed = None
    for when, value in before.equity_checkpoints:
        if checkpoints.get(when) != value:
            since = f" (equal up to {agreed})" if agreed else ""
            new = checkpoints.get(when)
            return (f"{head}; the first checkpoint to differ is {when}: recorded {value!r}, "
                    f"now {'no point' if new is None else repr(new)}{since}")
        agreed = when
    return f"{head}; the recorded checkpoints agree, points between them differ"


# -- what changed ------------------------------------------------------------------------------

def changes(before: RunManifest, after: RunManifest) -> list[str]:
    """The recorded inputs of ``before`` that differ in ``after``, one line each."""
    out = [f"{name} {before.versions.get(name, '-')} -> {after.versions.get(name, '-')}"
           for name in _changed_keys(before.versions, after.versions)]
    out += _plugin_changes(before.plugins, after.plugins, before.components)
    out += _dataset_changes(before.datasets, after.datasets)
    if before.config_hash != after.config_hash:
        out.append(f"resolved config hash {before.config_hash[:12]}... -> "
                   f"{after.config_hash[:12]}...: "
                   f"{_value_changes(before.config, after.config) or 'no value shown differs'}")
    if before.parameters != after.parameters:
        out.append(f"parameters: {_value_changes(before.parameters, after.parameters)}")
    if before.random_seeds != after.random_seeds:
        out.append(f"random seeds: {_value_changes(before.random_seeds, after.random_seeds)}")
    if before.replay.path != after.replay.path:
        out.append(f"replay path {before.replay.path} -> {after.replay.path}"
                   + (f" ({after.replay.note})" if after.replay.note else ""))
    return out


def _changed_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return [k for k in sorted({*before, *after}) if before.get(k) != after.get(k)]


def _plugin_changes(before: Mapping[str, str], after: Mapping[str, str],
                    components: Mapping[str, str]) -> list[str]:
    out = []
    for dist in _changed_keys(before, after):
        provides = [c for c, owner in components.items() if owner == dist]
        used = f" (provides {', '.join(provides)})" if provides else ""
        out.append(f"plugin {dist} {before.get(dist, 'not installed')} -> "
                   f"{after.get(dist, 'not installed')}{used}")
    return out


def _dataset_changes(before: Sequence[DatasetRecord], after: Sequence[DatasetRecord]
                     ) -> list[str]:
    now = {d.id: d for d in after}
    out = []
    for old in before:
        new = now.get(old.id)
        if new is None:
            out.append(f"dataset {old.id}: not read by the re-run")
            continue
        if old.sha256 != new.sha256:
            out.append(f"dataset {old.id}: checksum changed (sha256 {str(old.sha256)[:16]}... "
                       f"recorded, {str(new.sha256)[:16]}... now)")
        shape = [f"{k} {getattr(old, k)} -> {getattr(new, k)}" for k in ("rows", "first", "last")
                 if getattr(old, k) != getattr(new, k)]
        if shape:
            out.append(f"dataset {old.id}: {', '.join(shape)}")
    return out


def _value_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """The dotted paths whose values differ, ``path old -> new``, the first few."""
    flat_before, flat_after = _flat(before), _flat(after)
    keys = _changed_keys(flat_before, flat_after)
    shown = ", ".join(f"{k} {_shown(flat_before.get(k))} -> {_shown(flat_after.get(k))}"
                      for k in keys[:SHOWN])
    return shown + (f" (and {len(keys) - SHOWN} more)" if len(keys) > SHOWN else "")


def _shown(value: object) -> str:
    return "-" if value is None else json.dumps(value)


def _flat(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            out.update(_flat(item, path + "."))
        else:
            out[path] = item
    return out
