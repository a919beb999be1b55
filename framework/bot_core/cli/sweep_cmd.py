"""``bot-core sweep``: a parameter grid (and walk-forward) of backtests, locally or on Dask."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot_core.cli.backtest_cmd import comma_list
from bot_core.errors import UsageError

if TYPE_CHECKING:
    from bot_core.sweep.runner import SweepOutcome, SweepPlan

__all__ = ["add_parser"]

_SHOWN_FAILURES = 5


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "sweep", help="run a parameter grid of backtests (and walk-forward), locally or on Dask",
        description="Run one backtest per combination of --grid values (each a normal "
        "`bot-core backtest`: same risk engine, same numbers) on local worker processes or a "
        "Dask cluster; rank them by --metric and write results.csv (and Parquet), a heatmap "
        "for two-parameter grids, and for --walk-forward the in- and out-of-sample metrics per "
        "window and the stitched out-of-sample equity curve. See docs/sweeps.md.")
    p.add_argument("--strategy", required=True, type=comma_list, metavar="ID[,ID...]",
                   help="strategy ids (instance names or plugin ids of the config)")
    p.add_argument("--dataset", required=True, type=comma_list, metavar="ID[,ID...]",
                   help="dataset ids (see `bot-core data list`)")
    p.add_argument("--preset", default=None,
                   help="risk-profile preset to run under (default: balanced, or the config's)")
    p.add_argument("--config", type=Path, default=None, help="a config file (TOML) instead")
    p.add_argument("--grid", action="append", default=[], required=True,
                   metavar="KEY=V1,V2,...|KEY=START:STOP:STEP",
                   help="a strategy parameter and its values (repeatable; a range includes "
                   "STOP when the steps land on it; STRATEGY.KEY for one strategy)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a strategy parameter fixed for every run (repeatable)")
    p.add_argument("--fee-bps", type=float, default=None, metavar="X",
                   help="maker and taker fee of the paper venues, basis points")
    p.add_argument("--walk-forward", default=None, metavar="TRAIN:TEST[:STEP]",
                   help="optimise on each training period, test the best on the next period "
                   "(durations such as 30d:10d; STEP defaults to TEST)")
    p.add_argument("--metric", default="sharpe",
                   help="what ranks the runs and picks each window's parameters: sharpe, "
                   "sortino, total_return, cagr, max_drawdown (lowest wins), win_rate, "
                   "final_equity (default: sharpe)")
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="local worker processes (default) or a Dask cluster")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="Dask scheduler to submit to (default: BOT_CORE_DASK_SCHEDULER, else a "
                   "local cluster on 127.0.0.1)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local: worker processes (default: one per core); dask: workers of "
                   "the local cluster, or how many to wait for on --scheduler")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="where results go (default: BOT_CORE_HOME/sweeps/<time>-<strategy>)")
    p.add_argument("--resume", type=Path, default=None, metavar="DIR",
                   help="continue the sweep in DIR, skipping the runs it already finished")
    p.add_argument("--yes", action="store_true",
                   help="allow a sweep of more than 100,000 runs")
    p.add_argument("--top", type=int, default=20, metavar="N",
                   help="rows of the results table (default: 20)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=sweep)


def _out_dir(args: argparse.Namespace) -> tuple[Path, bool]:
    if args.resume is not None:
        if args.out is not None and args.out.resolve() != args.resume.resolve():
            raise UsageError(f"--out {args.out} and --resume {args.resume}: a resumed sweep "
                             "writes where it started; give --resume alone")
        return args.resume, True
    if args.out is not None:
        return args.out, False
    import time

    from bot_core.home import ensure_home

    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return ensure_home("sweeps") / f"{stamp}-{'-'.join(args.strategy)}", False


def sweep(args: argparse.Namespace) -> int:
    from bot_core.backtest.plan import parse_params
    from bot_core.plugins import load_plugins
    from bot_core.sweep.runner import (
        SweepInterrupted,
        execute_sweep,
        make_executor,
        plan_sweep,
    )

    if args.config is not None and args.preset is not None:
        raise UsageError("--preset and --config: give one (a config file names its preset "
                         "with `extends`)")
    if args.top < 0:
        raise UsageError(f"--top {args.top}: must be 0 or more")
    params = parse_params(args.param)
    executor = make_executor(args.executor, scheduler=args.scheduler, workers=args.workers)
    host = load_plugins()
    host.check()
    plan = plan_sweep(
        host, strategies=args.strategy, datasets=args.dataset, grid=args.grid,
        preset=None if args.config is not None else (args.preset or "balanced"),
        config_path=args.config, params=params, fee_bps=args.fee_bps,
        walk_forward=args.walk_forward, metric=args.metric, yes=args.yes)
    out, resume = _out_dir(args)
    for warning in plan.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if args.executor == "dask":
        import logging

        logging.getLogger("distributed").setLevel(logging.ERROR)
    from bot_core.cli.backtest_cmd import progress_bar

    bar = None if args.json else progress_bar("runs")

    def note(text: str) -> None:  # above the bar while it runs
        if bar is not None:
            bar.console.print(f"warning: {text}", markup=False, highlight=False)
        else:
            sys.stderr.write(f"warning: {text}\n")

    try:
        if bar is None:
            outcome = execute_sweep(plan, executor, out=out, resume=resume, on_note=note)
        else:
            with bar:
                task = bar.add_task("sweep", total=plan.total_runs)

                def update(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                outcome = execute_sweep(plan, executor, out=out, resume=resume,
                                        progress=update, on_note=note)
    except SweepInterrupted as stop:
        sys.stderr.write(f"interrupted: {stop.finished} of {stop.total} runs finished and "
                         f"kept in {out}; `bot-core sweep ... --resume {out}` continues\n")
        return 130
    ok = len(outcome.results) - len(outcome.failed)
    if args.json:
        _print_json(plan, outcome, args.top)
    else:
        _render(plan, outcome, args.top)
    if ok == 0:
        sys.stderr.write("error: every run failed (see errors.log)\n")
        return 1
    return 0


def _ranked(plan: SweepPlan, outcome: SweepOutcome) -> Any:
    from bot_core.sweep.results import METRICS

    frame = outcome.results
    ok = frame[frame["error"].fillna("") == ""]
    if plan.windows:
        ok = ok[ok["phase"] == "test"]
    return ok.sort_values(plan.metric, ascending=not METRICS[plan.metric], kind="stable")


def _print_json(plan: SweepPlan, outcome: SweepOutcome, top: int) -> None:
    import json

    from bot_core.cli.output import print_json

    keep = ["key", *plan.grid_keys, "total_return", "cagr", "sharpe", "sortino", "max_drawdown",
            "win_rate", "n_trades", "final_equity", "rerun"]
    ranked = _ranked(plan, outcome)
    failed = outcome.failed
    payload: dict[str, Any] = {
        "out": str(outcome.paths["results_csv"].parent) if outcome.paths else None,
        "executor": outcome.executor, "metric": plan.metric, "runs": len(outcome.results),
        "failed": len(failed), "resumed": outcome.resumed, "notes": outcome.notes,
        "elapsed_s": outcome.elapsed_s,
        "top": _records(ranked[keep].head(top)),
        "failures": [{"key": k, "params": json.loads(p), "error": e} for k, p, e in
                     zip(failed["key"], failed["params"], failed["error"], strict=True)],
        "files": {k: str(v) for k, v in outcome.paths.items()},
    }
    if outcome.windows is not None:
        payload["walk_forward"] = _records(outcome.windows)
        payload["out_of_sample"] = outcome.oos_metrics
    print_json(payload)


def _records(frame: Any) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts, floats exact (``DataFrame.to_json`` rounds to 10 digits),
    a missing value as null."""
    return [{k: None if isinstance(v, float) and v != v else v for k, v in row.items()}
            for row in frame.to_dict("records")]


