"""Resolve a configuration: preset chain -> user file -> environment -> validated models.

Each layer is a TOML document; later layers override earlier ones field by field (tables merge,
everything else is replaced). The result records which layer every value came from, and every
problem is reported at once, each naming its file, field path, value and what is allowed.
"""

from __future__ import annotations

import contextlib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from bot_core.config.models import BotConfig
from bot_core.config.presets import preset_path
from bot_core.errors import ConfigError, ConfigProblem

if TYPE_CHECKING:
    from bot_core.plugins import PluginHost

__all__ = ["ENV_PREFIX", "ResolvedConfig", "load_toml", "resolve_config"]

ENV_PREFIX = "BOT_CORE_"
_MISSING = "<missing>"


@dataclass(frozen=True)
class ResolvedConfig:
    config: BotConfig
    sources: dict[str, str]
    """Dotted field path -> where its value came from (``preset:balanced``, a file, ``env:X``)."""
    strategy_settings: dict[str, BaseModel] = field(default_factory=dict)
    """Strategy instance name -> its validated plugin Settings (when plugins were given)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.model_dump(mode="json"),
            "strategy_settings": {
                name: s.model_dump(mode="json") for name, s in self.strategy_settings.items()
            },
            "sources": dict(sorted(self.sources.items())),
        }


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


def _env_layer(environ: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
    top_level = set(BotConfig.model_fields)
    layers = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX):].lower().split("__")
        if parts[0] not in top_level or (len(parts) == 1 and parts[0] in ("plugins",)):
            continue  # BOT_CORE_HOME, BOT_CORE_DISABLE_PLUGINS ... are not config fields
        raw = environ[name]
        value: Any = raw
        if raw[:1] in "[{":  # lists and tables as JSON; anything else stays a string
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(raw)
        doc: dict[str, Any] = {}
        cursor = doc
        for part in parts[:-1]:
            cursor = cursor.setdefault(part, {})
        cursor[parts[-1]] = value
        layers.append((f"env:{name}", doc))
    return layers


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
                   prefix: str = "") -> list[ConfigProblem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = prefix + ".".join(str(p) for p in err["loc"])
        value: object = _MISSING if err["type"] == "missing" else err.get("input", _MISSING)
        if isinstance(value, dict | list) and err["type"] != "missing":
            value = json.dumps(value, default=str)[:120]
        message = err["msg"]
        if err["type"] == "missing":
            message = "required field is missing"
        elif err["type"] == "extra_forbidden":
            message = "unknown field (not allowed here)"
        # a missing value is the fault of the layer that had to give it: the user's file
        source = fallback if err["type"] == "missing" else _source_of(loc, origins, fallback)
        problems.append(ConfigProblem(source, loc or "<root>", value, message))
    return problems


def resolve_config(
    path: Path | None = None,
    *,
    preset: str | None = None,
    environ: Mapping[str, str] | None = None,
    plugins: PluginHost | None = None,
) -> ResolvedConfig:
    """Resolve and validate a configuration.

    :param path: user config file (TOML); may ``extends = "<preset>"``.
    :param preset: a preset to start from when there is no file (or to validate a preset alone).
    :param environ: environment for ``BOT_CORE_<SECTION>__<FIELD>`` overrides (default: os.environ).
    :param plugins: when given, strategy params, risk checks, venues and required plugins are
        validated against the installed plugins too.
    :raises ConfigError: with one problem per invalid value.
    """
    env = os.environ if environ is None else environ
    layers: list[tuple[str, dict[str, Any]]] = []
    fallback = str(path) if path is not None else f"preset:{preset}"
    user_doc: dict[str, Any] | None = None
    if path is not None:
        user_doc = load_toml(path)
        base = user_doc.get("extends", preset)
    else:
        base = preset
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError([ConfigProblem(fallback, "extends", base, "must be a preset name")])
        layers += _preset_chain(base)
    if user_doc is not None:
        layers.append((str(path), user_doc))
    layers += _env_layer(env)

    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for source, doc in layers:
        _merge(merged, doc, origins, source)
    if base is not None:
        merged["extends"] = base

    try:
        config = BotConfig.model_validate(merged)
    except ValidationError as exc:
        problems = _problems_from(exc, origins, fallback)
        if plugins is not None:  # report bad strategy params in the same run, not the next one
            problems += _raw_param_problems(merged, plugins, origins, fallback)
        raise ConfigError(problems) from None

    problems = [ConfigProblem(_source_of(f, origins, fallback), f, v, m)
                for f, v, m in config.cross_problems()]
    settings: dict[str, BaseModel] = {}
    if plugins is not None:
        problems += _plugin_problems(config, plugins, origins, fallback, settings)
    if problems:
        raise ConfigError(problems)
    return ResolvedConfig(config, origins, settings)


def _validate_params(cls: Any, profile: object, params: Mapping[str, Any], name: str,
                     origins: Mapping[str, str], fallback: str) -> tuple[BaseModel | None,
                                                                         list[ConfigProblem]]:
    defaults = dict(cls.Settings.profile_defaults.get(profile, {})) if isinstance(profile, str) else {}
    try:
        return cls.Settings.model_validate({**defaults, **params}), []
    except ValidationError as exc:
        return None, _problems_from(exc, origins, fallback, prefix=f"strategies.{name}.params.")


def _raw_param_problems(merged: Mapping[str, Any], host: PluginHost, origins: Mapping[str, str],
                        fallback: str) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    strategies = merged.get("strategies")
    if not isinstance(strategies, Mapping):
        return problems
    for name, entry in strategies.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("params", {}), Mapping):
            continue
        cls = host.strategies.get(entry.get("plugin"))  # type: ignore[arg-type]
        if cls is not None:
            problems += _validate_params(cls, merged.get("profile"), entry.get("params", {}), name,
                                         origins, fallback)[1]
    return problems


def _plugin_problems(config: BotConfig, host: PluginHost, origins: Mapping[str, str],
                     fallback: str, settings_out: dict[str, BaseModel]) -> list[ConfigProblem]:
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
                                                    origins, fallback)
        if settings is not None:
            settings_out[name] = settings
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
            check_cls.Settings.model_validate(values)
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
            adapter.Settings.model_validate(venue.settings)
        except ValidationError as exc:
            problems += _problems_from(exc, origins, fallback, prefix=f"venues.{venue_name}.settings.")
    return problems
