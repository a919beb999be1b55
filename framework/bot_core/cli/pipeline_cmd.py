"""``bot-core pipeline status|promote|rollback``: the way from demo to paper to live.

Exit codes: 0 done (``status`` always, when its input is valid); 1 refused by the pipeline
(a gate failed, a rollback that would go up); 2 bad input (arguments, config, unknown mode).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot_core.config.models import BotConfig
    from bot_core.journal.observer import JournalObserver
    from bot_core.plugins import PluginHost
    from bot_core.runtime.promotion import GateResult, PipelineStatus

__all__ = ["add_parser", "resolve_bots"]


def add_parser(sub: Any) -> None:
    pipeline = sub.add_parser("pipeline", help="promotion from demo to paper to live")
    actions = pipeline.add_subparsers(dest="pipeline_command", metavar="ACTION")
    actions.required = True

    status = actions.add_parser(
        "status", help="each bot's mode, time in mode and the gates of its next promotion")
    _bot_arguments(status, repeat=True)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=show_status)

    promote = actions.add_parser("promote", help="move a bot up one mode when its gates pass")
    _bot_arguments(promote, repeat=False)
    promote.add_argument("--to", required=True, choices=("paper", "live"), help="target mode")
    promote.add_argument("--confirm", metavar="BOT", default=None,
                         help="the bot's name: required to promote to live")
    promote.add_argument("--json", action="store_true", help="print JSON")
    promote.set_defaults(handler=promote_bot)

    rollback = actions.add_parser(
        "rollback", help="move a bot down (or restart its evidence in its current mode)")
    _bot_arguments(rollback, repeat=False)
    rollback.add_argument("--to", required=True, choices=("demo", "paper", "live"),
                          help="target mode, at or below the current one")
    rollback.add_argument("--reason", default="", help="why (kept in the ledger)")
    rollback.add_argument("--json", action="store_true", help="print JSON")
    rollback.set_defaults(handler=rollback_bot)


def _bot_arguments(parser: argparse.ArgumentParser, *, repeat: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    if repeat:
        group.add_argument("--config", type=Path, action="append", metavar="FILE",
                           help="a bot's config (TOML); repeat for several bots")
    else:
        group.add_argument("--config", type=Path, metavar="FILE", help="the bot's config (TOML)")
    group.add_argument("--preset", metavar="NAME",
                       help="the preset's own bot (named after the preset, as in `bot-core run`)")


def resolve_bots(paths: list[Path] | None, preset: str | None,
                 plugins: PluginHost) -> list[BotConfig]:
    """Resolve and validate each config (or the preset); bot names must be distinct.

    :raises ConfigError: a config is invalid, or two configs name the same bot (exit 2).
    """
    from bot_core.config.resolve import resolve_config
    from bot_core.errors import ConfigError, ConfigProblem

    plugins.check()
    if not paths:
        from bot_core.runtime.session import preset_bot

        assert preset is not None  # argparse: --config or --preset
        return [preset_bot(resolve_config(preset=preset, universe="demo", plugins=plugins).config,
                           preset)]
    configs = [resolve_config(path, plugins=plugins).config for path in paths]
    seen: dict[str, Path] = {}
    problems = []
    for path, config in zip(paths, configs, strict=True):
        if config.name in seen:
            problems.append(ConfigProblem(str(path), "name", config.name,
                                          f"bot name already used by {seen[config.name]}; "
                                          "every bot needs its own name"))
        seen.setdefault(config.name, path)
    if problems:
        raise ConfigError(problems)
    return configs


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {mins}m" if hours else f"{mins}m"


def _gate_table(title: str, gates: list[GateResult]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("gate")
    table.add_column("result")
    table.add_column("evidence", overflow="fold")
    for gate in gates:
        mark = "[green]pass[/]" if gate.passed else "[red]FAIL[/]"
        table.add_row(gate.gate, mark, gate.evidence)
    return table


def _render_status(status: PipelineStatus) -> None:
    from bot_core.cli.output import console
    from bot_core.runtime.promotion import iso

    out = console()
    since = f" since {iso(status.since_ns)}" if status.since_ns is not None else ""
    out.print(f"[bold]{status.bot}[/]: {status.mode} for {_duration(status.time_in_mode_s)}"
              f"{since}; config {status.config_hash[:12]}")
    data = status.as_dict()["evidence"]
    others = [h[:12] for h in data["config_hashes"] if h != status.config_hash]
    note = f" (runs under other configs: {', '.join(others)})" if others else ""
    out.print(f"  evidence in {status.mode}: {data['runs']} runs, {data['cycles']} cycles, "
              f"{data['hours']:.1f} hours{note}")
    if status.next_mode is None:
        out.print("  live: no further promotion")
        return
    verdict = "[green]ready[/]" if status.ready else "[red]not ready[/]"
    out.print(_gate_table(f"  next: {status.next_mode}, {verdict}", status.gates))


def show_status(args: argparse.Namespace) -> int:
    from bot_core.cli.output import console, print_json
    from bot_core.plugins import load_plugins
    from bot_core.runtime.promotion import pipeline_status

    host = load_plugins()
    statuses = [pipeline_status(config, plugins=host)
                for config in resolve_bots(args.config, args.preset, host)]
    if args.json:
        print_json([s.as_dict() for s in statuses])
        return 0
    for index, status in enumerate(statuses):
        if index:
            console().print()
        _render_status(status)
    return 0


@contextmanager
def _bot_journal(bot: str, mode: str) -> Iterator[JournalObserver]:
    """The bot's decision journal of ``mode``, opened before the ledger is written.

    A change of mode is journaled in the chain of the lower of its two modes (a promotion in
    the mode it leaves, a rollback in the mode it returns to), whose key the operator already
    holds. While the bot runs (it holds that journal), or without that key, the promotion or
    rollback is refused with nothing recorded; a running bot is promoted through
    `bot-core control ADDR promote MODE`, which the bot journals itself."""
    from bot_core.journal.home import open_journal
    from bot_core.journal.observer import JournalObserver

    journal = JournalObserver(open_journal(bot, mode))
    try:
        yield journal
    finally:
        journal.close()


def promote_bot(args: argparse.Namespace) -> int:
    from bot_core.cli.output import console, print_json
    from bot_core.plugins import load_plugins
    from bot_core.runtime.promotion import decide, promote

    host = load_plugins()
    [config] = resolve_bots([args.config] if args.config else None, args.preset, host)
    decision = decide(config, args.to, plugins=host, confirm=args.confirm)
    gates = [g.as_dict() for g in decision.gates]
    if not decision.approved:  # every gate with its evidence, then the one-line refusal
        if args.json:
            print_json({"promoted": False, "bot": config.name, "to": args.to,
                        "failed": [g.gate for g in decision.failed], "gates": gates})
        else:
            console().print(_gate_table(f"{config.name}: gates for {args.to}", decision.gates))
        promote(decision)  # raises PromotionError naming the failed gates; nothing recorded
    with _bot_journal(config.name, decision.context.from_mode) as journal:
        record = promote(decision)
        journal.promotion(record.from_mode, record.to_mode, gates=record.gates,
                          approved_by=record.who)
    if args.json:
        print_json({"promoted": True, "record": record.as_dict(), "gates": gates})
        return 0
    console().print(_gate_table(f"{config.name}: gates for {args.to}", decision.gates))
    console().print(f"promoted {record.bot}: {record.from_mode} -> {record.to_mode} "
                    f"(by {record.who}, config {record.config_hash[:12]})")
    return 0


def rollback_bot(args: argparse.Namespace) -> int:
    from bot_core.cli.output import console, print_json
    from bot_core.plugins import load_plugins
    from bot_core.runtime import ledger
    from bot_core.runtime.promotion import plan_rollback

    host = load_plugins()
    [config] = resolve_bots([args.config] if args.config else None, args.preset, host)
    record = plan_rollback(config, args.to, reason=args.reason)  # checked, nothing written
    with _bot_journal(config.name, record.to_mode) as journal:
        ledger.append(record)
        journal.operator_action("rollback", record.who, detail=record.as_dict())
    if args.json:
        print_json({"rolled_back": True, "record": record.as_dict()})
        return 0
    what = ("evidence restarts" if record.from_mode == record.to_mode
            else f"{record.from_mode} -> {record.to_mode}")
    console().print(f"rolled back {record.bot}: {what} (by {record.who})")
    return 0
