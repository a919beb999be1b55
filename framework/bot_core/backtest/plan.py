"""From command-line choices to a runnable backtest: config, strategies, venues and feeds.

A backtest starts from a preset (or config file), keeps only the strategies asked for, narrows
each to the instruments that have data, applies ``--param`` overrides through the strategy's own
settings model and the fee / fill options through the venue's settings model. Every mistake is a
:class:`~bot_core.errors.UsageError` naming the argument and what is allowed. A config whose
``runtime.mode`` is paper or live is backtested all the same, and the plan says so.

When no layer of the config (its universe, preset or file) defines the strategies asked for,
they are bound to the datasets given (:mod:`bot_core.config.binding`) under the config's
limits, and the plan says so in one line (``BacktestPlan.binding``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from bot_core.backtest.feeds import Feed, feed_from_frame
from bot_core.config.binding import DatasetInfo, bind_to_datasets
from bot_core.config.models import BotConfig
from bot_core.config.resolve import Layer, ResolvedConfig, layered_document, resolve_config
from bot_core.config.validation import SettingsError, settings_errors, shown, validate_settings
from bot_core.errors import DataError, UsageError
from bot_core.pipeline import default_venue_settings

if TYPE_CHECKING:
    import pandas as pd

    from bot_core.plugins import PluginHost

__all__ = ["IGNORED_MODES", "BacktestPlan", "DataSpec", "param_field", "parse_params", "plan_backtest"]

IGNORED_MODES = ("paper", "live")
"""``runtime.mode`` values a backtest runs under but does not follow: it replays datasets
through the configured venues whatever the mode, and says so (``BacktestPlan.ignored``)."""


@dataclass(frozen=True, slots=True)
class DataSpec:
    """A dataset given directly (benchmarks, tests): its frame and what it is."""

    frame: pd.DataFrame
    kind: str
    instrument: str
    venue: str | None = None
    timeframe: str | None = None
    """Bar length (``1m``, ``1d``...); None: bars take it from the index's spacing."""


@dataclass(slots=True)
class BacktestPlan:
    preset: str
    resolved: ResolvedConfig
    strategies: list[str]
    """Strategy instance names that run."""
    datasets: list[str]
    feeds: list[Feed]
    ignored: dict[str, object] = field(default_factory=dict)
    """Settings of the config that a backtest does not follow (dotted path -> value): a
    ``runtime.mode`` of ``paper`` or ``live`` (a backtest always replays datasets)."""
    warnings: list[str] = field(default_factory=list)
    """Strategy parameters that work on the data but are likely not what was meant (a
    profile's window made for 1-minute bars on daily bars), one line each naming the field."""
    binding: str | None = None
    """When no config defined the strategies: one line saying what they were bound to."""


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs (values parsed as JSON when they are JSON: numbers, true, lists)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--param {item!r}: expected key=value (e.g. lookback=50)")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key] = value
    return out


def _select(config: BotConfig, wanted: Sequence[str], source: str) -> list[str]:
    names: list[str] = []
    for ident in wanted:
        if ident in config.strategies:
            matches = [ident]
        else:
            matches = [n for n, s in config.strategies.items() if s.plugin == ident]
        if not matches:
            known = ", ".join(sorted(config.strategies)) or "none"
            raise UsageError(f"--strategy {ident}: not defined in {source} (defined: {known})")
        for name in matches:
            if not config.strategies[name].enabled:
                raise UsageError(f"--strategy {ident}: disabled in {source}; choose another "
                                 f"preset or enable it in a config file")
            if name not in names:
                names.append(name)
    if not names:
        raise UsageError("--strategy: give at least one strategy id")
    return names


