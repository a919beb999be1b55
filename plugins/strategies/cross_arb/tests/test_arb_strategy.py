"""The cross-arb strategy: paired legs, limits, leg repair, rebalancing, live == batch."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from bot_core.orders import ExecutionReport, Fill, OrderStatus, OrderType, Side, TimeInForce
from bot_core_cross_arb import CrossArbSettings, CrossArbStrategy

S = 1_000_000_000  # one second in ns


def make(**values: object) -> CrossArbStrategy:
    base = {"taker_fee_bps_a": 5.0, "taker_fee_bps_b": 5.0, "slippage_bps": 2.0,
            "min_edge_bps": 3.0, "max_order_notional": 1_000.0, "min_order_notional": 1.0,
            "max_inventory_notional": 10_000.0}
    return CrossArbStrategy(CrossArbSettings(**{**base, **values}), name="arb",
                            instruments=["BTC/USDT"], venues=["venue_a", "venue_b"])


def crossed(arb: SimpleNamespace, ts: int = 0, size: float = 50.0) -> list:
    """A 20 bps crossing (threshold 15): buy on A at 100.0, sell on B at 100.2."""
    return [arb.quote("venue_a", 99.9, 100.0, size, ts), arb.quote("venue_b", 100.2, 100.3,
                                                                    size, ts)]


def test_opportunity_sends_a_pair_of_ioc_limit_legs(arb: SimpleNamespace) -> None:
    strategy = make()
    ctx = arb.Context()
    qa, qb = crossed(arb)
    assert strategy.on_quote(qa, ctx) == []  # one venue only: nothing to compare
    buy, sell = strategy.on_quote(qb, ctx)
    assert buy.side is Side.BUY and buy.venue == "venue_a"
    assert sell.side is Side.SELL and sell.venue == "venue_b"
    assert buy.quantity == sell.quantity == pytest.approx(1_000.0 / 100.0)  # notional cap
    assert buy.group_id == sell.group_id and buy.group_id
    assert buy.order_type is OrderType.LIMIT and buy.time_in_force is TimeInForce.IOC
    assert buy.limit_price == pytest.approx(100.0 * (1 + 1e-4))  # half the slippage allowance
    assert sell.limit_price == pytest.approx(100.2 * (1 - 1e-4))
    assert buy.tag == sell.tag == "arb" and buy.strategy_id == "arb"


def test_fees_slippage_and_min_edge_gate_the_trade(arb: SimpleNamespace) -> None:
    qa = arb.quote("venue_a", 99.9, 100.0, 5.0)
    qb = arb.quote("venue_b", 100.14, 100.2, 5.0)  # 14 bps < 5 + 5 + 2 + 3
    strategy = make()
    ctx = arb.Context()
    strategy.on_quote(qa, ctx)
    assert strategy.on_quote(qb, ctx) == []
    looser = make(min_edge_bps=1.0)  # 5 + 5 + 2 + 1 = 13 bps < 14
    looser.on_quote(qa, ctx)
    assert len(looser.on_quote(qb, ctx)) == 2
    no_fees = make(taker_fee_bps_a=0.0, taker_fee_bps_b=0.0, slippage_bps=13.9, min_edge_bps=0.0)
    no_fees.on_quote(qa, ctx)
    assert len(no_fees.on_quote(qb, ctx)) == 2  # slippage counts like fees


def test_size_is_limited_by_quoted_sizes(arb: SimpleNamespace) -> None:
    strategy = make(max_order_notional=1e5, max_inventory_notional=1e6)
    ctx = arb.Context()
    strategy.on_quote(arb.quote("venue_a", 99.9, 100.0, ask_size=0.3, bid_size=9.0), ctx)
    legs = strategy.on_quote(arb.quote("venue_b", 100.2, 100.3, bid_size=0.8, ask_size=9.0),
                             ctx)
    assert [leg.quantity for leg in legs] == [0.3, 0.3]


def test_stale_quotes_are_not_compared(arb: SimpleNamespace) -> None:
    strategy = make(max_quote_age_ms=500)
    ctx = arb.Context()
    strategy.on_quote(arb.quote("venue_a", 99.9, 100.0, 5.0, ts_ns=0), ctx)
    assert strategy.on_quote(arb.quote("venue_b", 100.2, 100.3, 5.0, ts_ns=S), ctx) == []


def test_inventory_limits_the_size_and_then_the_direction(arb: SimpleNamespace) -> None:
    strategy = make(max_order_notional=1_000.0, max_inventory_notional=2_500.0,
                    rebalance_threshold_pct=100.0)
    stream = []
    for i in range(5):
        stream += crossed(arb, ts=i * S)
    sent, _ = arb.replay(strategy, stream)
    buys = [i.quantity for i in sent if i.side is Side.BUY]
    # 10 + 10 + 5 (room left at the 2500 limit, mids ~100.1) and then nothing
    assert buys[:2] == [10.0, 10.0] and buys[2] == pytest.approx(2_500 / 100.1 - 20, rel=1e-9)
    assert len(buys) == 3
    assert strategy.inventory[("BTC/USDT", "venue_a")] == pytest.approx(sum(buys))
    assert strategy.inventory[("BTC/USDT", "venue_b")] == pytest.approx(-sum(buys))
    # the reverse crossing is still allowed (it reduces both inventories)
    ctx = arb.Context()
    strategy.on_quote(arb.quote("venue_b", 99.9, 100.0, 5.0, 9 * S), ctx)
    legs = strategy.on_quote(arb.quote("venue_a", 100.2, 100.3, 5.0, 9 * S), ctx)
    assert [(leg.venue, leg.side) for leg in legs] == [("venue_b", Side.BUY),
                                                       ("venue_a", Side.SELL)]


def test_one_group_at_a_time(arb: SimpleNamespace) -> None:
    strategy = make()
    ctx = arb.Context()
    qa, qb = crossed(arb)
    strategy.on_quote(qa, ctx)
    assert len(strategy.on_quote(qb, ctx)) == 2
    assert strategy.on_quote(qb, ctx) == []  # legs unanswered at the same timestamp


def test_failed_leg_is_hedged_on_its_own_venue(arb: SimpleNamespace) -> None:
    strategy = make(leg_failure_action="hedge")
    policy = {"first": True}

    def reject_first_sell(intent):  # type: ignore[no-untyped-def]
        if intent.side is Side.SELL and policy["first"]:
            policy["first"] = False
            return "reject"
        return 1.0

    _sent, venue = arb.replay(strategy, crossed(arb), reject_first_sell)
    buy, _sell, hedge = venue.seen
    assert hedge.venue == "venue_b" and hedge.side is Side.SELL
    assert hedge.quantity == pytest.approx(buy.quantity)
    assert hedge.order_type is OrderType.MARKET and hedge.group_id is None
    assert hedge.tag == f"hedge:{buy.group_id}"
    assert strategy.groups == {} and strategy.settled[-1].net == pytest.approx(0.0)
    assert strategy.inventory[("BTC/USDT", "venue_b")] == pytest.approx(-buy.quantity)


def test_partial_leg_is_unwound_on_the_venue_that_filled(arb: SimpleNamespace) -> None:
    strategy = make(leg_failure_action="unwind")

    def half_sell(intent):  # type: ignore[no-untyped-def]
        return 0.5 if intent.tag == "arb" and intent.side is Side.SELL else 1.0

    _, venue = arb.replay(strategy, crossed(arb), half_sell)
    buy, _sell, unwind = venue.seen
    assert unwind.venue == "venue_a" and unwind.side is Side.SELL
    assert unwind.quantity == pytest.approx(buy.quantity / 2)
    assert unwind.tag.startswith("unwind:")
    net = sum(strategy.inventory.values())
    assert net == pytest.approx(0.0, abs=1e-12)


def test_unacknowledged_leg_counts_as_failed_at_the_next_quote(arb: SimpleNamespace) -> None:
    strategy = make(leg_failure_action="hedge")

    def silent_sell(intent):  # type: ignore[no-untyped-def]
        return "silent" if intent.tag == "arb" and intent.side is Side.SELL else 1.0

    stream = [*crossed(arb), arb.quote("venue_a", 99.0, 99.1, 5.0, S)]
    sent, _ = arb.replay(strategy, stream, silent_sell)
    assert [i.tag.split(":")[0] for i in sent] == ["arb", "arb", "hedge"]
    assert sent[2].venue == "venue_b" and sent[2].side is Side.SELL


def test_working_leg_times_out(arb: SimpleNamespace) -> None:
    strategy = make(leg_failure_action="unwind", leg_timeout_ms=1_000)
    ctx = arb.Context()
    qa, qb = crossed(arb)
    strategy.on_quote(qa, ctx)
    buy, sell = strategy.on_quote(qb, ctx)
    for leg in (buy, sell):
        strategy.on_order_update(ExecutionReport(leg.client_order_id, OrderStatus.ACCEPTED, 0),
                                 ctx)
    strategy.on_fill(Fill("t1", buy.client_order_id, "venue_a", "BTC/USDT", Side.BUY,
                          buy.quantity, 100.0, 0.0, 0), ctx)
    assert strategy.on_quote(arb.quote("venue_a", 99.0, 99.1, 5.0, S // 2), ctx) == []
    out = strategy.on_quote(arb.quote("venue_a", 99.0, 99.1, 5.0, 2 * S), ctx)
    assert len(out) == 1 and out[0].tag.startswith("unwind:") and out[0].side is Side.SELL


def test_repair_that_keeps_failing_halts_the_instrument(arb: SimpleNamespace) -> None:
    strategy = make(leg_failure_action="hedge", max_hedge_attempts=1, max_unwind_attempts=2)

    def only_arb_buys_fill(intent):  # type: ignore[no-untyped-def]
        return 1.0 if intent.tag == "arb" and intent.side is Side.BUY else "reject"

    sent, venue = arb.replay(strategy, crossed(arb) + crossed(arb, ts=S), only_arb_buys_fill)
    roles = [i.tag.split(":")[0] for i in venue.seen]
    assert roles == ["arb", "arb", "hedge", "unwind", "unwind"]
    assert "BTC/USDT" in strategy.halted and "still has a net" in strategy.halted["BTC/USDT"]
    assert len(sent) == 2  # no new pair after the halt


def test_duplicate_fills_are_ignored(arb: SimpleNamespace) -> None:
    strategy = make()
    ctx = arb.Context()
    fill = Fill("dup", "x", "venue_a", "BTC/USDT", Side.BUY, 1.0, 100.0, 0.0, 0)
    strategy.on_fill(fill, ctx)
    strategy.on_fill(fill, ctx)
    report = ExecutionReport("x", OrderStatus.FILLED, 0, fill=fill)
    strategy.on_order_update(report, ctx)
    assert strategy.inventory[("BTC/USDT", "venue_a")] == 1.0


def test_inventory_is_rebalanced_when_crossing_back_is_cheap(arb: SimpleNamespace) -> None:
    strategy = make(rebalance_threshold_pct=20.0, max_rebalance_cost_bps=20.0,
                    max_inventory_notional=10_000.0)
    ctx = arb.Context()
    strategy.inventory[("BTC/USDT", "venue_a")] = 40.0   # 4000 of 10000: beyond 20%
    strategy.inventory[("BTC/USDT", "venue_b")] = -40.0
    strategy.on_quote(arb.quote("venue_a", 100.0, 100.02, 50.0), ctx)
    legs = strategy.on_quote(arb.quote("venue_b", 100.0, 100.02, 50.0), ctx)
    assert [(leg.venue, leg.side, leg.tag) for leg in legs] == [
        ("venue_b", Side.BUY, "rebalance"), ("venue_a", Side.SELL, "rebalance")]
    # brings venue A back to the threshold (2000 / mid), within the order cap
    assert legs[0].quantity == pytest.approx(min(40 - 2_000 / 100.01, 1_000 / 100.02))
    costly = make(rebalance_threshold_pct=20.0, max_rebalance_cost_bps=5.0)
    costly.inventory[("BTC/USDT", "venue_a")] = 40.0
    costly.on_quote(arb.quote("venue_a", 100.0, 100.02, 50.0), ctx)
    assert costly.on_quote(arb.quote("venue_b", 100.0, 100.02, 50.0), ctx) == []


def test_live_opportunities_equal_the_batch_kernel(arb: SimpleNamespace) -> None:
    qa, qb = arb.quote_frames(1, 3000)
    strategy = make(max_order_notional=1_000.0, max_inventory_notional=1e9)
    batch = make(max_order_notional=1_000.0, max_inventory_notional=1e9).opportunities(qa, qb)
    sent, _ = arb.replay(strategy, arb.events(qa, qb))
    buys = [i for i in sent if i.tag == "arb" and i.side is Side.BUY]
    assert len(batch) > 20
    assert len(buys) == len(batch)
    assert [b.ts_ns for b in buys] == batch.index.asi8.tolist()
    assert [1 if b.venue == "venue_a" else -1 for b in buys] == batch["direction"].tolist()
    np.testing.assert_allclose([b.quantity for b in buys], batch["quantity"], rtol=1e-12)
    np.testing.assert_allclose(batch["net_edge_bps"], batch["edge_bps"] - 12.0)
    assert (batch["net_edge_bps"] > 3.0).all()
    assert (batch["sell_price"] > batch["buy_price"]).all()


def test_batch_is_causal(arb: SimpleNamespace) -> None:
    qa, qb = arb.quote_frames(2, 2000)
    strategy = make()
    whole = strategy.opportunities(qa, qb)
    cut = qa.index[1200]
    prefix = strategy.opportunities(qa[qa.index <= cut], qb[qb.index <= cut])
    assert prefix.equals(whole[whole.index <= cut])


def test_on_start_loads_the_edge_kernel_before_the_first_quote(tmp_path: object) -> None:
    """A live scheduler times every on_quote: the kernel's one-off load (a compile when the
    Numba cache is empty) must happen in on_start, not inside the first quote pair's budget."""
    import os
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        from bot_core_cross_arb import CrossArbSettings, CrossArbStrategy
        from bot_core_cross_arb.edges import best_edge
        strategy = CrossArbStrategy(CrossArbSettings(), name="arb", instruments=["BTC/USDT"],
                                    venues=["venue_a", "venue_b"])
        before = len(best_edge.signatures)
        strategy.on_start(None)
        print(before, len(best_edge.signatures))
    """)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}  # an empty cache: a real compile
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, env=env, check=True).stdout.split()
    assert out == ["0", "1"]
