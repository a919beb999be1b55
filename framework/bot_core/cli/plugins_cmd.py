"""``bot-core plugins list``, ``bot-core plugins show ID`` and ``bot-core plugin new``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    plugins = sub.add_parser("plugins", help="installed plugins")
    plugins_sub = plugins.add_subparsers(dest="plugins_command", metavar="ACTION")
    plugins_sub.required = True
    listing = plugins_sub.add_parser("list", help="list installed plugins and their status")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=list_plugins)
    show = plugins_sub.add_parser(
        "show", help="one component: origin, parameters and their defaults per risk profile",
        description="Show a strategy, venue adapter, risk check, source or promotion gate (or "
        "every component of a plugin): its distribution and version, what it does, every "
        "parameter with type, range, unit, description and default under each risk profile, "
        "the data it consumes and the bar lengths it suits.")
    show.add_argument("id", help="component id (mean_reversion, paper, max_position...) or "
                      "plugin name")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=show_plugin)

    plugin = sub.add_parser("plugin", help="write a new plugin project")
    plugin_sub = plugin.add_subparsers(dest="plugin_command", metavar="ACTION")
    plugin_sub.required = True
    new = plugin_sub.add_parser(
        "new", help="a plugin project that installs, lists, tests and (a strategy) backtests",
        description="Write DIR/NAME: a plugin distribution with the bot_core entry point and "
        "the BOT_CORE_API specifier, the component (a moving-average crossover strategy, a "
        "simulated venue or a max-notional risk check) with its settings model, tests using "
        "bot_core.testing, a tox.ini and a README.")
    new.add_argument("kind", metavar="strategy|exchange|risk",
                     help="what the plugin provides")
    new.add_argument("name", help="component id and plugin name: lower case, e.g. mystrat")
    new.add_argument("--dir", type=Path, default=Path("."), metavar="D",
                     help="parent folder; the project goes to D/NAME (default: here)")
    new.set_defaults(handler=new_plugin)


def new_plugin(args: argparse.Namespace) -> int:
    import sys

    from bot_core.scaffold import new_plugin as write

    target = write(args.kind, args.name, args.dir)
    lines = [f"wrote {target}: the {args.kind} plugin {args.name}",
             f"  pip install {target}  # then: bot-core plugins list",
             f"  cd {target} && pip install '.[test]' && pytest  # or: tox"]
    if args.kind == "strategy":
        lines.append(f"  bot-core backtest --strategy {args.name} --dataset demo-btc-usdt-1m")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def show_plugin(args: argparse.Namespace) -> int:
    from bot_core.cli.output import console, print_json
    from bot_core.components import PROFILE_COLUMNS, describe
    from bot_core.plugins import load_plugins

    infos = describe(load_plugins(), args.id)
    if args.json:
        print_json({"components": [info.as_dict() for info in infos]})
        return 0
    from rich.table import Table

    out = console()
    for info in infos:
        out.print(f"[bold]{info.id}[/]: {info.kind} from {info.distribution} {info.version}")
        if info.description:
            out.print(info.description)
        out.print(f"consumes: {info.consumes}")
        out.print(f"timeframes: {info.timeframes}")
        if not info.parameters:
            out.print("parameters: none")
            continue
        strategy = info.kind == "strategy"
        table = Table(title=f"{info.id} parameters", show_lines=False)
        for col in ("parameter", "type", "range", "unit", "default"):
            table.add_column(col, overflow="fold")
        if strategy:
            for profile in PROFILE_COLUMNS:
                table.add_column(profile, overflow="fold")
        table.add_column("description", overflow="fold", ratio=3)
        for param in info.parameters:
            row = [param.name, param.type, param.range, param.unit,
                   "required" if param.required else _shown(param.default)]
            if strategy:
                row += [_profile_cell(param, profile) for profile in PROFILE_COLUMNS]
            table.add_row(*row, param.description)
        out.print(table)
    return 0


def _shown(value: object) -> str:
    from bot_core.config.validation import shown

    return "none" if value is None else shown(value)


def _profile_cell(param: object, profile: str) -> str:
    """The value under ``profile``, then the profile's values for other bar lengths."""
    from bot_core.components import Parameter

    assert isinstance(param, Parameter)
    text = _shown(param.under(profile))
    extra = [f"{tf}: {_shown(values[profile])}" for tf, values in param.timeframes.items()
             if profile in values]
    return text + (f" ({', '.join(extra)})" if extra else "")


def list_plugins(args: argparse.Namespace) -> int:
    from bot_core.cli.output import console, print_json
    from bot_core.plugins import PLUGIN_API_VERSION, load_plugins

    host = load_plugins()
    if args.json:
        print_json({"api_version": PLUGIN_API_VERSION,
                    "plugins": [r.as_dict() for r in host.records],
                    "conflicts": host.conflicts})
    else:
        from rich.table import Table

        table = Table(title=f"bot-core plugins (API {PLUGIN_API_VERSION})")
        for col in ("name", "distribution", "version", "kind", "components", "status"):
            table.add_column(col, overflow="fold")  # wrap rather than cut: users copy names
        styles = {"enabled": "green", "blocked": "yellow", "broken": "red"}
        for rec in host.records:
            ids = ", ".join(i for ids in rec.components.values() for i in sorted(ids))
            status = f"[{styles[rec.status]}]{rec.status}[/]"
            if rec.reason:
                status += f": {rec.reason}"
            table.add_row(rec.name, rec.distribution, rec.version, ", ".join(rec.kinds), ids,
                          status)
        out = console()
        if host.records:
            out.print(table)
        else:
            out.print("no plugins installed (entry-point group 'bot_core')")
        for conflict in host.conflicts:
            console(stderr=True).print(f"[red]error:[/] {conflict}")
    return 1 if host.conflicts else 0