def _load_feeds(host: PluginHost, config: BotConfig, names: list[str],
                datasets: Sequence[str] | Mapping[str, DataSpec], source: str) -> list[Feed]:
    from bot_core.data.library import get_dataset, load_dataset

    feeds: list[Feed] = []
    ids = list(datasets)
    if not ids:
        raise UsageError("--dataset: give at least one dataset id")
    for dataset_id in ids:
        if isinstance(datasets, Mapping):
            spec = datasets[dataset_id]
            frame, kind, instrument, venue = spec.frame, spec.kind, spec.instrument, spec.venue
            timeframe = spec.timeframe
        else:
            try:
                entry = get_dataset(dataset_id)
            except DataError as exc:
                raise UsageError(f"--dataset {dataset_id}: {exc}") from None
            kind, instrument, venue = entry.kind, entry.instrument, entry.venue
            timeframe = entry.timeframe
            frame = load_dataset(dataset_id)
        users = [n for n in names
                 if host.strategy(config.strategies[n].plugin).data_kind == kind
                 and instrument in config.strategies[n].instruments]
        if venue not in config.venues:
            venues = [v for n in users for v in config.strategies[n].venues]
            venue = venues[0] if venues else venue
        users = [n for n in users if venue in config.strategies[n].venues]
        if not users or venue is None:
            trades = "; ".join(
                f"{n} trades {', '.join(config.strategies[n].instruments)} on "
                f"{', '.join(config.strategies[n].venues)}" for n in names)
            raise UsageError(
                f"--dataset {dataset_id}: {kind} data for {instrument} on {venue} is not used by "
                f"the selected strategies ({trades}, as {source} defines them): add the "
                "instrument and venue to the strategy there, or backtest with a config that "
                "does not define it (the strategy is then bound to the datasets)")
        if any((f.venue, f.instrument, f.kind) == (venue, instrument, kind) for f in feeds):
            raise UsageError(f"--dataset {dataset_id}: another dataset already feeds {kind} "
                             f"of {instrument} on {venue}")
        feeds.append(feed_from_frame(frame, dataset=dataset_id,
                                     kind=kind,  # type: ignore[arg-type]
                                     venue=venue, instrument=instrument, timeframe=timeframe))
    return feeds


def _check_against_data(host: PluginHost, config: BotConfig, names: list[str],
                        settings: Mapping[str, BaseModel], feeds: list[Feed],
                        sources: Mapping[str, str]) -> list[str]:
    """Bind each selected strategy to its feeds as the run will (``Strategy.bind_feeds``): a
    parameter that cannot work on the data (a window longer than a dataset, a bar length that
    disagrees with it) is a ConfigError before anything runs; returns the warnings."""
    from bot_core.strategy import bind_strategy_feeds

    strategies = []
    for name in names:
        strat = config.strategies[name]
        cls = host.strategy(strat.plugin)
        strategies.append(cls(settings[name],  # type: ignore[arg-type]
                              name=name, instruments=strat.instruments, venues=strat.venues))
    return bind_strategy_feeds(strategies, [f.spec() for f in feeds], sources=sources)


def param_field(key: str, name: str, plugin: str, fields: Mapping[str, Any]) -> str | None:
    """The settings field a ``--param`` (or ``--grid``) key sets on strategy instance ``name``
    of ``plugin``: ``param`` sets it on every selected strategy that has that field,
    ``NAME.param`` only on the one named (by instance name or plugin id); None when it sets none.
    """
    target, dot, param = key.rpartition(".")
    if dot and target not in (name, plugin):
        return None
    return param if param in fields else None


