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
    """Print a :class:`~bot_core.config.resolve.ResolvedConfig`: JSON, or a table of every
    value and where it came from."""
    from bot_core.cli.output import print_json

    if as_json:
        print_json({"valid": True, **resolved.as_dict()})
        return
    render_values(resolved.as_dict(), title=f"{title}: valid")


def render_values(view: dict[str, Any], *, title: str) -> None:
    """A table of ``view`` (``config``, ``strategy_settings``, ``sources``, as
    ``ResolvedConfig.as_dict()``): field, value and source, one row per value."""
    from rich.table import Table

    from bot_core.cli.output import console
    from bot_core.config.resolve import DEFAULT_SOURCE, REQUIRED_SOURCE, flat_values

    table = Table(title=title)
    table.add_column("field")
    table.add_column("value")
    table.add_column("from")
    flat = flat_values(view["config"], view["strategy_settings"])
    sources = view["sources"]
    for key in sorted(flat):
        source = sources.get(key, DEFAULT_SOURCE)
        value = "(give it in your config)" if source == REQUIRED_SOURCE else str(flat[key])
        table.add_row(key, value, source)
    console().print(table)
