"""``bot-core plugins list``."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    plugins = sub.add_parser("plugins", help="installed plugins")
    plugins_sub = plugins.add_subparsers(dest="plugins_command", metavar="ACTION")
    plugins_sub.required = True
    listing = plugins_sub.add_parser("list", help="list installed plugins and their status")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=list_plugins)


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
