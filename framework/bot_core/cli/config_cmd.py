"""``bot-core config validate FILE``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "render_resolved"]


def add_parser(sub: Any) -> None:
    config = sub.add_parser("config", help="configuration files")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION")
    config_sub.required = True
    validate = config_sub.add_parser(
        "validate", help="resolve a config (preset -> file -> environment) and validate it"
    )
    validate.add_argument("file", type=Path)
    validate.add_argument("--json", action="store_true", help="print JSON")
    validate.add_argument("--no-plugins", action="store_true",
                          help="skip validation against the installed plugins")
    validate.set_defaults(handler=validate_config)


def validate_config(args: argparse.Namespace) -> int:
    from bot_core.cli.output import print_json
    from bot_core.config.resolve import resolve_config
    from bot_core.errors import ConfigError
    from bot_core.plugins import load_plugins

    host = None if args.no_plugins else load_plugins()
    if host is not None:
        host.check()
    try:
        resolved = resolve_config(args.file, plugins=host)
    except ConfigError as exc:
        if args.json:
            print_json({"valid": False, "errors": [
                {"source": p.source, "field": p.field, "value": p.value, "message": p.message}
                for p in exc.problems]})
            return exc.exit_code
        raise
    render_resolved(resolved, as_json=args.json, title=str(args.file))
    return 0


def render_resolved(resolved: Any, *, as_json: bool, title: str) -> None:
    from bot_core.cli.output import console, print_json

    if as_json:
        print_json({"valid": True, **resolved.as_dict()})
        return
    from rich.table import Table

    table = Table(title=f"{title}: valid")
    table.add_column("field")
    table.add_column("value")
    table.add_column("from")
    flat: dict[str, Any] = {}
    _flatten(resolved.config.model_dump(mode="json"), "", flat)
    for name, settings in resolved.strategy_settings.items():
        _flatten(settings.model_dump(mode="json"), f"strategies.{name}.params.", flat)
    for key in sorted(flat):
        table.add_row(key, str(flat[key]), resolved.sources.get(key, "default"))
    console().print(table)


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, f"{prefix}{k}.", out)
    else:
        out[prefix.rstrip(".")] = value
