"""Resolve a configuration: universe -> preset chain -> user file -> environment -> models.

Each layer is a TOML document; later layers override earlier ones field by field (tables merge,
everything else is replaced). The result records which layer every value came from, and every
problem is reported at once, each naming its file, field path, value and what is allowed.

The universe (what the bot trades: instruments, venues, buckets, strategy bindings) and the
preset (the risk profile: limits and per-profile strategy defaults) are separate layers. A
universe is named (``universe = "demo"`` in a file, ``presets/universes/``) or built by the
caller (:class:`Layer`: the backtest binds a strategy to the datasets it is given). A preset's
``[strategies.NAME]`` table holds defaults for an instance of that name that a universe or the
file defines; it defines no strategy by itself.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from bot_core.config.env import ENV_PREFIX, env_layers
from bot_core.config.models import BotConfig
from bot_core.config.presets import preset_path, universe_path
from bot_core.config.validation import (
    profile_defaults_for,
    settings_errors,
    shown,
    validate_settings,
    with_profile_defaults,
)
from bot_core.errors import ConfigError, ConfigProblem

if TYPE_CHECKING:
    from bot_core.plugins import PluginHost

__all__ = [
    "DEFAULT_SOURCE",
    "ENV_PREFIX",
    "MIGRATION_HINT",
    "REQUIRED_SOURCE",
    "Layer",
    "ResolvedConfig",
    "complete_sources",
    "flat_values",
    "layered_document",
    "load_toml",
    "preset_view",
    "resolve_config",
]

_MISSING = "<missing>"
DEFAULT_SOURCE = "default"
"""Source of a value nothing gave: the model's own field default."""
REQUIRED_SOURCE = "required"
"""Source shown for a field a preset leaves for the config that extends it to give."""
MIGRATION_HINT = (
    "the risk presets no longer carry the demo universe (instruments, venues, buckets and "
    "strategies); add `universe = \"demo\"` to this config to keep trading it, or define "
    "your own universe (`bot-core config init --dataset ID --strategy ID` writes one)")
"""What a config written before presets and universes were separate layers is told."""


@dataclass(frozen=True)
class Layer:
    """A configuration layer built by the caller (not read from a file): its source label
    (``--dataset goog``) and its document."""

    source: str
    doc: Mapping[str, Any]


@dataclass(frozen=True)
class ResolvedConfig:
    config: BotConfig
    sources: dict[str, str]
    """Dotted field path -> where its value came from (``preset:balanced``, a file, ``env:X``,
    ``--param``); a strategy parameter from the strategy's defaults for the profile has
    ``preset:<profile>``. A path not listed has the model's own default."""
    strategy_settings: dict[str, BaseModel] = field(default_factory=dict)
    """Strategy instance name -> its validated plugin Settings (when plugins were given)."""

    def as_dict(self) -> dict[str, Any]:
        config = self.config.model_dump(mode="json")
        settings = {name: s.model_dump(mode="json") for name, s in self.strategy_settings.items()}
        return {"config": config, "strategy_settings": settings,
                "sources": complete_sources(config, settings, self.sources)}


