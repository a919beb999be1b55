"""``bot-core smoke``: every installed strategy through source, strategy, risk, venue and
portfolio under each shipped preset, for a few cycles (see :mod:`bot_core.runtime.smoke`); in
paper mode on the market data of a plugin's smoke venue (:mod:`bot_core.runtime.smoke_venues`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot_core.errors import UsageError

__all__ = ["PAPER_CYCLES", "add_parser"]

PAPER_CYCLES = 4
"""Fewest cycles of a paper smoke: a live bar comes in the cycle after its own, so the first
bars come in the second cycle; then one cycle for a probe order to fill and one to close."""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "smoke", help="check every strategy end to end for a few cycles under each preset",
        description="Run every installed strategy plugin for a few cycles under each shipped "
        "preset (conservative, balanced, aggressive) on the shipped data, and check each stage: "
        "source, strategy, risk, venue, portfolio. Exit 0 only if every stage of every strategy "
        "worked. The manual preset has no limits of its own: smoke a config that extends it "
        "with --config. In paper mode the presets run on the market data of a smoke venue, a "
        "local simulator an installed plugin provides (the ccxt plugin's), started for the "
        "run and stopped after it.")
    p.add_argument("--mode", default="demo", metavar="MODE",
                   help="demo (default), or paper: live market data (the presets: from the "
                   "installed smoke venue; --config files: their own source), simulated fills")
    p.add_argument("--cycles", type=int, default=None, metavar="N",
                   help="cycles to run (at least 3, the default: a probe order needs one to "
                   "fill and one to close; in paper mode at least 4, the default: the first "
                   "live bars come in the second cycle)")
    p.add_argument("--config", action="append", type=Path, default=[], metavar="FILE",
                   help="smoke these configs instead of the shipped presets (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=smoke)


def smoke(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from bot_core.cli import settle_heap
    from bot_core.plugins import load_plugins
    from bot_core.runtime.clock import SimulatedClock, WallClock
    from bot_core.runtime.smoke import run_smoke
    from bot_core.runtime.smoke_venues import SmokeOverlay, open_smoke_venue, smoke_venue

    if args.mode not in ("demo", "paper"):
        raise UsageError(f"--mode {args.mode}: smoke runs in demo or paper mode (live mode "
                         f"would send real orders)")
    least = PAPER_CYCLES if args.mode == "paper" else 3
    if args.cycles is None:
        args.cycles = least
    if args.cycles < 3:
        raise UsageError(f"--cycles {args.cycles}: at least 3 (a probe order needs one cycle "
                         f"to fill and one to close)")
    if args.cycles < least:
        raise UsageError(f"--cycles {args.cycles}: at least {least} in paper mode (the first "
                         f"live bars come in the second cycle, then a probe order needs one to "
                         f"fill and one to close)")
    host = load_plugins()
    host.check()
    venue = smoke_venue(host) if args.mode == "paper" and not args.config else None
    settle_heap()
    clock = SimulatedClock() if args.mode == "demo" else WallClock()
    overlay: SmokeOverlay | None
    with open_smoke_venue(venue) if venue else nullcontext() as overlay:
        rows = run_smoke(host, clock=clock, cycles=args.cycles, mode=args.mode,
                         configs=tuple(args.config), overlay=overlay)
    failed = [r for r in rows if r.status == "FAIL"]
    if args.json:
        from bot_core.cli.output import print_json

        shown = None if venue is None or overlay is None else \
            {"id": venue.id, "description": overlay.description, "url": overlay.url}
        print_json({"ok": not failed, "cycles": args.cycles, "mode": args.mode,
                    "smoke_venue": shown, "rows": [r.as_dict() for r in rows]})
    else:
        from rich.table import Table

        from bot_core.cli.output import console

        table = Table(title=f"bot-core smoke: {args.cycles} cycles, {args.mode} mode")
        for col in ("preset", "strategy", "stage", "status", "detail"):
            table.add_column(col)
        for r in rows:
            status = {"ok": "[green]ok[/green]", "FAIL": "[red]FAIL[/red]"}.get(r.status, r.status)
            table.add_row(r.preset, r.strategy, r.stage, status, r.detail)
        out = console()
        if overlay is not None:
            out.print(f"market data: {overlay.description} (stopped)")
        out.print(table)
        out.print(f"{len(failed)} of {len(rows)} stages failed" if failed else
                  f"every stage of every strategy worked ({len(rows)} rows)")
    return 1 if failed else 0
