"""``bot-core config init``: a commented, valid config for the user's own datasets.

The universe is the one ``bot-core backtest`` would bind the strategies to
(:mod:`bot_core.config.binding`), written out as tables the user edits; every value the preset
gives (risk limits, the strategies' defaults for the profile and bar length) and every venue
setting is listed commented out, with its description, so that changing one is uncommenting a
line. The text is resolved before it is returned: what this module writes always validates.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from bot_core.config.binding import DatasetInfo, bind_to_datasets
from bot_core.config.models import RiskLimits
from bot_core.config.resolve import preset_view, resolve_config
from bot_core.config.validation import validate_settings, with_profile_defaults
from bot_core.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from bot_core.plugins import PluginHost

__all__ = ["config_template"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
MANUAL_STAND_IN = "conservative"
"""Preset whose limits a config extending ``manual`` (which gives none) is written with."""


def config_template(host: PluginHost, *, preset: str, datasets: Sequence[DatasetInfo],
                    strategies: Sequence[str], command: str) -> str:
    """The config text for ``datasets`` traded by ``strategies`` (plugin ids; default: every
    installed strategy that reads the datasets' kind of data) under ``preset``.

    :param command: the command line that asked for it, quoted in the header.
    :raises UsageError: no dataset, or strategies that cannot be bound to the datasets (as
        ``bot-core backtest`` would refuse them).
    """
    if not datasets:
        raise UsageError("--dataset: give the datasets the config trades (bot-core data list; "
                         "bot-core data import adds your own)")
    kinds = {d.kind for d in datasets}
    chosen = list(strategies) or [i for i, cls in sorted(host.strategies.items())
                                  if cls.data_kind in kinds]
    if not chosen:
        raise UsageError(f"--strategy: no installed strategy reads {' or '.join(sorted(kinds))} "
                         "data (bot-core plugins list)")
    universe = bind_to_datasets(host, chosen, datasets, {}).layer.doc
    view = preset_view(preset, plugins=host)
    profile = view["config"]["profile"]
    lines = _header(command, preset, datasets, chosen)
    lines += _top(preset, datasets, universe, view)
    lines += _venues(host, universe)
    lines += _buckets(universe)
    for name, entry in universe["strategies"].items():
        lines += _strategy(host, name, entry, profile)
    lines += _risk(preset, view, host)
    text = "\n".join(lines) + "\n"
    _check(text, host)
    return text


def _header(command: str, preset: str, datasets: Sequence[DatasetInfo],
            strategies: Sequence[str]) -> list[str]:
    ids = ",".join(d.id for d in datasets)
    return [
        f"# bot-core config for {', '.join(d.describe() for d in datasets)},",
        f"# written by `{command}`.",
        "#",
        "# Check it:     bot-core config validate THIS_FILE",
        f"# Backtest it:  bot-core backtest --config THIS_FILE --strategy {','.join(strategies)} "
        f"--dataset {ids}",
        "#",
        "# Layers, lowest first: this file's universe (instruments, venues, buckets, strategies),",
        f"# the {preset} preset (risk limits and the strategies' defaults for its profile), this",
        "# file's own values, then BOT_CORE_* environment variables. Lines commented out below",
        "# show what the preset and the plugins give: uncomment one to change it.",
        "# `bot-core presets show " + preset + "` and `bot-core plugins show ID` list them all.",
        "",
    ]


def _top(preset: str, datasets: Sequence[DatasetInfo], universe: Mapping[str, Any],
         view: Mapping[str, Any]) -> list[str]:
    runtime = view["config"]["runtime"]
    currency = universe["runtime"]["base_currency"]
    return [
        f"extends = {_value(preset)}  # the risk profile: conservative, balanced, aggressive or "
        "manual",
        f"name = {_value((datasets[0].id + '-bot')[:64])}  # the bot's name: letters, digits, "
        "'.', '_', '-'",
        "",
        "# What the bot trades: BASE/QUOTE, every one quoted in runtime.base_currency.",
        f"instruments = {_value(universe['instruments'])}",
        "",
        "[runtime]",
        f"base_currency = {_value(currency)}  # the one currency the portfolio accounts in",
        f"initial_equity = {_value(runtime['initial_equity'])}  # starting equity, {currency}",
        f"# timezone = {_value(runtime['timezone'])}  # IANA timezone of the trading day "
        "(the daily loss limit resets at its start)",
        f"# trading_day_start = {_value(dt.time.fromisoformat(runtime['trading_day_start']))}",
        "",
    ]


def _venues(host: PluginHost, universe: Mapping[str, Any]) -> list[str]:
    lines = ["# Venues: a simulated (paper) venue fills orders on the datasets' bars "
             "(docs/paper-venue.md)."]
    for name, venue in universe["venues"].items():
        adapter = host.exchange(venue["adapter"])
        lines += [f"[venues.{_key(name)}]", f"adapter = {_value(venue['adapter'])}",
                  f"# [venues.{_key(name)}.settings]  # uncomment with the settings you change; "
                  "the adapter's defaults:"]
        for field, info in adapter.Settings.model_fields.items():
            if field == "initial_balances" or info.is_required():
                continue  # the account's balance is runtime.initial_equity
            default = info.get_default(call_default_factory=True)
            lines.append(f"# {field} = {_value(default)}{_describe(info.description)}")
        lines.append("")
    return lines


def _buckets(universe: Mapping[str, Any]) -> list[str]:
    lines = ["# Buckets cap the gross exposure of a group of instruments; the default cap is",
             "# risk.max_bucket_exposure_pct."]
    for name, bucket in universe["buckets"].items():
        lines += [f"[buckets.{_key(name)}]", f"instruments = {_value(bucket['instruments'])}",
                  "# max_exposure_pct = 30.0  # this bucket's own cap, % of equity", ""]
    return lines


def _strategy(host: PluginHost, name: str, entry: Mapping[str, Any], profile: str) -> list[str]:
    cls = host.strategy(entry["plugin"])
    timeframe = entry.get("timeframe")
    lines = [f"[strategies.{_key(name)}]", f"plugin = {_value(entry['plugin'])}",
             f"instruments = {_value(entry['instruments'])}",
             f"venues = {_value(entry['venues'])}"]
    if timeframe is not None:
        lines.append(f"timeframe = {_value(timeframe)}  # the bar length: the profile's "
                     "defaults for it apply")
    lines += ["# enabled = true", "# priority = 50  # under a resource-limit breach the lowest "
              "priority is paused first", f"[strategies.{_key(name)}.params]"]
    bars = f" on {timeframe} bars" if timeframe else ""
    lines.append(f"# The {profile} profile's values{bars} (`bot-core plugins show {cls.id}`):")
    settings = validate_settings(cls.Settings,
                                 with_profile_defaults(cls.Settings, profile, {}, timeframe))
    lines += _commented_fields(settings)
    lines.append("")
    return lines


def _risk(preset: str, view: Mapping[str, Any], host: PluginHost) -> list[str]:
    required = set(view["required"])
    if required:
        stand_in = preset_view(MANUAL_STAND_IN, plugins=host)["config"]["risk"]
        lines = [f"# The {preset} preset gives no risk limits: these are the "
                 f"{MANUAL_STAND_IN} profile's. Choose your own.", "[risk]"]
        for field, info in RiskLimits.model_fields.items():
            if f"risk.{field}" in required:
                lines.append(f"{field} = {_value(stand_in[field])}{_describe(info.description)}")
        return lines
    risk = view["config"]["risk"]
    lines = [f"# The {preset} preset's risk limits: uncomment [risk] and a line to change one.",
             "# [risk]"]
    for field, info in RiskLimits.model_fields.items():
        if field != "check_settings":
            lines.append(f"# {field} = {_value(risk[field])}{_describe(info.description)}")
    return lines


def _commented_fields(settings: BaseModel) -> list[str]:
    fields = type(settings).model_fields
    return [f"# {field} = {_value(getattr(settings, field))}"
            f"{_describe(fields[field].description)}" for field in fields]


def _check(text: str, host: PluginHost) -> None:
    """Resolve the text as a file would be: a template that does not validate is a bug."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bot.toml"
        path.write_text(text, encoding="utf-8")
        try:
            resolve_config(path, plugins=host, environ={})
        except ConfigError as exc:
            raise RuntimeError(f"config init made a config that does not validate: {exc}") \
                from exc


def _describe(description: str | None) -> str:
    return f"  # {' '.join(description.split())}" if description else ""


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def _value(value: Any) -> str:
    """``value`` as TOML (None as "none", which unsets an optional field)."""
    if value is None:
        return '"none"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(str(value))
