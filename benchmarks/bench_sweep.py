"""Parameter sweeps: bot-core's sweep against vectorbt on the same 10 x 10 grid and data.

Not a test: run it by hand (or in the tox ``bench`` env, where vectorbt and dask are installed)
and copy the figures into docs/performance.md ("## Sweeps").

    python benchmarks/bench_sweep.py                    # 1M bars: vectorbt, local 1 and 2, dask 2
    python benchmarks/bench_sweep.py --bars 200000 --no-dask --no-baseline

What is compared
----------------
* **vectorbt** (1.2): ``Portfolio.from_signals`` broadcasting the 10 x 10 grid of (window,
  entry z) at once: the z-score of the log close for each window (pandas rolling mean and
  standard deviation, computed once per window), long entries at z <= -entry_z, short entries
  at z >= entry_z, exits at z back to 0, a 3 % stop loss, 10 % of equity per position, 5 bps
  fees and 1 bp slippage, signals decided on a bar's close and filled at the next bar's open.
  No risk checks, and no 480-bar holding limit (``from_signals`` has none). Timed warm: one
  untimed run on a small slice compiles its Numba functions first.
* **bot-core**: ``plan_sweep`` + ``execute_sweep`` of the same grid with the ``mean_reversion``
  plugin set to the same rule (plus the 480-bar holding limit) under the ``balanced`` profile,
  the paper venue (5 bps taker fee, 1 bp slippage, next-bar-open fills) and the profile's nine
  risk checks on every order. Every run is a full ``plan_backtest`` + ``run_backtest``, equal
  to the single backtest with its parameters. Timed from the start of ``execute_sweep`` to its
  end: worker processes started, the data sent to them once, every run, results collected
  (the on-disk Numba cache warmed by an untimed small run first). Local with 1 and 2 worker
  processes, and on a Dask ``LocalCluster`` with 2 single-threaded workers on 127.0.0.1.

The data is ``bench_backtest.synthetic_bars`` (seeded, mean-reverting minute bars).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_backtest import synthetic_bars  # this directory is on sys.path for a script

WINDOWS = [30, 60, 90, 120, 150, 180, 240, 300, 360, 480]
ENTRY_Z = [1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0, 3.25, 3.5, 4.0]
FIXED = {"exit_z": 0.0, "allow_short": True, "stop_loss_pct": 3.0, "max_holding_bars": 480,
         "equity_pct": 10.0}
FEE, SLIPPAGE, SIZE, STOP = 0.0005, 0.0001, 0.10, 0.03

CONFIG = """
extends = "balanced"
instruments = ["BTC/USDT"]

[runtime]
initial_equity = 100000.0

[venues.venue_a]
adapter = "paper"

[buckets.all]
instruments = ["BTC/USDT"]

