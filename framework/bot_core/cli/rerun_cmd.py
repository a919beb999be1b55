"""``bot-core rerun RESULT.json|DIR``: run a recorded backtest again and say if it is the same.

Exit 0 when the trades, fills and equity curve are identical bit for bit, 1 when they differ
(each difference and every recorded input that changed since, one line each), 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "rerun", help="re-run a recorded backtest and compare it bit for bit",
        description="Re-run the backtest a result records (the JSON of `bot-core backtest "
        "--json` or a --report folder) from its run manifest: the same resolved config, "
        "parameters, datasets and replay. Exit 0 when the trades, fills and equity curve are "
        "identical bit for bit, 1 when they differ (saying what, and which recorded inputs "
        "changed since: a dataset's checksum, a plugin's version, ...), 2 on bad input.")
    p.add_argument("result", type=Path, metavar="RESULT.json|DIR",
                   help="a backtest's JSON result or report folder")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=rerun)


def rerun(args: argparse.Namespace) -> int:
    from bot_core.backtest.rerun import load_recorded
    from bot_core.backtest.rerun import rerun as run_again
    from bot_core.cli.backtest_cmd import PROGRESS_MIN_STEPS
    from bot_core.cli.progress import progress_updates
    from bot_core.plugins import load_plugins

    recorded = load_recorded(args.result)
    host = load_plugins()
    host.check()
    steps = recorded.manifest.outcome.events
    with progress_updates("rerun", quiet=args.json or steps < PROGRESS_MIN_STEPS) as progress:
        comparison, _, now = run_again(recorded, host, progress=progress)
    manifest = recorded.manifest
    if args.json:
        from bot_core.cli.output import print_json

        print_json({"result": str(args.result), **comparison.as_dict(),
                    "recorded": {"created": manifest.created, "config_hash": manifest.config_hash,
                                 "outcome": manifest.outcome.model_dump(mode="json")},
                    "rerun": {"config_hash": now.config_hash, "path": now.replay.path,
                              "outcome": now.outcome.model_dump(mode="json")}})
        return 0 if comparison.identical else 1
    out = sys.stdout
    out.write(f"rerun of {args.result}: {', '.join(manifest.strategies)} on "
              f"{', '.join(d.id for d in manifest.datasets)} ({manifest.preset}), recorded "
              f"{manifest.created}\n")
    outcome = now.outcome
    if comparison.identical:
        out.write(f"identical: {_count(outcome.trades, 'trade')}, "
                  f"{_count(outcome.fills, 'fill')} and {_count(outcome.steps, 'equity point')}, "
                  f"bit for bit (path {now.replay.path})\n")
        for change in comparison.changes:
            out.write(f"changed since, without effect: {change}\n")
        return 0
    out.write("differs:\n")
    for line in comparison.differences:
        out.write(f"  {line}\n")
    if comparison.changes:
        out.write("changed since the recorded run (why it may differ):\n")
        for line in comparison.changes:
            out.write(f"  {line}\n")
    else:
        out.write("no recorded input changed (datasets, versions, config, parameters): the "
                  "difference comes from something the manifest does not record\n")
    return 1


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
