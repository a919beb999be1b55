"""Backtest throughput: bot-core against backtesting.py on the same rule and the same data.

Not a test: run it by hand (or in the tox ``benchmark`` env, where backtesting.py is installed)
and copy the figures into docs/performance.md ("## Backtest").

    python benchmarks/bench_backtest.py                  # 1M bars, 1 strategy x 1 instrument
    python benchmarks/bench_backtest.py --multi          # also 3 strategies x 10 instruments
    python benchmarks/bench_backtest.py --bars 100000 --multi --no-baseline
    python benchmarks/bench_backtest.py --no-compiled    # the event path instead
    python benchmarks/bench_backtest.py --warm-start     # process start to result, warm cache
    python benchmarks/bench_backtest.py --cold-start     # the same into an empty Numba cache
    python benchmarks/bench_backtest.py --vectorbt       # against vectorbt (installed by tox -e bench)
    python benchmarks/bench_backtest.py --kernel         # the replay kernel alone, entry z 1/2/4

What is compared
----------------
* **bot-core**: ``plan_backtest`` + ``run_backtest`` under the ``balanced`` preset, with the
  ``mean_reversion`` plugin set (``SINGLE_PARAMS``, not the plugin's defaults, which are
  tuned for the demo and may change) to the rule below: 60-bar z-score of the log close, entry
  at |z| >= 2, exit at z = 0, 3 % stop, 480-bar time stop, 10 % of equity per position), the
  paper venue (5 bps taker fee, 1 bp slippage, next-bar-open fills) and every risk check of the
  profile on every order.
* **backtesting.py**: the same rule written as a ``backtesting.Strategy`` (z-score precomputed
  with ``self.I`` like any backtesting.py user would, entries/exits in ``next()``), 10 % of
  equity per trade, 5 bps commission + 1 bp spread, market orders at the next bar's open
  (backtesting.py's default) on the same OHLCV frame.

The data is synthetic, seeded and mean-reverting (an Ornstein-Uhlenbeck deviation around a
slow random walk), so the rule trades about once every 50 bars and does not hit the drawdown
limit (after a forced liquidation a target strategy keeps re-sending rejected orders on every
bar, which is the per-bar path; see docs/performance.md).

The multi run (``--multi``) is balanced-like limits with sizes chosen so that the three
strategies fit inside them together: long-only mean reversion (8 % and 3 % of equity per
instrument) and volatility targeting capped at 5 % per instrument, 10 instruments in one bucket,
total exposure up to 200 %. Sizes that do not fit (the plugins' balanced defaults: 10 % short
and long mean reversion next to 150 % volatility targeting, against a 20 % position cap) make
the strategies re-send reduced or rejected orders on every bar, which measures the per-bar path
instead of the backtest.

``--vectorbt`` compares bot-core with vectorbt 1.2's ``Portfolio.from_signals`` on one rule, the
mean-reversion rule without stop or holding limit (``VECTORBT_PARAMS``: 60-bar z-score of the log
close, long at z <= -2, short at z >= 2, out at z = 0), a fixed size per position, no fees, fills
at the next bar's open, on the same 1M bars:

* in one process, warm (every Numba cache filled by an untimed small run): vectorbt's
  ``from_signals`` alone, its z-score signals precomputed with pandas outside the timing;
  bot-core's ``run_backtest`` (the strategy computes its z-score inside the timing) with every
  risk check of the ``balanced`` profile judging every order;
* whole processes on that data as a user starts them: vectorbt's first call (import, signals,
  ``from_signals``) in a fresh process with an empty Numba cache, against ``bot-core backtest``
  (import, load the dataset from the library, run, report) with an empty and with a warm cache.

Where a huge page's first touch is slow (a VM whose host backs guest memory lazily: 3 - 4 ms
each on the development machine), the in-process figures depend on how many new arrays of
4 MB or more each run makes, for which numpy asks for huge pages; run it once more with
``NUMPY_MADVISE_HUGEPAGE=0`` to see both tools at their steady speed (docs/performance.md).

Start-up (``--warm-start``, ``--cold-start``) times whole ``bot-core backtest`` processes on the
shipped demo data (BTC, ETH and SOL minute bars: 129,600 bars), from process start to exit,
with the demo defaults and with the rule above. Each round runs the baselines in fresh
processes too (``python -c pass`` and ``python -c "import pandas, numba"``: the part of the
figure no backtest code can remove), interleaved with the backtests so that a busy machine
slows both alike. ``--warm-start`` reuses the on-disk Numba cache (one untimed run fills it
first); ``--cold-start`` gives every process an empty one (``NUMBA_CACHE_DIR``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BAR_NS = 60_000_000_000
START_NS = 1_704_067_200 * 1_000_000_000
MULTI_SYMBOLS = ["BTC", "ETH", "SOL", "ADA", "XRP", "DOGE", "DOT", "LTC", "LINK", "AVAX"]


def synthetic_bars(n: int, seed: int, start: float = 50_000.0) -> Any:
    """Seeded OHLCV minute bars: slow random walk + OU deviation (theta 0.05)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    trend = np.cumsum(rng.normal(0.0, 0.0003, n))
    eps = rng.normal(0.0, 0.0006, n)
    deviation = np.empty(n)
    acc = 0.0
    # closed form of x[i] = 0.95 x[i-1] + eps[i] via a scan (vectorised with lfilter would pull
    # scipy in; a loop over 1M floats in numpy-free Python takes ~0.3 s, fine for a benchmark)
    for i in range(n):
        acc = acc * 0.95 + eps[i]
        deviation[i] = acc
    close = start * np.exp(trend + deviation)
    open_ = np.concatenate(([start], close[:-1]))
    spread = np.abs(rng.normal(0.0, 0.0004, n))
    high = np.maximum(open_, close) * (1.0 + spread)
    low = np.minimum(open_, close) * (1.0 - spread)
    volume = rng.uniform(5e4, 1.5e5, n)  # deep enough that no fill is volume-bound
    index = pd.DatetimeIndex(START_NS + np.arange(n, dtype=np.int64) * BAR_NS, tz="UTC",
                             name="timestamp")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": volume}, index=index)