[strategies.mean_reversion]
plugin = "mean_reversion"
instruments = ["BTC/USDT"]
venues = ["venue_a"]
"""


# -- vectorbt ---------------------------------------------------------------------------------


def run_vectorbt(frame: Any) -> tuple[float, Any]:
    import pandas as pd
    import vectorbt as vbt

    started = time.perf_counter()
    log_close = np.log(frame["close"])
    columns = pd.MultiIndex.from_product([WINDOWS, ENTRY_Z], names=["window", "entry_z"])
    z = np.empty((len(frame), len(columns)))
    for i, window in enumerate(WINDOWS):  # the indicator once per window
        mean = log_close.rolling(window).mean()
        std = log_close.rolling(window).std()
        z[:, i * len(ENTRY_Z):(i + 1) * len(ENTRY_Z)] = ((log_close - mean) / std).to_numpy()[
            :, None]
    entry = np.array([e for _ in WINDOWS for e in ENTRY_Z])[None, :]
    with np.errstate(invalid="ignore"):
        long_entries, short_entries = z <= -entry, z >= entry
        long_exits, short_exits = z >= 0.0, z <= 0.0

    def next_bar(signal: np.ndarray) -> pd.DataFrame:  # decided on a close, filled at next open
        shifted = np.zeros_like(signal)
        shifted[1:] = signal[:-1]
        return pd.DataFrame(shifted, index=frame.index, columns=columns)

    portfolio = vbt.Portfolio.from_signals(  # close and open broadcast against the 100 columns
        frame["close"], next_bar(long_entries), next_bar(long_exits), next_bar(short_entries),
        next_bar(short_exits), price=frame["open"], size=SIZE,
        size_type="percent", upon_opposite_entry="close", fees=FEE, slippage=SLIPPAGE,
        sl_stop=STOP, init_cash=100_000.0,
        freq="1min")
    returns = portfolio.total_return()
    return time.perf_counter() - started, returns


# -- bot-core ---------------------------------------------------------------------------------


def run_bot_core(frame: Any, config: Path, *, executor: str, workers: int,
                 grid: tuple[list[int], list[float]] = (WINDOWS, ENTRY_Z)
                 ) -> tuple[float, float, Any]:
    import bot_core
    from bot_core.backtest.plan import DataSpec
    from bot_core.sweep import execute_sweep, make_executor, plan_sweep

    host = bot_core.load_plugins()
    started = time.perf_counter()
    plan = plan_sweep(host, strategies=["mean_reversion"],
                      datasets={"bench-btc": DataSpec(frame, "ohlcv", "BTC/USDT", "venue_a",
                                                      "1m")},
                      grid={"window_bars": grid[0], "entry_z": grid[1]}, preset=None,
                      config_path=config, params=FIXED)
    planned = time.perf_counter()
    runner = make_executor(executor, workers=workers)  # type: ignore[arg-type]
    outcome = execute_sweep(plan, runner)
    done = time.perf_counter()
    failed = outcome.failed
    if len(failed):
        raise SystemExit(f"{len(failed)} runs failed: {failed['error'].iloc[0]}")
    return planned - started, done - planned, outcome.results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--no-baseline", action="store_true", help="skip vectorbt")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask row")
    parser.add_argument("--workers", default="1,2", help="local worker counts (default 1,2)")
    args = parser.parse_args()
    runs = len(WINDOWS) * len(ENTRY_Z)
    frame = synthetic_bars(args.bars, seed=11)
    print(f"{args.bars:,} minute bars, {len(WINDOWS)} x {len(ENTRY_Z)} grid = {runs} runs",
          flush=True)
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        config.write_text(CONFIG, encoding="utf-8")
        # warm the on-disk Numba caches (bot-core's kernels, vectorbt's functions); the second
        # run trips a tight drawdown limit, for the replay kernel with the liquidation's model
        run_bot_core(frame.iloc[:20_000], config, executor="local", workers=1,
                     grid=([30], [2.0]))
        tripping = Path(tmp) / "warm-drawdown.toml"
        tripping.write_text(CONFIG + "\n[risk]\ndrawdown_liquidation_pct = 0.5\n",
                            encoding="utf-8")
        run_bot_core(frame.iloc[:20_000], tripping, executor="local", workers=1,
                     grid=([30], [1.5]))
        if not args.no_baseline:
            run_vectorbt(frame.iloc[:20_000])
            seconds, returns = run_vectorbt(frame)
            rows.append(("vectorbt from_signals, 100 columns broadcast (no risk checks)",
                         seconds))
            print(f"vectorbt: {seconds:.2f} s ({runs / seconds:.1f} backtests/s); total "
                  f"return median {100 * float(np.median(returns)):+.2f} %", flush=True)
        setups = [("local", int(n)) for n in args.workers.split(",")]
        if not args.no_dask:
            setups.append(("dask", 2))
        for executor, workers in setups:
            plan_s, seconds, results = run_bot_core(frame, config, executor=executor,
                                                    workers=workers)
            label = (f"bot-core sweep, {executor} {workers} worker"
                     f"{'s' if workers > 1 else ''} (9 risk checks)")
            rows.append((label, seconds))
            per_run = statistics.median(results["elapsed_s"])
            paths = results["path"].value_counts().to_dict()
            slowest = results.nlargest(3, "elapsed_s")[["key", "elapsed_s", "path"]]
            print(f"{label}: {seconds:.2f} s ({runs / seconds:.1f} backtests/s; planning "
                  f"{plan_s:.2f} s before; runs {results['elapsed_s'].sum():.1f} s in all, "
                  f"median {per_run:.3f} s; paths {paths}; total return median "
                  f"{100 * float(np.median(results['total_return'])):+.2f} %)", flush=True)
            print("  slowest: " + "; ".join(f"{k} {e:.2f} s ({p})" for k, e, p in
                                             slowest.itertuples(index=False)), flush=True)
    base = rows[0][1] if not args.no_baseline else None
    print("\n| run | seconds | backtests/s | vs vectorbt |")
    print("| --- | --- | --- | --- |")
    for label, seconds in rows:
        ratio = f"{base / seconds:.2f}x" if base else "-"
        print(f"| {label} | {seconds:.2f} | {runs / seconds:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