def _pct(value: Any) -> str:
    return "-" if value is None or value != value else f"{100 * value:.2f} %"


def _signed_pct(value: Any) -> str:
    return "-" if value is None or value != value else f"{100 * value:+.2f} %"


def _cell(metric: str, value: Any) -> str:
    if metric in ("total_return", "cagr"):
        return _signed_pct(value)
    return _pct(value) if metric in ("max_drawdown", "win_rate") else _num(value)


def _num(value: Any) -> str:
    return "-" if value is None or value != value else f"{value:.2f}"


def _render(plan: SweepPlan, outcome: SweepOutcome, top: int) -> None:
    import json

    from rich.table import Table

    from bot_core.cli.output import console
    from bot_core.config.validation import shown

    out = console()
    metric = plan.metric
    if plan.windows:
        _render_walk_forward(plan, outcome)
    else:
        ranked = _ranked(plan, outcome)
        table = Table(title=f"sweep: {len(outcome.results)} runs of "
                      f"{', '.join(plan.context.strategies)}, best {min(top, len(ranked))} by "
                      f"{metric}")
        table.add_column("#", justify="right")
        for key in plan.grid_keys:
            table.add_column(key, justify="right")
        extra = [m for m in ("total_return", "sharpe", "max_drawdown", "win_rate")
                 if m != metric]
        table.add_column(metric, justify="right", style="bold")
        for m in extra:
            table.add_column(m, justify="right")
        table.add_column("trades", justify="right")
        for rank, values in enumerate(ranked.head(top).to_dict("records"), start=1):
            params = json.loads(values["params"])
            cells = [str(rank), *(shown(params[k]) for k in plan.grid_keys)]
            cells += [_cell(m, values[m]) for m in (metric, *extra)]
            cells.append(str(values["n_trades"]))
            table.add_row(*cells)
        out.print(table)
    failed = outcome.failed
    if len(failed):
        out.print(f"{len(failed)} run(s) failed:")
        for key, error in list(zip(failed["key"], failed["error"], strict=True))[
                :_SHOWN_FAILURES]:
            out.print(f"  {key or '(defaults)'}: {error}", markup=False)
    summary = f"{outcome.executor}; {outcome.elapsed_s:.1f} s"
    if outcome.resumed:
        summary += f"; {outcome.resumed} run(s) taken from the earlier results"
    out.print(summary, markup=False)
    if outcome.paths:
        out.print("files: " + ", ".join(str(p) for p in outcome.paths.values()), markup=False)