def _strategy_settings(host: PluginHost, config: BotConfig, resolved: ResolvedConfig,
                       names: list[str], params: Mapping[str, Any],
                       sources: dict[str, str]) -> dict[str, BaseModel]:
    """The selected strategies' settings with the ``--param`` overrides; records their source."""
    settings = dict(resolved.strategy_settings)
    used: set[str] = set()
    for name in names:
        cls = host.strategy(config.strategies[name].plugin)
        fields = cls.Settings.model_fields
        mine: dict[str, Any] = {}
        keys: dict[str, str] = {}  # param -> the key the user typed (``exit_z``, ``NAME.exit_z``)
        for key, value in params.items():
            param = param_field(key, name, config.strategies[name].plugin, fields)
            if param is not None:
                mine[param], keys[param] = value, key
                used.add(key)
        if not mine:
            continue
        base = settings[name].model_dump()
        try:
            settings[name] = validate_settings(cls.Settings, {**base, **mine})
        except ValidationError as exc:
            raise UsageError("\n".join(
                f"--param {_typed(err, keys, params)}: {name}: {err.message}"
                for err in settings_errors(exc))) from None
        sources.update({f"strategies.{name}.params.{param}": f"--param {key}"
                        for param, key in keys.items()})
    unknown = [k for k in params if k not in used]
    if unknown:
        known = sorted({f for n in names
                        for f in host.strategy(config.strategies[n].plugin).Settings.model_fields})
        raise UsageError(f"--param {unknown[0]}: no selected strategy has this parameter "
                         f"(parameters: {', '.join(known)})")
    return settings


def _typed(err: SettingsError, keys: Mapping[str, str], params: Mapping[str, Any]) -> str:
    """The ``--param`` option(s) an error is about, as the user gave them: the field's own, or
    for a rule across fields every one the user gave to this strategy."""
    fields = [err.field] if err.field in keys else list(keys) if not err.field else []
    if not fields:  # a value the user did not give (cannot happen: the base was valid)
        return f"{err.field}={shown(err.value)}"
    return " --param ".join(f"{keys[f]}={shown(params[keys[f]])}" for f in fields)


def _venue_settings(host: PluginHost, config: BotConfig, *, fee_bps: float | None,
                    fill_on_close: bool, volume_cap: bool = True) -> dict[str, Any]:
    venues: dict[str, Any] = {}
    for name, venue in config.venues.items():
        adapter = host.exchange(venue.adapter)
        values = default_venue_settings(config, adapter, venue.settings)
        fields = adapter.Settings.model_fields
        if fee_bps is not None:
            if "taker_fee_bps" not in fields:
                raise UsageError(f"--fee-bps: venue {name} ({venue.adapter}) has no fee setting")
            values["taker_fee_bps"] = values["maker_fee_bps"] = fee_bps
        if fill_on_close:
            if "fill_on_close" not in fields:
                raise UsageError(f"--fill-on-close: venue {name} ({venue.adapter}) cannot fill "
                                 f"on close")
            values["fill_on_close"] = True
        if not volume_cap:
            if "volume_cap" not in fields:
                raise UsageError(f"--no-volume-cap: venue {name} ({venue.adapter}) has no volume "
                                 f"cap setting")
            values["volume_cap"] = False
        try:
            validate_settings(adapter.Settings, values)
        except ValidationError as exc:
            raise UsageError("\n".join(
                f"venue {name}: {err.field or 'settings'}: {err.message}"
                for err in settings_errors(exc))) from None
        venues[name] = {"adapter": venue.adapter, "settings": values}
    return venues


