"""``bot-core demo``: the three strategies on the shipped data, under a preset, no keys needed.

The demo universe (``presets/universes/demo.toml``: instruments, venues, buckets and the three
strategies) is laid under the chosen risk profile.

It is a backtest like any other (same plan, same pipeline, same risk engine, same paper venue):
every strategy the preset enables runs on every shipped dataset it can trade, all sharing one
portfolio and one set of risk limits.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot_core.backtest.results import BacktestResult
    from bot_core.config.models import BotConfig
    from bot_core.plugins import PluginHost

__all__ = ["add_parser", "demo_datasets", "per_strategy"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo", help="run the demo strategies on the shipped data (no keys, no network)",
        description="Backtest every strategy the preset enables on the shipped demo datasets, "
        "through the same risk engine and paper venue as paper and live trading.")
    p.add_argument("--preset", default="balanced", help="risk profile (default: balanced)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--report", type=Path, default=None, metavar="DIR",
                   help="also write plots and the trades, fills and equity CSVs into DIR")
    p.set_defaults(handler=demo)


def demo_datasets(config: BotConfig, host: PluginHost, names: list[str]) -> list[str]:
    """Shipped datasets some enabled strategy trades (kind, instrument and venue match)."""
    from bot_core.data.library import catalogue

    chosen = []
    for entry in catalogue().entries:  # a broken user library does not stop the demo
        if entry.library != "shipped":
            continue
        for name in names:
            strat = config.strategies[name]
            kind = host.strategy(strat.plugin).data_kind
            venue_ok = entry.kind == "ohlcv" or entry.venue in strat.venues
            if kind == entry.kind and entry.instrument in strat.instruments and venue_ok:
                chosen.append(entry.id)
                break
    return chosen


def per_strategy(result: BacktestResult) -> list[dict[str, Any]]:
    """Round trips, fills, win rate, PnL and fees per strategy (open trades valued at the last
    price). A strategy that holds a position and rebalances it (vol_target) may close no round
    trip at all: its fills show that it trades."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for trade in result.trades:
        groups[trade.strategy].append(trade)
    fills: dict[str, int] = defaultdict(int)
    for fill in result.fills:
        fills[fill.strategy] += 1
    rows = []
    for name in result.strategies:
        trades = groups.get(name, [])
        closed = [t for t in trades if t.exit_ns is not None]
        rows.append({
            "strategy": name,
            "instruments": sorted({t.instrument for t in trades}),
            "closed_trades": len(closed),
            "open_trades": len(trades) - len(closed),
            "fills": fills[name],
            "win_rate": (sum(t.pnl > 0 for t in closed) / len(closed)) if closed else 0.0,
            "pnl": sum(t.pnl for t in trades),
            "fees": sum(t.fees for t in trades),
        })
    return rows


def demo(args: argparse.Namespace) -> int:
    from bot_core.backtest.plan import plan_backtest
    from bot_core.cli.backtest_cmd import render_result, run_manifest, run_with_progress
    from bot_core.config.resolve import resolve_config
    from bot_core.errors import UsageError
    from bot_core.plugins import load_plugins

    if args.report is not None:
        from bot_core.backtest.report import check_report_dir

        check_report_dir(args.report)
    from bot_core.backtest import ahead

    host = load_plugins()
    host.check()
    config = resolve_config(preset=args.preset, universe="demo", plugins=host).config
    names = [n for n, s in config.strategies.items() if s.enabled]
    if not names:
        raise UsageError(f"--preset {args.preset}: enables no strategy to demonstrate")
    # a cold cache: the replay kernel compiles in a helper while the data loads
    ahead.start(host.strategy(config.strategies[n].plugin).data_kind for n in names)
    datasets = demo_datasets(config, host, names)
    plan = plan_backtest(host, strategies=names, datasets=datasets, preset=args.preset,
                         universe="demo")
    result = run_with_progress(plan, host, fast=None, quiet=args.json)
    manifest = run_manifest(plan, host, result, compiled=True)
    rows = per_strategy(result)
    paths = {}
    if args.report is not None:
        from bot_core.backtest.report import write_report

        paths = write_report(result, args.report, manifest)
    if args.json:
        from bot_core.cli.output import print_json

        payload = result.as_dict()
        payload["per_strategy"] = rows
        if paths:
            payload["report"] = {k: str(v) for k, v in paths.items()}
        payload["manifest"] = manifest.model_dump(mode="json")
        print_json(payload)
        return 0
    from rich.table import Table

    from bot_core.cli.output import console

    table = Table(title=f"bot-core demo: {len(names)} strategies on the shipped data, "
                        f"preset {args.preset}")
    for col in ("strategy", "instruments", "closed trades", "open", "fills", "win rate", "PnL",
                "fees"):
        table.add_column(col, justify="left" if col in ("strategy", "instruments") else "right")
    for row in rows:
        table.add_row(row["strategy"], ", ".join(row["instruments"]) or "-",
                      str(row["closed_trades"]), str(row["open_trades"]), f"{row['fills']:,}",
                      f"{100 * row['win_rate']:.1f} %" if row["closed_trades"] else "-",
                      f"{row['pnl']:+,.2f}",
                      f"{row['fees']:,.2f}")
    console().print(table)
    render_result(result, title="portfolio (shared equity and risk limits)")
    if paths:
        console().print("report: " + ", ".join(str(p) for p in paths.values()))
    return 0