def _when(iso: str) -> str:
    """``2024-01-11`` for a midnight, ``2024-01-11 06:00`` otherwise."""
    return iso[:10] if iso[10:19] == "T00:00:00" else iso[:16].replace("T", " ")


def _render_walk_forward(plan: SweepPlan, outcome: SweepOutcome) -> None:
    import json

    from rich.table import Table

    from bot_core.cli.output import console
    from bot_core.config.validation import shown

    assert outcome.windows is not None and plan.walk_forward is not None
    metric = plan.metric
    table = Table(title=f"walk-forward {plan.walk_forward.text}: {len(plan.windows)} windows, "
                  f"parameters chosen by {metric} in sample")
    for name in ("window", "test period", "parameters", f"{metric} in", f"{metric} out",
                 "return in", "return out"):
        table.add_column(name, justify="right" if name != "parameters" else "left")
    for values in outcome.windows.to_dict("records"):
        params = " ".join(f"{k}={shown(v)}" for k, v in json.loads(values["params"]).items()) \
            if values["params"] else values["error"]
        table.add_row(str(values["window"]), f"{_when(values['test_start'])} .. "
                      f"{_when(values['test_end'])}", params,
                      _cell(metric, values[f"in_sample_{metric}"]),
                      _cell(metric, values[f"out_of_sample_{metric}"]),
                      _signed_pct(values["in_sample_total_return"]),
                      _signed_pct(values["out_of_sample_total_return"]))
    out = console()
    out.print(table)
    if outcome.oos_metrics:
        m = outcome.oos_metrics
        out.print(f"out of sample, stitched: total return {_signed_pct(m['total_return'])}, Sharpe "
                  f"{_num(m['sharpe'])}, max drawdown {_pct(m['max_drawdown'])}", markup=False)