# -- bot-core -----------------------------------------------------------------------------------

MULTI_CONFIG = """
profile = "balanced"
instruments = [{instruments}]

[runtime]
initial_equity = 100000.0

[venues.venue_a]
adapter = "paper"

[buckets.all]
instruments = [{instruments}]

[strategies.mean_reversion]
plugin = "mean_reversion"
instruments = [{instruments}]
venues = ["venue_a"]

[strategies.mean_reversion.params]
window_bars = 60
entry_z = 2.0
exit_z = 0.0
stop_loss_pct = 3.0
max_holding_bars = 480
allow_short = false
equity_pct = 8.0

[strategies.mean_reversion_slow]
plugin = "mean_reversion"
instruments = [{instruments}]
venues = ["venue_a"]

[strategies.mean_reversion_slow.params]
window_bars = 240
entry_z = 2.5
exit_z = 0.0
stop_loss_pct = 3.0
max_holding_bars = 480
allow_short = false
equity_pct = 3.0

[strategies.vol_target]
plugin = "vol_target"
instruments = [{instruments}]
venues = ["venue_a"]

[strategies.vol_target.params]
max_leverage = 0.05
target_vol_pct = 5.0
estimator = "ewma"
rebalance_band_pct = 2.0
ewma_halflife_bars = 360.0

[risk]
max_position_pct = 20.0
max_total_position_pct = 200.0
max_bucket_exposure_pct = 200.0
daily_loss_limit_pct = 4.0
drawdown_liquidation_pct = 20.0
max_leverage = 2.0
max_orders_per_minute = 120
checks = ["max_position", "bucket_exposure", "max_leverage", "daily_loss", "drawdown",
          "order_rate", "duplicate_order", "fat_finger", "stale_data"]
"""


SINGLE_PARAMS = {"window_bars": 60, "entry_z": 2.0, "exit_z": 0.0, "allow_short": True,
                 "stop_loss_pct": 3.0, "max_holding_bars": 480, "equity_pct": 10.0}
"""The rule backtesting.py runs below, spelled out: the plugin's own defaults may change."""

VECTORBT_PARAMS = {"window_bars": 60, "entry_z": 2.0, "exit_z": 0.0, "allow_short": True,
                   "stop_loss_pct": None, "max_holding_bars": None, "sizing": "fixed_quantity",
                   "quantity": 0.1}
"""The rule vectorbt runs below: z-score entries and exits only, a fixed size (0.1 BTC: about
5 % of the 100,000 equity, inside the profile's position cap)."""


