"""The vol-target strategy: live intents, live == batch, causality, numerics, warm-up."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot_core.orders import OrderType, Side, TimeInForce
from bot_core.testing import (
    FillingContext,
    bars_from_frame,
    bind_frame,
    frame_from_closes,
    random_walk,
    run_bars,
)
from bot_core_vol_target import VolTargetSettings, VolTargetStrategy


def make(**values: object) -> VolTargetStrategy:
    base = {"min_periods_bars": 20, "rolling_window_bars": 60, "ewma_halflife_bars": 30.0}
    return VolTargetStrategy(VolTargetSettings(**{**base, **values}), name="vt",
                             instruments=["ETH/USDT"], venues=["venue_a"])


@pytest.mark.parametrize("estimator", ["ewma", "rolling", "max"])
@pytest.mark.parametrize("band", [0.0, 2.0])
def test_live_equals_target_positions(estimator: str, band: float) -> None:
    closes = random_walk(3, 2000)
    closes[[50, 51, 700, 1500, 1501, 1502]] = np.nan
    frame = frame_from_closes(closes)
    live_strategy = make(estimator=estimator, rebalance_band_pct=band, max_leverage=3.0)
    live, intents = run_bars(live_strategy, frame)
    batch = make(estimator=estimator, rebalance_band_pct=band,
                 max_leverage=3.0).target_positions(frame, 100_000.0)
    assert len(intents) > 5
    np.testing.assert_allclose(live, batch, rtol=1e-12, atol=0.0)


def test_on_bar_intents() -> None:
    frame = frame_from_closes(random_walk(4, 300))
    _, intents = run_bars(make(rebalance_band_pct=1.0), frame)
    first = intents[0]
    assert first.side is Side.BUY and first.tag == "rebalance" and not first.reduce_only
    assert first.order_type is OrderType.MARKET and first.time_in_force is TimeInForce.IOC
    assert first.strategy_id == "vt" and first.venue == "venue_a"
    assert first.instrument == "BTC/USDT"  # the bar's instrument
    assert any(i.side is Side.SELL for i in intents)


def test_rejected_rebalance_is_retried_with_back_off() -> None:
    strategy = make(rebalance_band_pct=1.0, min_periods_bars=5)
    ctx = FillingContext()  # never filled
    frame = frame_from_closes([100.0, 100.5, 99.8, 100.2, 100.1, 99.9] + [99.9] * 30)
    bind_frame(strategy, frame)
    sent = [i for i, bar in enumerate(bars_from_frame(frame)) if strategy.on_bar(bar, ctx)]
    assert sent[:4] == [5, 6, 8, 12]
    assert all(b - a >= 1 for a, b in itertools.pairwise(sent))


MINUTES_PER_YEAR = 365.25 * 1440
"""Bars a year of 1-minute bars around the clock: what the frames' own calendar gives."""


def test_realized_vol_is_annualized_and_matches_batch() -> None:
    frame = frame_from_closes(random_walk(5, 500, sigma=0.001))
    strategy = make(estimator="rolling")
    run_bars(strategy, frame)
    batch = make(estimator="rolling").realized_vols(frame)
    assert strategy.realized_vol("BTC/USDT") == pytest.approx(batch[-1], rel=1e-12)
    per_bar = pd.Series(np.log(frame["close"])).diff().rolling(60, min_periods=20).std()
    assert batch[-1] == pytest.approx(per_bar.iloc[-1] * math.sqrt(MINUTES_PER_YEAR), rel=1e-9)
    assert batch[-1] == pytest.approx(0.001 * math.sqrt(MINUTES_PER_YEAR), rel=0.2)


def test_max_estimator_takes_the_larger() -> None:
    frame = frame_from_closes(random_walk(6, 400))
    both = make(estimator="max").realized_vols(frame)
    ewma = make(estimator="ewma").realized_vols(frame)
    rolling = make(estimator="rolling").realized_vols(frame)
    ok = ~np.isnan(both)
    np.testing.assert_array_equal(both[ok], np.maximum(ewma, rolling)[ok])


