"""``bot-core config validate FILE`` and ``bot-core config init``."""

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
    init = config_sub.add_parser(
        "init", help="write a commented, valid config for your own datasets",
        description="Print (or write with -o) a config that trades the given datasets with the "
        "given strategies under a risk preset: the universe bot-core backtest would bind them "
        "to, as tables to edit, and every value the preset and the plugins give, commented out "
        "with its description.")
    init.add_argument("--preset", default="balanced",
                      help="risk profile the config extends (default: balanced)")
    init.add_argument("--dataset", action="extend", type=_ids, default=[], metavar="ID[,ID...]",
                      help="datasets it trades (repeatable; see bot-core data list)")
    init.add_argument("--strategy", action="extend", type=_ids, default=[],
                      metavar="ID[,ID...]", help="strategy plugin ids (repeatable; default: "
                      "every installed strategy that reads the datasets)")
    init.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                      help="write FILE (which must not exist) instead of printing")
    init.set_defaults(handler=init_config)


def _ids(text: str) -> list[str]:
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected one or more ids separated by commas")
    return items


def init_config(args: argparse.Namespace) -> int:
    import shlex
    import sys

    from bot_core.config.binding import DatasetInfo
    from bot_core.config.presets import preset_path
    from bot_core.config.template import config_template
    from bot_core.errors import UsageError
    from bot_core.plugins import load_plugins

    if args.output is not None and (args.output.exists() or args.output.is_symlink()):
        raise UsageError(f"-o {args.output}: already exists; choose another file name")
    preset_path(args.preset)  # an unknown preset: one line listing the presets
    infos = [DatasetInfo.from_library(i) for i in dict.fromkeys(args.dataset)]
    host = load_plugins()
    host.check()
    command = "bot-core config init " + shlex.join(sys.argv[3:] if sys.argv[1:3] == [
        "config", "init"] else _given(args))
    text = config_template(host, preset=args.preset, datasets=infos,
                           strategies=list(dict.fromkeys(args.strategy)), command=command)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        with args.output.open("x", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise UsageError(f"-o {args.output}: cannot write: {exc.strerror}") from None
    sys.stderr.write(f"wrote {args.output}: check it with `bot-core config validate "
                     f"{args.output}`\n")
    return 0


def _given(args: argparse.Namespace) -> list[str]:
    """The options as typed, for the header (when not run as ``bot-core config init``)."""
    out = ["--preset", args.preset]
    for ident in args.dataset:
        out += ["--dataset", ident]
    for ident in args.strategy:
        out += ["--strategy", ident]
    return out


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