def run_bot_core(frames: dict[str, object], *, multi: bool, compiled: bool | None = None,
                 params: dict[str, Any] | None = None, fee_bps: float | None = None
                 ) -> tuple[float, object]:
    import bot_core
    from bot_core.backtest.driver import run_backtest
    from bot_core.backtest.plan import DataSpec, plan_backtest

    host = bot_core.load_plugins()
    specs = {f"bench-{sym.lower()}": DataSpec(frame, "ohlcv", f"{sym}/USDT", "venue_a")
             for sym, frame in frames.items()}
    if multi:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.toml"
            listed = ", ".join(f'"{s}/USDT"' for s in frames)
            path.write_text(MULTI_CONFIG.format(instruments=listed), encoding="utf-8")
            plan = plan_backtest(host, strategies=["mean_reversion", "mean_reversion_slow",
                                                   "vol_target"],
                                 datasets=specs, preset=None, config_path=path)
    else:
        plan = plan_backtest(host, strategies=["mean_reversion"], datasets=specs,
                             preset="balanced", params=params or SINGLE_PARAMS,
                             fee_bps=fee_bps)
    started = time.perf_counter()
    result = run_backtest(plan, host, compiled=compiled)
    return time.perf_counter() - started, result


# -- backtesting.py ---------------------------------------------------------------------------


def run_backtesting_py(frame: Any) -> tuple[float, int, float]:
    import warnings

    import pandas as pd
    from backtesting import Backtest, Strategy

    window, entry_z, exit_z, stop_pct, max_hold, size = 60, 2.0, 0.0, 3.0, 480, 0.10

    def zscore(close: np.ndarray) -> np.ndarray:
        s = pd.Series(np.log(close))
        mean = s.rolling(window).mean()
        std = s.rolling(window).std()
        return ((s - mean) / std).to_numpy()

    class MeanReversion(Strategy):
        def init(self) -> None:
            self.z = self.I(zscore, self.data.Close)
            self.entry_bar = 0
            self.entry_close = 0.0

        def next(self) -> None:
            z = self.z[-1]
            if z != z:
                return
            close = self.data.Close[-1]
            bar = len(self.data) - 1
            pos = self.position
            if pos:
                held = bar - self.entry_bar
                loss_pct = 100.0 * (close / self.entry_close - 1.0) * (1 if pos.is_long else -1)
                if (pos.is_long and z >= exit_z) or (pos.is_short and z <= -exit_z) or \
                        loss_pct <= -stop_pct or held >= max_hold:
                    pos.close()
                return
            if z <= -entry_z:
                self.buy(size=size)
            elif z >= entry_z:
                self.sell(size=size)
            else:
                return
            self.entry_bar, self.entry_close = bar, close

    data = frame.rename(columns=str.capitalize)
    data.index = data.index.tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # backtesting.py trades whole units only: a large account lets 10 % of equity buy
        # hundreds of units, so the rounding does not change the rule's decisions
        bt = Backtest(data, MeanReversion, cash=100_000_000, commission=0.0005, spread=0.0001,
                      finalize_trades=True)
        started = time.perf_counter()
        stats = bt.run()
    return time.perf_counter() - started, int(stats["# Trades"]), float(stats["Return [%]"])


# -- vectorbt -----------------------------------------------------------------------------------

VECTORBT_SCRIPT = """
import sys, time
started = time.perf_counter()
import numpy as np, pandas as pd, vectorbt as vbt
sys.path.insert(0, sys.argv[2])
from bench_backtest import run_vectorbt, vectorbt_signals
frame = pd.read_parquet(sys.argv[1])
_, trades = run_vectorbt(frame, vectorbt_signals(frame))
print(time.perf_counter() - started, trades)
"""
"""vectorbt's first call in a fresh process: import, signals, ``from_signals``."""


def vectorbt_signals(frame: Any) -> list[np.ndarray]:
    """The rule's long entries and exits, short entries and exits, from the z-score of the
    log close, shifted to fill at the next bar's open (decided on a bar's close)."""
    log_close = np.log(frame["close"])
    mean = log_close.rolling(60).mean()
    std = log_close.rolling(60).std()
    z = ((log_close - mean) / std).to_numpy()
    with np.errstate(invalid="ignore"):
        signals = [z <= -2.0, z >= 0.0, z >= 2.0, z <= 0.0]
    shifted = []
    for signal in signals:
        moved = np.zeros_like(signal)
        moved[1:] = signal[:-1]
        shifted.append(moved)
    return shifted