def test_constant_prices_use_the_floor_not_infinity() -> None:
    frame = frame_from_closes([200.0] * 100)
    strategy = make(target_vol_pct=20.0, vol_floor_pct=10.0, max_leverage=5.0)
    vol = strategy.realized_vols(frame)
    assert np.all(vol[20:] == 0.0) and not np.isinf(vol).any()
    positions = strategy.target_positions(frame, 10_000.0)
    assert positions[-1] == pytest.approx(2.0 * 10_000 / 200)  # 20% / 10% floor


def test_tiny_variance_at_high_price() -> None:
    rng = np.random.default_rng(8)
    closes = 1e5 + np.round(rng.standard_normal(300) * 1e-4, 6)
    vol = make(estimator="rolling", log_returns=False).realized_vols(frame_from_closes(closes))
    r = [(b - a) / a for a, b in zip(closes[-61:-1], closes[-60:], strict=True)]
    m = math.fsum(r) / 60
    ref = math.sqrt(math.fsum((x - m) ** 2 for x in r) / 59) * math.sqrt(MINUTES_PER_YEAR)
    assert vol[-1] == pytest.approx(ref, rel=1e-9)


closes_st = st.lists(st.one_of(st.floats(min_value=50.0, max_value=150.0), st.just(math.nan)),
                     min_size=2, max_size=120)


@settings(max_examples=40, deadline=None)
@given(closes=closes_st, data=st.data())
def test_causal(closes: list[float], data: st.DataObject) -> None:
    strategy = make(estimator="max", min_periods_bars=3, rolling_window_bars=8,
                    ewma_halflife_bars=4.0, max_leverage=2.0, rebalance_band_pct=1.0)
    frame = frame_from_closes(closes)
    t = data.draw(st.integers(min_value=0, max_value=len(closes) - 1))
    np.testing.assert_array_equal(strategy.target_positions(frame.iloc[:t + 1], 1e4),
                                  strategy.target_positions(frame, 1e4)[:t + 1])


@settings(max_examples=25, deadline=None)
@given(closes=closes_st)
def test_incremental_equals_batch(closes: list[float]) -> None:
    values = dict(estimator="max", min_periods_bars=3, rolling_window_bars=8,
                  ewma_halflife_bars=4.0, max_leverage=2.0, rebalance_band_pct=1.0)
    frame = frame_from_closes(closes)
    live, _ = run_bars(make(**values), frame, 1e4)
    np.testing.assert_allclose(live, make(**values).target_positions(frame, 1e4), rtol=1e-12)


def test_warm_up_makes_the_first_live_bar_tradeable() -> None:
    history = frame_from_closes(random_walk(7, 200))
    strategy = make()
    bind_frame(strategy, history)  # the host's description of the feed: 1-minute bars
    strategy.warm_up({"BTC/USDT": history})
    assert strategy.realized_vol("BTC/USDT") != strategy.realized_vol("BTC/USDT")  # NaN: not
    # traded yet, but the estimators are primed: the very next bar trades
    nxt = frame_from_closes([history["close"].iloc[-1] * 1.001], start="2024-02-01")
    _, intents = run_bars(strategy, nxt)
    assert len(intents) == 1 and intents[0].tag == "rebalance"
    bare = make()
    bind_frame(bare, history, instrument="ETH/USDT")
    bare.warm_up(history)  # a bare frame goes to the first instrument, ETH/USDT
    ctx = FillingContext()
    assert len(bare.on_bar(bars_from_frame(nxt, instrument="ETH/USDT")[0], ctx)) == 1


def test_decisions_frame() -> None:
    out = make().decisions(frame_from_closes(random_walk(2, 300)), 1e5)
    assert list(out.columns) == ["vol_annual", "target", "reason"]
    assert {"warming_up", "rebalance"} <= set(out["reason"])
