"""``bot-core loadtest scheduler``: many strategy instances on a synthetic feed at maximum speed
(see :mod:`bot_core.runtime.loadtest`)."""

from __future__ import annotations

import argparse
import math
from typing import Any

from bot_core.errors import UsageError

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("loadtest", help="load tests of the runtime",
                       description="Load tests of the runtime.")
    kinds = p.add_subparsers(dest="loadtest", metavar="TARGET", required=True)
    s = kinds.add_parser(
        "scheduler", help="many strategies on a synthetic feed at maximum speed",
        description="Run N mean_reversion instances spread over M synthetic 1-minute markets "
        "through the scheduler, pipeline, risk engine and paper venue as fast as they go; print "
        "events/s, bar-to-decision latency (p50, p99, max), skipped bars and peak RSS.")
    s.add_argument("--strategies", type=int, default=100, metavar="N",
                   help="strategy instances (default 100)")
    s.add_argument("--instruments", type=int, default=10, metavar="M",
                   help="synthetic instruments (default 10)")
    s.add_argument("--duration", type=float, default=10.0, metavar="S",
                   help="wall seconds to measure, after a 5-cycle warm-up (default 10)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(handler=loadtest)


def loadtest(args: argparse.Namespace) -> int:
    from bot_core.cli import settle_heap
    from bot_core.plugins import load_plugins
    from bot_core.runtime.loadtest import run_loadtest

    if not 1 <= args.strategies <= 100_000:
        raise UsageError(f"--strategies {args.strategies}: between 1 and 100000")
    if not 1 <= args.instruments <= 10_000:
        raise UsageError(f"--instruments {args.instruments}: between 1 and 10000")
    if not (math.isfinite(args.duration) and 0 < args.duration <= 86_400):
        raise UsageError(f"--duration {args.duration:g}: seconds, more than 0 and at most 86400")
    host = load_plugins()
    host.check()
    if "mean_reversion" not in host.strategies:
        raise UsageError("loadtest scheduler runs the mean_reversion strategy, which is not "
                         "installed (bot-core-mean-reversion)")
    settle_heap()
    report = run_loadtest(host, strategies=args.strategies, instruments=args.instruments,
                          duration_s=args.duration)
    if args.json:
        from bot_core.cli.output import print_json

        print_json(report.as_dict())
        return 0
    from rich.table import Table

    from bot_core.cli.output import console

    table = Table(title=f"loadtest scheduler: {report.strategies} strategies on "
                        f"{report.instruments} instruments, max speed", show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    for key, value in (
        ("cycles", f"{report.cycles:,}"),
        ("events/s", f"{report.events_per_s:,.0f}"),
        ("decisions/s", f"{report.decisions_per_s:,.0f}"),
        ("orders", f"{report.orders:,}"),
        ("bar-to-decision p50", f"{report.latency_p50_ms:.3f} ms"),
        ("bar-to-decision p99", f"{report.latency_p99_ms:.3f} ms"),
        ("bar-to-decision max", f"{report.latency_max_ms:.3f} ms"),
        ("skipped bars", f"{report.skipped_bars:,}"),
        ("peak RSS", f"{report.peak_rss_mb:,.0f} MiB"),
        ("elapsed", f"{report.elapsed_s:.1f} s"),
    ):
        table.add_row(key, value)
    console().print(table)
    return 0