def run_vectorbt(frame: Any, signals: list[np.ndarray]) -> tuple[float, int]:
    """``from_signals`` alone (the signals precomputed), seconds and trades."""
    import vectorbt as vbt

    close, price = frame["close"].to_numpy(), frame["open"].to_numpy()
    started = time.perf_counter()
    # numpy inputs: vectorbt's fastest form (a tz-aware pandas index costs it ~10x here)
    portfolio = vbt.Portfolio.from_signals(
        close, signals[0], signals[1], signals[2], signals[3], price=price,
        size=VECTORBT_PARAMS["quantity"], fees=0.0, upon_opposite_entry="reverse",
        init_cash=1e9, freq="1min")
    elapsed = time.perf_counter() - started
    return elapsed, int(portfolio.trades.count())


def compare_vectorbt(frame: Any, repeat: int) -> None:
    """In-process warm figures, then whole processes (see the module docstring)."""
    try:
        import vectorbt  # noqa: F401
    except ImportError:
        raise SystemExit("vectorbt is not installed: pip install vectorbt (tox -e bench has "
                         "it)") from None
    n = len(frame)
    signals = vectorbt_signals(frame)
    run_vectorbt(frame.iloc[:5000], [s[:5000] for s in signals])  # compile / load its cache
    run_bot_core({"BTC": frame.iloc[:5000]}, multi=False, params=VECTORBT_PARAMS, fee_bps=0.0)
    ours, theirs = [], []
    for _ in range(repeat):  # interleaved, so that a busy machine slows both alike
        secs, trades = run_vectorbt(frame, signals)
        theirs.append(secs)
        secs, result = run_bot_core({"BTC": frame}, multi=False, params=VECTORBT_PARAMS,
                                    fee_bps=0.0)
        ours.append(secs)
    print(f"vectorbt from_signals, warm, signals precomputed: {n / max(theirs):,.0f} - "
          f"{n / min(theirs):,.0f} bars/s ({min(theirs):.3f} - {max(theirs):.3f} s); "
          f"{trades} trades")
    print(f"bot-core run_backtest, warm, every check of the profile: {n / max(ours):,.0f} - "
          f"{n / min(ours):,.0f} bars/s ({min(ours):.3f} - {max(ours):.3f} s); "
          f"{result.metrics.n_trades} round trips, path {result.path}")  # type: ignore[attr-defined]
    print(f"ratio bot-core / vectorbt (medians): "
          f"{statistics.median(theirs) / statistics.median(ours):.2f}x")

    with tempfile.TemporaryDirectory(prefix="bot-core-bench-vbt-") as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "BOT_CORE_HOME": str(home)}
        data = Path(tmp) / "bench-btc-1m.parquet"
        frame.to_parquet(data)
        csv = Path(tmp) / "bench-btc-1m.csv"
        frame.rename_axis("timestamp").to_csv(csv)
        subprocess.run([sys.executable, "-m", "bot_core", "data", "import", str(csv), "--id",
                        "bench-btc-1m", "--venue", "venue_a", "--instrument", "BTC/USDT",
                        "--timeframe", "1m"], check=True, capture_output=True, env=env)
        script = Path(tmp) / "vbt_first_call.py"
        script.write_text(VECTORBT_SCRIPT, encoding="utf-8")
        backtest = ["-m", "bot_core", "backtest", "--preset", "balanced", "--strategy",
                    "mean_reversion", "--dataset", "bench-btc-1m", "--fee-bps", "0", "--json",
                    *(arg for key, value in VECTORBT_PARAMS.items()
                      for arg in ("--param", f"{key}={'none' if value is None else value}"))]
        _run_seconds(backtest, env)  # fills bot-core's cache for the warm figure
        times: dict[str, list[float]] = {"vectorbt, first call, empty Numba cache": [],
                                         "bot-core backtest, empty Numba cache": [],
                                         "bot-core backtest, warm Numba cache": []}
        for _ in range(repeat):
            with tempfile.TemporaryDirectory(prefix="numba-") as cache:
                times["vectorbt, first call, empty Numba cache"].append(_run_seconds(
                    [str(script), str(data), str(Path(__file__).parent)],
                    {**env, "NUMBA_CACHE_DIR": cache}))
            with tempfile.TemporaryDirectory(prefix="numba-") as cache:
                times["bot-core backtest, empty Numba cache"].append(_run_seconds(
                    backtest, {**env, "NUMBA_CACHE_DIR": cache}))
            times["bot-core backtest, warm Numba cache"].append(_run_seconds(backtest, env))
    print(f"whole processes on {n:,} bars, {repeat} rounds, seconds (min - max):")
    for label, values in times.items():
        print(f"  {label:42} {min(values):6.2f} - {max(values):6.2f}")


