"""``bot-core backtest``: replay datasets through strategies, risk and the paper venue."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot_core.backtest.summary import summary_rows
from bot_core.cli.progress import progress_bar, progress_updates
from bot_core.errors import UsageError

if TYPE_CHECKING:
    from bot_core.backtest.manifest import RunManifest
    from bot_core.backtest.results import BacktestResult

__all__ = [
    "add_parser",
    "comma_list",
    "progress_bar",
    "render_result",
    "run_manifest",
    "run_with_progress",
    "summary_rows",
]

PROGRESS_MIN_STEPS = 200_000
"""Runs with at least this many steps show a progress bar (on a terminal, without --json)."""


def comma_list(text: str) -> list[str]:
    """argparse type of ``ID[,ID...]`` options (backtest, sweep)."""
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected one or more ids separated by commas")
    return items


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "backtest", help="run an event-driven backtest on datasets",
        description="Replay datasets bar by bar through the strategies, the risk engine, order "
        "management and the paper venue (a market order decided on a bar's close fills at the "
        "next bar's open unless --fill-on-close).")
    p.add_argument("--preset", default=None,
                   help="risk-profile preset to run under (default: balanced, or the config's)")
    p.add_argument("--config", type=Path, default=None,
                   help="a config file (TOML) instead; without one (or when it defines none of "
                   "the strategies) the strategies are bound to the datasets")
    p.add_argument("--strategy", required=True, type=comma_list, metavar="ID[,ID...]",
                   help="strategy ids (instance names or plugin ids of the config)")
    p.add_argument("--dataset", required=True, type=comma_list, metavar="ID[,ID...]",
                   help="dataset ids (see `bot-core data list`)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="strategy parameter override (repeatable; STRATEGY.KEY=VALUE for one; "
                   "none, null or off unsets an optional one)")
    p.add_argument("--fee-bps", type=float, default=None, metavar="X",
                   help="maker and taker fee of the paper venues, basis points")
    p.add_argument("--fill-on-close", action="store_true",
                   help="fill market orders at the deciding bar's close (optimistic)")
    p.add_argument("--no-volume-cap", action="store_true",
                   help="fill any quantity on a bar, whatever its volume (the paper venues' "
                   "volume_cap = false): for volume that is not tradable size, such as FX tick "
                   "volume or bars without volume")
    p.add_argument("--no-fast", action="store_true",
                   help="replay every bar through the strategies' on_bar (slower; same trades)")
    p.add_argument("--no-compiled", action="store_true",
                   help="replay every event through the pipeline instead of the compiled "
                   "replay (the same as --no-fast: slower; same trades)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--report", type=Path, default=None, metavar="DIR",
                   help="write report.png (equity with buy and hold and the trades, over "
                   "drawdown), report.html, manifest.json (for `bot-core rerun`), trades.csv "
                   "(round trips), fills.csv and equity.csv into DIR")
    p.set_defaults(handler=backtest)


def run_with_progress(plan: Any, host: Any, *, fast: bool | None,
                      compiled: bool | None = None, quiet: bool = False) -> BacktestResult:
    """Run the plan, with a progress bar for a long run watched on a terminal (none when
    ``quiet``: ``--json``)."""
    from bot_core.backtest.driver import run_backtest
    from bot_core.cli import settle_heap

    settle_heap()
    steps = sum(len(f) for f in plan.feeds)
    with progress_updates("backtest", quiet=quiet or steps < PROGRESS_MIN_STEPS) as update:
        return run_backtest(plan, host, fast=fast, compiled=compiled, progress=update)


def run_manifest(plan: Any, host: Any, result: BacktestResult, *, compiled: bool) -> RunManifest:
    """The run manifest of a result of this command line (:mod:`bot_core.backtest.manifest`)."""
    from bot_core.backtest.manifest import build_manifest

    return build_manifest(plan, host, result, compiled=compiled,
                          command=["bot-core", *sys.argv[1:]])


def render_result(result: BacktestResult, title: str = "backtest") -> None:
    from rich.table import Table

    from bot_core.cli.output import console

    table = Table(title=title, show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value")
    for key, value in summary_rows(result):
        table.add_row(key, value)
    out = console()
    out.print(table)
    for change in result.state_changes:
        out.print(f"trading state {change['previous']} -> {change['current']} at "
                  f"{change['time']}: {change['cause']}")


def backtest(args: argparse.Namespace) -> int:
    from bot_core.backtest.plan import parse_params, plan_backtest
    from bot_core.plugins import load_plugins

    if args.fee_bps is not None and not (math.isfinite(args.fee_bps) and 0 <= args.fee_bps <= 1000):
        raise UsageError(f"--fee-bps {args.fee_bps:g}: must be between 0 and 1000 basis points")
    if args.config is not None and args.preset is not None:
        raise UsageError("--preset and --config: give one (a config file names its preset "
                         "with `extends`)")
    params = parse_params(args.param)
    if args.report is not None:
        from bot_core.backtest.report import check_report_dir

        check_report_dir(args.report)
    compiled = not (args.no_fast or args.no_compiled)
    host = load_plugins()
    host.check()
    if compiled:  # a cold cache: the replay kernel compiles in a helper while the data loads
        from bot_core.backtest import ahead

        ahead.start(host.strategies[name].data_kind for name in args.strategy
                    if name in host.strategies)
    plan = plan_backtest(
        host, strategies=args.strategy, datasets=args.dataset,
        preset=None if args.config is not None else (args.preset or "balanced"),
        config_path=args.config, params=params, fee_bps=args.fee_bps,
        fill_on_close=args.fill_on_close, volume_cap=not args.no_volume_cap,
    )
    if plan.binding is not None:
        sys.stderr.write(f"note: {plan.binding}\n")
    for path, value in plan.ignored.items():
        source = plan.resolved.sources.get(path, "default")
        sys.stderr.write(f"note: {path} = {value!r} ({source}) is ignored: a backtest replays "
                         "the datasets whatever the mode\n")
    for warning in plan.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    result = run_with_progress(plan, host, fast=False if args.no_fast else None,
                               compiled=None if compiled else False, quiet=args.json)
    manifest = run_manifest(plan, host, result, compiled=compiled)
    paths = {}
    if args.report is not None:
        from bot_core.backtest.report import write_report

        paths = write_report(result, args.report, manifest)
    if args.json:
        from bot_core.cli.output import print_json

        payload = result.as_dict()
        payload["ignored_settings"] = dict(plan.ignored)
        payload["binding"] = plan.binding
        if paths:
            payload["report"] = {k: str(v) for k, v in paths.items()}
        payload["manifest"] = manifest.model_dump(mode="json")
        print_json(payload)
        return 0
    render_result(result)
    if paths:
        from bot_core.cli.output import console

        console().print("report: " + ", ".join(str(p) for p in paths.values()))
    return 0