def flat_values(config: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted path -> value of every leaf of a dumped config, strategy params from ``settings``."""
    flat: dict[str, Any] = {}
    _flatten(config, "", flat)
    for name, values in settings.items():
        prefix = f"strategies.{name}.params"
        for key in [k for k in flat if k == prefix or k.startswith(prefix + ".")]:
            del flat[key]  # the raw table: the validated settings below stand for it
        _flatten(values, prefix + ".", flat)
    return flat


def complete_sources(config: Mapping[str, Any], settings: Mapping[str, Any],
                     sources: Mapping[str, str]) -> dict[str, str]:
    """The source of every value: those recorded, ``default`` for the rest."""
    out = dict.fromkeys(flat_values(config, settings), DEFAULT_SOURCE)
    out.update(sources)
    return dict(sorted(out.items()))


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, f"{prefix}{k}.", out)
    else:
        out[prefix.rstrip(".")] = value


def load_toml(path: Path, source: str | None = None) -> dict[str, Any]:
    """Read a TOML file; a clear :class:`ConfigError` for missing files and syntax errors."""
    label = source or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"file not found: {path}", source=label) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", source=label) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", source=label) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", source=label) from None


def _merge(base: dict[str, Any], top: Mapping[str, Any], origins: dict[str, str], source: str,
           prefix: str = "") -> None:
    for key, value in top.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value, origins, source, path + ".")
        else:
            base[key] = _copy(value)
            for stale in [p for p in origins if p.startswith(path + ".")]:
                del origins[stale]
            _record(value, path, origins, source)


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _record(value: Any, path: str, origins: dict[str, str], source: str) -> None:
    if isinstance(value, Mapping) and value:
        for k, v in value.items():
            _record(v, f"{path}.{k}", origins, source)
    else:
        origins[path] = source


def _preset_chain(name: str, seen: tuple[str, ...] = ()) -> list[tuple[str, dict[str, Any]]]:
    if name in seen:
        raise ConfigError(f"presets extend each other in a cycle: {' -> '.join((*seen, name))}",
                          source=f"preset:{name}")
    doc = load_toml(preset_path(name), source=f"preset:{name}")
    parent = doc.get("extends")
    chain = _preset_chain(parent, (*seen, name)) if isinstance(parent, str) else []
    return [*chain, (f"preset:{name}", doc)]


def _source_of(path: str, origins: Mapping[str, str], fallback: str) -> str:
    probe = path
    while probe:
        if probe in origins:
            return origins[probe]
        # a value's source is its own, or that of the nearest enclosing table
        nested = [src for p, src in origins.items() if p.startswith(probe + ".")]
        if nested:
            return nested[-1]
        probe = probe.rpartition(".")[0]
    return fallback


def _problems_from(exc: ValidationError, origins: Mapping[str, str], fallback: str,
                   prefix: str = "", given: Mapping[str, Any] | None = None) -> list[ConfigProblem]:
    """One problem per error; ``given`` (the values the layers gave) stands for the value of a
    rule across fields."""
    problems = []
    for err in settings_errors(exc):
        loc = (prefix + err.field) if err.field else prefix.rstrip(".")
        value = err.value
        if not err.field and given:
            value = ", ".join(f"{k}={shown(v)}" for k, v in given.items())
        # a missing value is the fault of the layer that had to give it: the user's file
        source = fallback if err.kind == "missing" else _source_of(loc, origins, fallback)
        problems.append(ConfigProblem(source, loc or "<root>", value, err.message))
    return problems


def resolve_config(
    path: Path | None = None,
    *,
    preset: str | None = None,
    universe: str | Layer | None = None,
    environ: Mapping[str, str] | None = None,
    plugins: PluginHost | None = None,
) -> ResolvedConfig:
    """Resolve and validate a configuration.

    :param path: user config file (TOML); may ``extends = "<preset>"`` and name a
        ``universe``.
    :param preset: a preset to start from when there is no file (or to validate a preset alone).
    :param universe: the universe layered under the preset when the file names none: a shipped
        universe's name (``demo``) or a :class:`Layer`.
    :param environ: environment for ``BOT_CORE_<SECTION>__<FIELD>`` overrides (default: os.environ).
    :param plugins: when given, strategy params, risk checks, venues and required plugins are
        validated against the installed plugins too.
    :raises ConfigError: with one problem per invalid value; a file that only works with the
        demo universe the presets used to carry gets one line saying how to keep it.
    """
    env = os.environ if environ is None else environ
    fallback = str(path) if path is not None else f"preset:{preset}"
    merged, origins, env_problems = _layered(path, preset, env, fallback, universe)
    try:
        config = BotConfig.model_validate(merged)
    except ValidationError as exc:
        _refuse_if_old_demo_config(path, preset, env, fallback, merged)
        problems = env_problems + _problems_from(exc, origins, fallback)
        if plugins is not None:  # report bad strategy params in the same run, not the next one
            problems += _raw_param_problems(merged, plugins, origins, fallback, {}, {})
        raise ConfigError(problems) from None

    problems = env_problems + [ConfigProblem(_source_of(f, origins, fallback), f, v, m)
                               for f, v, m in config.cross_problems()]
    if problems:
        _refuse_if_old_demo_config(path, preset, env, fallback, merged)
    settings: dict[str, BaseModel] = {}
    sources = dict(origins)
    if plugins is not None:
        problems += _plugin_problems(config, plugins, origins, fallback, settings, sources)
    if problems:
        raise ConfigError(problems)
    return ResolvedConfig(config, sources, settings)


def layered_document(path: Path | None = None, *, preset: str | None = None,
                     universe: str | Layer | None = None,
                     environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The layers merged as :func:`resolve_config` merges them, before validation: what a
    caller inspects to decide how to complete a config (which strategies it defines).

    :raises ConfigError: a file or preset that cannot be read.
    """
    env = os.environ if environ is None else environ
    fallback = str(path) if path is not None else f"preset:{preset}"
    return _layered(path, preset, env, fallback, universe)[0]


def _refuse_if_old_demo_config(path: Path | None, preset: str | None,
                               environ: Mapping[str, str], fallback: str,
                               merged: Mapping[str, Any]) -> None:
    """A file that names no universe, is invalid as it is and valid on the demo universe was
    written when the presets carried that universe: say how to keep it, in one line."""
    if path is None or merged.get("universe") is not None:
        return
    try:
        again, _, problems = _layered(path, preset, environ, fallback, "demo")
        config = BotConfig.model_validate(again)
    except (ConfigError, ValidationError):
        return
    if problems or config.cross_problems():
        return
    raise ConfigError([ConfigProblem(fallback, "universe", _MISSING, MIGRATION_HINT)])


def _layered(path: Path | None, preset: str | None, environ: Mapping[str, str], fallback: str,
             universe: str | Layer | None = None
             ) -> tuple[dict[str, Any], dict[str, str], list[ConfigProblem]]:
    """Universe, presets, file and environment merged: the document, each value's source, and
    the environment variables that name no setting."""
    layers: list[tuple[str, Mapping[str, Any]]] = []
    user_doc: dict[str, Any] | None = None
    if path is not None:
        user_doc = load_toml(path)
        base = user_doc.get("extends", preset)
        universe = user_doc.get("universe", universe)
    else:
        base = preset
    if isinstance(universe, Layer):
        layers.append((universe.source, universe.doc))
    elif universe is not None:
        if not isinstance(universe, str):
            raise ConfigError([ConfigProblem(fallback, "universe", universe,
                                             "must be a universe name, e.g. \"demo\"")])
        source = f"universe:{universe}"
        layers.append((source, load_toml(universe_path(universe), source=source)))
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError([ConfigProblem(fallback, "extends", base, "must be a preset name")])
        layers += _preset_chain(base)
    if user_doc is not None:
        layers.append((str(path), user_doc))

    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for source, doc in layers:
        _merge(merged, doc, origins, source)
    _drop_preset_only_strategies(merged, origins)
    env_docs, env_problems = env_layers(environ, merged)
    for source, doc in env_docs:
        _merge(merged, doc, origins, source)
    if base is not None:
        merged["extends"] = base
        origins.setdefault("extends", fallback)
    if isinstance(universe, str):
        merged["universe"] = universe
        origins.setdefault("universe", fallback)
    return merged, origins, env_problems


def _drop_preset_only_strategies(merged: dict[str, Any], origins: dict[str, str]) -> None:
    """A preset's ``[strategies.NAME]`` table sets defaults for an instance that another layer
    defines; an instance nothing else gave a value is no strategy and is dropped."""
    strategies = merged.get("strategies")
    if not isinstance(strategies, dict):
        return
    for name in list(strategies):
        prefix = f"strategies.{name}."
        mine = [src for p, src in origins.items() if p.startswith(prefix)]
        if mine and all(src.startswith("preset:") for src in mine):
            del strategies[name]
            for stale in [p for p in origins if p.startswith(prefix)]:
                del origins[stale]


def preset_view(name: str, *, plugins: PluginHost | None = None) -> dict[str, Any]:
    """A preset as ``presets show`` prints it: like :meth:`ResolvedConfig.as_dict`, plus
    ``required``, the fields it leaves for the config that extends it to give (``manual``'s
    limits; null in ``config``, source ``required``). ``strategy_settings`` holds, for every
    installed strategy (by plugin id), the values an instance of it gets under this profile.

    A preset that lacks nothing but required values is shown, not refused.

    :raises ConfigError: for any other problem, as :func:`resolve_config`.
    """
    fallback = f"preset:{name}"
    merged, origins, _ = _layered(None, name, {}, fallback)
    required: list[str] = []
    try:
        BotConfig.model_validate(merged)
    except ValidationError as exc:
        errors = settings_errors(exc)
        if not all(err.kind == "missing" for err in errors):
            resolve_config(preset=name, environ={}, plugins=plugins)  # raises, every problem
        required = [err.field for err in errors]
    if required:
        config = _with_required(BotConfig, merged)
        sources = {**origins, **dict.fromkeys(required, REQUIRED_SOURCE)}
    else:
        resolved = resolve_config(preset=name, environ={}, plugins=plugins)
        config, sources = resolved.config.model_dump(mode="json"), dict(resolved.sources)
    settings: dict[str, BaseModel] = {}
    if plugins is not None:
        for plugin_id, cls in sorted(plugins.strategies.items()):
            found, problems = _validate_params(cls, merged.get("profile"), {}, plugin_id,
                                               origins, fallback)
            if problems:
                raise ConfigError(problems)
            assert found is not None
            settings[plugin_id] = found
            sources.update(_profile_sources(cls, merged.get("profile"), {}, plugin_id))
    dumped = {n: s.model_dump(mode="json") for n, s in settings.items()}
    return {"config": config, "strategy_settings": dumped,
            "sources": complete_sources(config, dumped, sources), "required": required}


def _with_required(model: type[BaseModel], doc: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` validated and dumped field by field, with None for each required field it lacks
    (only called when missing fields are the model's only problems)."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        kind: Any = info.annotation
        if name not in doc:
            out[name] = None if info.is_required() else TypeAdapter(kind).dump_python(
                info.get_default(call_default_factory=True), mode="json")
        elif isinstance(kind, type) and issubclass(kind, BaseModel) and isinstance(doc[name],
                                                                                 Mapping):
            out[name] = _with_required(kind, doc[name])
        else:
            try:
                out[name] = TypeAdapter(kind).dump_python(
                    TypeAdapter(kind).validate_python(doc[name]), mode="json")
            except ValidationError:  # a table of models with a field missing deeper down
                out[name] = doc[name]
    return out


def _validate_params(cls: Any, profile: object, params: Mapping[str, Any], name: str,
                     origins: Mapping[str, str], fallback: str, timeframe: str | None = None
                     ) -> tuple[BaseModel | None, list[ConfigProblem]]:
    try:
        values = with_profile_defaults(cls.Settings, profile, params, timeframe)
        return validate_settings(cls.Settings, values), []
    except ValidationError as exc:
        return None, _problems_from(exc, origins, fallback, prefix=f"strategies.{name}.params.",
                                    given=params)


def _profile_sources(cls: Any, profile: object, params: Mapping[str, Any], name: str,
                     timeframe: str | None = None) -> dict[str, str]:
    """Sources of the parameters that come from the strategy's defaults for the profile:
    ``preset:<profile>``, or ``preset:<profile> (1d bars)`` for a value of the strategy's
    defaults for the bar length of the instance."""
    plain = profile_defaults_for(cls.Settings, profile)
    defaults = profile_defaults_for(cls.Settings, profile, timeframe)
    return {f"strategies.{name}.params.{key}":
            f"preset:{profile}" if key in plain and plain[key] == value
            else f"preset:{profile} ({timeframe} bars)"
            for key, value in defaults.items() if key not in params}


def _timeframe_of(entry: Mapping[str, Any]) -> str | None:
    """The bar length a raw strategy table is configured on (the model's default when unset)."""
    from bot_core.config.models import StrategyConfig

    value = entry.get("timeframe", StrategyConfig.model_fields["timeframe"].default)
    return value if isinstance(value, str) else None


def _raw_param_problems(merged: Mapping[str, Any], host: PluginHost, origins: Mapping[str, str],
                        fallback: str, settings_out: dict[str, BaseModel],
                        sources_out: dict[str, str]) -> list[ConfigProblem]:
    """Strategy params of a config the host's models refused (or could not finish)."""
    problems: list[ConfigProblem] = []
    strategies = merged.get("strategies")
    if not isinstance(strategies, Mapping):
        return problems
    for name, entry in strategies.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("params", {}), Mapping):
            continue
        cls = host.strategies.get(entry.get("plugin"))  # type: ignore[arg-type]
        if cls is None:
            continue
        params = entry.get("params", {})
        timeframe = _timeframe_of(entry)
        settings, param_problems = _validate_params(cls, merged.get("profile"), params, name,
                                                    origins, fallback, timeframe)
        problems += param_problems
        if settings is not None:
            settings_out[name] = settings
            sources_out.update(_profile_sources(cls, merged.get("profile"), params, name,
                                                timeframe))
    return problems


def _plugin_problems(config: BotConfig, host: PluginHost, origins: Mapping[str, str],
                     fallback: str, settings_out: dict[str, BaseModel],
                     sources_out: dict[str, str]) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []

    def installed(table: Mapping[str, object]) -> str:
        return ", ".join(sorted(table)) or "none"

    def add(field_path: str, value: object, message: str) -> None:
        problems.append(ConfigProblem(_source_of(field_path, origins, fallback), field_path,
                                      value, message))

    for text in host.require(config.plugins.require, source="plugins.require"):
        add("plugins.require", _MISSING, text.removeprefix("plugins.require: "))
    for name, strat in config.strategies.items():
        cls = host.strategies.get(strat.plugin)
        if cls is None:
            add(f"strategies.{name}.plugin", strat.plugin,
                f"no installed strategy has this id (installed: {installed(host.strategies)})")
            continue
        settings, param_problems = _validate_params(cls, config.profile, strat.params, name,
                                                    origins, fallback, strat.timeframe)
        if settings is not None:
            settings_out[name] = settings
            sources_out.update(_profile_sources(cls, config.profile, strat.params, name,
                                                strat.timeframe))
        problems += param_problems
    for index, check_id in enumerate(config.risk.checks):
        if check_id not in host.risk_checks:
            add(f"risk.checks.{index}", check_id,
                f"no installed risk check has this id (installed: {installed(host.risk_checks)})")
    for check_id, values in config.risk.check_settings.items():
        check_cls = host.risk_checks.get(check_id)
        if check_cls is None:
            add(f"risk.check_settings.{check_id}", check_id, "settings for an unknown risk check")
            continue
        try:
            validate_settings(check_cls.Settings, values)
        except ValidationError as exc:
            problems += _problems_from(exc, origins, fallback,
                                       prefix=f"risk.check_settings.{check_id}.")
    for venue_name, venue in config.venues.items():
        adapter = host.exchanges.get(venue.adapter)
        if adapter is None:
            add(f"venues.{venue_name}.adapter", venue.adapter,
                f"no installed exchange adapter has this id (installed: {installed(host.exchanges)})")
            continue
        try:
            validate_settings(adapter.Settings, venue.settings)
        except ValidationError as exc:
            problems += _problems_from(exc, origins, fallback, prefix=f"venues.{venue_name}.settings.")
    return problems