def plan_backtest(
    host: PluginHost,
    *,
    strategies: Sequence[str],
    datasets: Sequence[str] | Mapping[str, DataSpec],
    preset: str | None = "balanced",
    universe: str | Layer | None = None,
    config_path: Path | None = None,
    params: Mapping[str, Any] | None = None,
    fee_bps: float | None = None,
    fill_on_close: bool = False,
    volume_cap: bool = True,
    environ: Mapping[str, str] | None = None,
) -> BacktestPlan:
    """Resolve the configuration and load the data of one backtest (see module docstring).

    ``universe`` is laid under the preset when the config file names none (``demo`` for
    ``bot-core demo``; a :class:`~bot_core.config.resolve.Layer` for ``bot-core rerun``, which
    gives the whole resolved config that way). ``fee_bps``, ``fill_on_close`` and
    ``volume_cap=False`` override the venues' settings of the same names (``bot-core backtest
    --fee-bps``, ``--fill-on-close``, ``--no-volume-cap``)."""
    if not strategies:
        raise UsageError("--strategy: give at least one strategy id")
    source = str(config_path) if config_path is not None else f"preset {preset}"
    resolved, binding = _resolve(host, strategies, datasets, preset=preset, universe=universe,
                                 config_path=config_path, environ=environ, source=source)
    config = resolved.config
    names = _select(config, strategies, source)
    feeds = _load_feeds(host, config, names, datasets, source)
    doc = config.model_dump(mode="json")
    for name, strat in config.strategies.items():
        entry = doc["strategies"][name]
        if name not in names:
            entry["enabled"] = False
            continue
        kind = host.strategy(strat.plugin).data_kind
        have = [i for i in strat.instruments
                if all(any(f.instrument == i and f.venue == v and f.kind == kind for f in feeds)
                       for v in strat.venues)]
        if not have:
            raise UsageError(
                f"--strategy {name}: needs {kind} data for one of {', '.join(strat.instruments)} "
                f"on {', '.join(strat.venues)}; the given datasets do not provide it")
        entry["instruments"] = have
    doc["venues"] = _venue_settings(host, config, fee_bps=fee_bps, fill_on_close=fill_on_close,
                                    volume_cap=volume_cap)
    new_config = BotConfig.model_validate(doc)
    sources = dict(resolved.sources)
    settings = _strategy_settings(host, new_config, resolved, names, params or {}, sources)
    warnings = _check_against_data(host, new_config, names, settings, feeds, sources)
    plan_resolved = ResolvedConfig(new_config, sources, settings)
    ignored: dict[str, object] = {}
    if config.runtime.mode in IGNORED_MODES:
        ignored["runtime.mode"] = config.runtime.mode
    note = None if binding is None else f"{binding}; limits of {source}"
    return BacktestPlan(preset or new_config.extends or "config", plan_resolved, names,
                        [f.dataset for f in feeds], feeds, ignored, warnings, note)


def _resolve(host: PluginHost, strategies: Sequence[str],
             datasets: Sequence[str] | Mapping[str, DataSpec], *, preset: str | None,
             universe: str | Layer | None, config_path: Path | None,
             environ: Mapping[str, str] | None, source: str) -> tuple[ResolvedConfig, str | None]:
    """The config, and the binding note when the strategies were bound to the datasets
    because no layer of the config defines them."""
    if universe is None:
        merged = layered_document(config_path, preset=preset, environ=environ)
        if merged.get("universe") is None:
            defined = _defined(merged, strategies)
            if not defined:
                binding = bind_to_datasets(host, strategies, _dataset_infos(datasets), merged)
                return resolve_config(config_path, preset=preset, universe=binding.layer,
                                      plugins=host, environ=environ), binding.note
            missing = [s for s in strategies if s not in defined]
            if missing:
                raise UsageError(f"--strategy {','.join(missing)}: not defined in {source}, "
                                 f"which defines {', '.join(defined)}: backtest them "
                                 "separately, or define them there")
    return resolve_config(config_path, preset=preset, universe=universe, plugins=host,
                          environ=environ), None


def _defined(merged: Mapping[str, Any], wanted: Sequence[str]) -> list[str]:
    """The ids of ``wanted`` that a layer defines: an instance of that name with a plugin, or
    an instance of that plugin."""
    table = merged.get("strategies")
    entries = table if isinstance(table, Mapping) else {}
    plugins = {name: entry.get("plugin") for name, entry in entries.items()
               if isinstance(entry, Mapping) and entry.get("plugin") is not None}
    return [ident for ident in wanted if ident in plugins or ident in plugins.values()]


def _dataset_infos(datasets: Sequence[str] | Mapping[str, DataSpec]) -> list[DatasetInfo]:
    if not list(datasets):
        raise UsageError("--dataset: give at least one dataset id")
    if isinstance(datasets, Mapping):
        return [DatasetInfo(i, s.kind, s.instrument, s.venue, s.timeframe)
                for i, s in datasets.items()]
    return [DatasetInfo.from_library(i) for i in datasets]