def time_kernel(frame: Any, repeat: int) -> None:
    """The compiled replay's kernel alone (``run_kernel``: no layout, judging or result) on the
    --vectorbt rule, with entry z 1, 2 and 4 (about 37,600, 18,500 and 90 round trips): what
    a bar costs and what an order costs."""
    import bot_core
    from bot_core.backtest.compiled import run_kernel
    from bot_core.backtest.layout import layout
    from bot_core.backtest.plan import DataSpec, plan_backtest
    from bot_core.backtest.run import prepare_run

    host = bot_core.load_plugins()
    run_bot_core({"BTC": frame.iloc[:5000]}, multi=False, params=VECTORBT_PARAMS, fee_bps=0.0)
    for entry_z in (1.0, 2.0, 4.0):
        plan = plan_backtest(host, strategies=["mean_reversion"],
                             datasets={"bench-btc": DataSpec(frame, "ohlcv", "BTC/USDT",
                                                             "venue_a")},
                             preset="balanced", params={**VECTORBT_PARAMS, "entry_z": entry_z},
                             fee_bps=0.0)
        run = prepare_run(plan, host)
        inputs = layout(run)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            run_kernel(inputs, run)
            times.append(time.perf_counter() - started)
        print(f"kernel alone, entry z {entry_z:g}: {min(times):.4f} s min, "
              f"{statistics.median(times):.4f} s median ({len(frame):,} bars)")


# -- start-up -----------------------------------------------------------------------------------

DEMO_DATASETS = "demo-btc-usdt-1m,demo-eth-usdt-1m,demo-sol-usdt-1m"
STARTUP_COMMANDS: dict[str, list[str]] = {
    "baseline: python -c pass": ["-c", "pass"],
    "baseline: import pandas, numba": ["-c", "import pandas, numba"],
    "backtest, demo defaults": ["-m", "bot_core", "backtest", "--strategy", "mean_reversion",
                                "--dataset", DEMO_DATASETS, "--json"],
    "backtest, the rule above": [
        "-m", "bot_core", "backtest", "--strategy", "mean_reversion", "--dataset", DEMO_DATASETS,
        *(arg for key in ("window_bars", "entry_z", "exit_z", "stop_loss_pct",
                          "max_holding_bars", "equity_pct")
          for arg in ("--param", f"{key}={SINGLE_PARAMS[key]}")),
        "--json"],
}


def _run_seconds(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def run_startup(repeat: int, *, cold: bool) -> None:
    """Wall clock of whole processes (see the module docstring), min and median of ``repeat``."""
    env = dict(os.environ)
    if not cold:
        for label, args in STARTUP_COMMANDS.items():
            if "backtest" in label:
                _run_seconds(args, env)  # fills the Numba cache if it is empty
    times: dict[str, list[float]] = {label: [] for label in STARTUP_COMMANDS}
    for _ in range(repeat):
        for label, args in STARTUP_COMMANDS.items():
            if cold:
                with tempfile.TemporaryDirectory(prefix="bot-core-numba-") as cache:
                    times[label].append(_run_seconds(args, {**env, "NUMBA_CACHE_DIR": cache}))
            else:
                times[label].append(_run_seconds(args, env))
    imports = statistics.median(times["baseline: import pandas, numba"])
    kind = "cold (empty Numba cache)" if cold else "warm (Numba cache on disk)"
    print(f"start-up, {kind}, {repeat} rounds; process start to exit, seconds")
    print(f"{'command':34} {'min':>6} {'median':>7} {'median - import pandas, numba':>30}")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"{label:34} {min(values):6.2f} {median:7.2f} {median - imports:30.2f}")


