"""``bot-core presets list|show``."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    presets = sub.add_parser("presets", help="risk-profile presets")
    presets_sub = presets.add_subparsers(dest="presets_command", metavar="ACTION")
    presets_sub.required = True
    listing = presets_sub.add_parser("list", help="list presets")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=list_presets)
    show = presets_sub.add_parser("show", help="show one preset's resolved values")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=show_preset)


def _summary(name: str) -> dict[str, Any]:
    from bot_core.config.presets import preset_path
    from bot_core.config.resolve import load_toml

    doc = load_toml(preset_path(name), source=f"preset:{name}")
    risk = doc.get("risk", {})
    return {"name": name, "profile": doc.get("profile", name), "extends": doc.get("extends"),
            "path": str(preset_path(name)), "limits_given": sorted(k for k in risk if k != "checks")}


def list_presets(args: argparse.Namespace) -> int:
    from bot_core.cli.output import console, print_json
    from bot_core.config.presets import preset_names

    rows = [_summary(n) for n in preset_names()]
    if args.json:
        print_json(rows)
        return 0
    from rich.table import Table

    table = Table(title="bot-core presets")
    for col in ("name", "profile", "limits", "file"):
        table.add_column(col)
    for row in rows:
        limits = f"{len(row['limits_given'])} given" if row["limits_given"] else "none: give all"
        table.add_row(row["name"], row["profile"], limits, row["path"])
    console().print(table)
    return 0


def show_preset(args: argparse.Namespace) -> int:
    from bot_core.cli.config_cmd import render_values
    from bot_core.cli.output import print_json
    from bot_core.config.presets import preset_path
    from bot_core.config.resolve import preset_view
    from bot_core.plugins import load_plugins

    preset_path(args.name)  # unknown names: a clear error listing the presets
    host = load_plugins()  # the strategies' defaults for the preset's profile
    view = preset_view(args.name, plugins=host)
    if args.json:
        print_json({"preset": args.name, **view})
        return 0
    required = view["required"]
    render_values(view, title=f"preset {args.name}" + (
        f": {len(required)} required values left to the config" if required else ""))
    return 0
