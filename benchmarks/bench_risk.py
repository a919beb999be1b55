"""Throughput of the risk engine's hot paths (a benchmark script, not a test).

Measures, in one run and on the same machine:

* ``evaluate()`` with the nine core checks of the balanced preset (the path every backtest and
  live order takes), on a stream of intents over ten instruments with open positions;
* ``on_market_data()`` (mark, equity peak, day rollover, limit monitors): the per-event update;
* a baseline: one bare per-instrument position cap written as a plain function, the least any
  pre-trade gate can cost in Python.

It prints operations per second and the ratio of each path to the baseline, e.g.::

    python benchmarks/bench_risk.py            # 200k evaluations, 1M market events
    python benchmarks/bench_risk.py --quick    # a tenth of that
"""

from __future__ import annotations

import argparse
import math
import time

import bot_core
from bot_core import OrderIntent, Side
from bot_core.config import resolve_config
from bot_core.orders import Fill
from bot_core.portfolio import Portfolio
from bot_core.risk.engine import RiskEngine

INSTRUMENTS = [f"C{i}/USDT" for i in range(10)]
T0 = 1_700_000_000 * 1_000_000_000


def build() -> tuple[RiskEngine, Portfolio]:
    config = resolve_config(preset="balanced", environ={}).config
    data = config.model_dump()
    data["instruments"] = INSTRUMENTS
    data["buckets"] = {"a": {"instruments": INSTRUMENTS[:5]}, "b": {"instruments": INSTRUMENTS[5:]}}
    data["strategies"] = {}
    data["risk"]["max_orders_per_minute"] = 100_000
    config = type(config).model_validate(data)
    host = bot_core.load_plugins(environ={})
    checks = [host.risk_checks[c]() for c in config.risk.checks]
    portfolio = Portfolio(1_000_000.0)
    engine = RiskEngine(config, checks, portfolio)
    for i, inst in enumerate(INSTRUMENTS):
        engine.on_market_data(inst, "venue_a", 100.0 + i, T0)
        fill = Fill(f"t{i}", f"c{i}", "venue_a", inst, Side.BUY, 50.0, 100.0 + i, 0.0, T0,
                    strategy_id="s")
        portfolio.apply_fill(fill)
        engine.on_fill(fill)
    return engine, portfolio


def bench_evaluate(engine: RiskEngine, n: int) -> float:
    intents = [OrderIntent("s", "venue_a", INSTRUMENTS[k % 10], Side.BUY if k % 2 else Side.SELL,
                           1.0 + (k % 7), f"e{k}") for k in range(n)]
    closed = engine.on_order_closed
    evaluate = engine.evaluate
    start = time.perf_counter()
    for k, intent in enumerate(intents):
        evaluate(intent, T0 + k * 1_000)
        closed(intent.client_order_id)
    return n / (time.perf_counter() - start)


def bench_market_data(engine: RiskEngine, n: int) -> float:
    update = engine.on_market_data
    start = time.perf_counter()
    for k in range(n):
        update(INSTRUMENTS[k % 10], "venue_a", 100.0 + (k % 13) * 0.01, T0 + k * 60_000_000_000)
    return n / (time.perf_counter() - start)


def bench_baseline(portfolio: Portfolio, n: int) -> float:
    positions = {i: portfolio.position(i) for i in INSTRUMENTS}
    prices = {i: portfolio.last_price(i) for i in INSTRUMENTS}
    equity = portfolio.equity

    def bare_cap(instrument: str, signed_qty: float) -> bool:
        price = prices[instrument]
        if not (price > 0.0 and equity > 0.0) or math.isnan(price):
            return False
        return abs(positions[instrument] + signed_qty) * price <= 0.2 * equity

    start = time.perf_counter()
    for k in range(n):
        bare_cap(INSTRUMENTS[k % 10], 1.0 + (k % 7))
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the default sizes")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    engine, portfolio = build()
    baseline = bench_baseline(portfolio, 1_000_000 // scale)
    evaluations = bench_evaluate(engine, 200_000 // scale)
    updates = bench_market_data(engine, 1_000_000 // scale)
    print(f"baseline (one bare position cap):   {baseline:>12,.0f} /s")
    print(f"evaluate() with 9 core checks:      {evaluations:>12,.0f} /s  "
          f"({baseline / evaluations:.1f}x the baseline's cost)")
    print(f"on_market_data() per event:         {updates:>12,.0f} /s  "
          f"({baseline / updates:.1f}x the baseline's cost)")
    print(f"day resets during the run: {engine.day_resets}, final state: {engine.state.value}")


if __name__ == "__main__":
    main()