# -- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", type=int, default=1_000_000, help="bars per single run")
    parser.add_argument("--multi", action="store_true",
                        help="also run 3 strategies on 10 instruments (bars/10 each)")
    parser.add_argument("--no-baseline", action="store_true", help="skip backtesting.py")
    parser.add_argument("--warm-start", action="store_true",
                        help="time whole backtest processes on the demo data (warm Numba cache) "
                        "instead")
    parser.add_argument("--cold-start", action="store_true",
                        help="the same with an empty Numba cache for every process")
    parser.add_argument("--no-compiled", action="store_true",
                        help="bot-core runs the event path (run_backtest(compiled=False)) "
                        "instead of the compiled replay, its default")
    parser.add_argument("--vectorbt", action="store_true",
                        help="compare with vectorbt's from_signals instead (see above)")
    parser.add_argument("--kernel", action="store_true",
                        help="time the replay kernel alone on the --vectorbt rule, entry z 1/2/4")
    parser.add_argument("--repeat", type=int, default=None,
                        help="rounds (default: 7 for --warm-start / --cold-start, 3 for "
                        "--vectorbt, 5 for --kernel)")
    args = parser.parse_args(argv)
    os.environ.setdefault("BOT_CORE_HOME", tempfile.mkdtemp(prefix="bot-core-bench-"))
    if args.warm_start or args.cold_start:
        if args.warm_start:
            run_startup(args.repeat or 7, cold=False)
        if args.cold_start:
            run_startup(args.repeat or 7, cold=True)
        return 0

    frame = synthetic_bars(args.bars, seed=1)
    if args.vectorbt:
        compare_vectorbt(frame, repeat=args.repeat or 3)
        return 0
    if args.kernel:
        time_kernel(frame, repeat=args.repeat or 5)
        return 0
    rows = []
    compiled = False if args.no_compiled else None
    # untimed: fill the on-disk Numba cache (the cold start is --cold-start's figure)
    run_bot_core({"BTC": frame.iloc[:5000]}, multi=False, compiled=compiled)
    secs, result = run_bot_core({"BTC": frame}, multi=False, compiled=compiled)
    ours = args.bars / secs
    rows.append(("bot-core, mean_reversion x BTC", args.bars, secs, ours,
                 result.metrics.n_trades, sum(result.verdicts.values())))
    print(f"bot-core   1 strategy x 1 instrument: {args.bars:,} bars in {secs:.2f} s = "
          f"{ours:,.0f} bars/s; {result.metrics.n_trades} round trips, "
          f"{sum(result.verdicts.values())} orders judged by risk "
          f"({dict(result.verdicts)}), return {100 * result.metrics.total_return:+.1f} %, "
          f"state {result.final_state}, path {result.path} {result.fast_path_note}")
    baseline = None
    if not args.no_baseline:
        try:
            bsecs, btrades, breturn = run_backtesting_py(frame)
        except ImportError:
            print("backtesting.py is not installed: pip install backtesting", file=sys.stderr)
            return 2
        baseline = args.bars / bsecs
        print(f"backtesting.py same rule, same data: {args.bars:,} bars in {bsecs:.2f} s = "
              f"{baseline:,.0f} bars/s; {btrades} trades, return {breturn:+.1f} %")
        print(f"ratio bot-core / backtesting.py: {ours / baseline:.2f}x")

    if args.multi:
        per = args.bars // len(MULTI_SYMBOLS)
        frames = {sym: synthetic_bars(per, seed=10 + i, start=100.0 * (i + 1))
                  for i, sym in enumerate(MULTI_SYMBOLS)}
        secs, result = run_bot_core(frames, multi=True, compiled=compiled)
        total = per * len(MULTI_SYMBOLS)
        multi = total / secs
        print(f"bot-core   3 strategies x 10 instruments: {total:,} bars in {secs:.2f} s = "
              f"{multi:,.0f} bars/s; {result.metrics.n_trades} round trips, "
              f"{sum(result.verdicts.values())} orders judged by risk "
              f"({dict(result.verdicts)}), state {result.final_state}, "
              f"path {result.path} {result.fast_path_note}")
        if not args.no_baseline:
            bsecs = sum(run_backtesting_py(f)[0] for f in frames.values())
            base_multi = total / bsecs
            print(f"backtesting.py mean-reversion rule on the same 10 instruments (one run each): "
                  f"{total:,} bars in {bsecs:.2f} s = {base_multi:,.0f} bars/s")
            print(f"ratio bot-core (3 strategies, shared risk) / backtesting.py (1 rule): "
                  f"{multi / base_multi:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
