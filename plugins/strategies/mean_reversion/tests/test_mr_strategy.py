"""The mean-reversion strategy: live intents, live == batch, causality, numerics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot_core.orders import OrderType, Side, TimeInForce
from bot_core.testing import FillingContext, bars_from_frame, frame_from_closes, random_walk, run_bars
from bot_core_mean_reversion import MeanReversionSettings, MeanReversionStrategy


def make(**values: object) -> MeanReversionStrategy:
    return MeanReversionStrategy(MeanReversionSettings(**values), name="mr",
                                 instruments=["BTC/USDT"], venues=["venue_a"])


def test_on_bar_intents_follow_the_rule() -> None:
    closes = [100.0] * 5 + [100.0, 101.0, 99.0, 100.0, 92.0, 100.0, 101.0]
    strategy = make(window_bars=5, entry_z=1.5, equity_pct=10.0)
    path, intents = run_bars(strategy, frame_from_closes(closes))
    entry, exit_ = intents
    assert entry.side is Side.BUY and entry.tag == "entry_long"
    assert entry.quantity == pytest.approx(0.1 * 100_000 / 92.0)
    assert entry.order_type is OrderType.MARKET and entry.time_in_force is TimeInForce.IOC
    assert entry.strategy_id == "mr" and entry.venue == "venue_a" and not entry.reduce_only
    assert exit_.side is Side.SELL and exit_.tag == "exit_z"
    assert not exit_.reduce_only  # positions are per strategy; reduce_only is per account
    assert exit_.quantity == pytest.approx(entry.quantity)
    assert entry.client_order_id != exit_.client_order_id
    assert path[-1] == 0.0


def test_missing_position_is_resynced_on_the_next_bar() -> None:
    strategy = make(window_bars=5, entry_z=1.5)
    ctx = FillingContext()
    frame = frame_from_closes([100.0, 101.0, 99.0, 100.0, 92.0, 92.5])
    out = []
    for bar in bars_from_frame(frame):
        out.append(strategy.on_bar(bar, ctx))  # never filled
    assert out[4][0].tag == "entry_long"
    assert out[5][0].tag == "resync" and out[5][0].quantity == out[4][0].quantity


def test_an_order_that_changes_nothing_is_retried_with_back_off() -> None:
    strategy = make(window_bars=5, entry_z=1.5)
    ctx = FillingContext()  # never filled: as if risk rejected every order
    closes = [100.0, 101.0, 99.0, 100.0, 92.0] + [92.0 - 0.5 * i for i in range(1, 41)]
    sent = [i for i, bar in enumerate(bars_from_frame(frame_from_closes(closes)))
            if strategy.on_bar(bar, ctx)]
    assert sent[:6] == [4, 5, 7, 11, 19, 35]
    ctx.positions[("BTC/USDT", "venue_a")] = 1.0  # the position moved: back-off resets
    bar = bars_from_frame(frame_from_closes([92.0], start="2024-02-01"))[0]
    assert strategy.on_bar(bar, ctx)


@pytest.mark.parametrize("profile", ["conservative", "balanced", "aggressive"])
def test_live_path_equals_target_positions(profile: str) -> None:
    closes = random_walk(42, 12_000)
    closes[[100, 101, 102, 1500, 2200]] = np.nan
    values = dict(MeanReversionSettings.profile_defaults[profile])
    values["window_bars"] = 40  # short window: many decisions on a short series
    strategy = make(**values)
    frame = frame_from_closes(closes)
    batch = make(**values).target_positions(frame, 100_000.0)
    live, intents = run_bars(strategy, frame)
    assert len(intents) > 10
    np.testing.assert_allclose(live, batch, rtol=1e-12, atol=0.0)
    assert strategy.zscore("BTC/USDT") == pytest.approx(make(**values).signal(frame)[-1],
                                                       rel=1e-12)


closes_st = st.lists(st.one_of(st.floats(min_value=50.0, max_value=150.0), st.just(math.nan)),
                     min_size=2, max_size=150)


@settings(max_examples=40, deadline=None)
@given(closes=closes_st, data=st.data())
def test_target_positions_are_causal(closes: list[float], data: st.DataObject) -> None:
    strategy = make(window_bars=5, entry_z=1.0, allow_short=True, stop_loss_pct=1.0,
                    max_holding_bars=7)
    frame = frame_from_closes(closes)
    t = data.draw(st.integers(min_value=0, max_value=len(closes) - 1))
    whole = strategy.target_positions(frame, 50_000.0)
    prefix = strategy.target_positions(frame.iloc[:t + 1], 50_000.0)
    np.testing.assert_array_equal(prefix, whole[:t + 1])


@settings(max_examples=25, deadline=None)
@given(closes=closes_st)
def test_incremental_equals_batch_on_arbitrary_paths(closes: list[float]) -> None:
    values = dict(window_bars=4, entry_z=1.0, allow_short=True, stop_loss_pct=1.0,
                  max_holding_bars=5)
    frame = frame_from_closes(closes)
    live, _ = run_bars(make(**values), frame, 50_000.0)
    np.testing.assert_allclose(live, make(**values).target_positions(frame, 50_000.0),
                               rtol=1e-12, atol=0.0)


def test_numerically_sound_at_high_price_with_tiny_variance() -> None:
    rng = np.random.default_rng(5)
    closes = 1e5 + 1e-6 * rng.standard_normal(500)
    closes[200:300] = 1e5  # constant stretch
    strategy = make(window_bars=50, use_log_price=False)
    z = strategy.signal(frame_from_closes(closes))
    assert not np.isinf(z).any()
    assert np.all(z[249:300] == 0.0)  # windows wholly inside the constant stretch
    for t in (120, 260, 420):
        w = [float(v) - 1e5 for v in closes[t - 49:t + 1]]
        m = math.fsum(w) / 50
        sd = math.sqrt(math.fsum((v - m) ** 2 for v in w) / 49)
        expected = 0.0 if sd == 0 else (w[-1] - m) / sd
        assert z[t] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_constant_prices_never_trade() -> None:
    strategy = make(window_bars=10)
    assert not strategy.target_positions(frame_from_closes([250.0] * 100), 1e5).any()


def test_warm_up_primes_the_signal_without_positions() -> None:
    history = frame_from_closes(random_walk(1, 100))
    strategy = make(window_bars=20)
    assert math.isnan(strategy.zscore("BTC/USDT"))
    strategy.warm_up({"BTC/USDT": history})
    assert strategy.zscore("BTC/USDT") == pytest.approx(strategy.signal(history)[-1], rel=1e-12)
    other = make(window_bars=20)
    other.warm_up(history)  # a bare frame goes to the first instrument
    assert other.zscore("BTC/USDT") == strategy.zscore("BTC/USDT")


def test_decisions_frame() -> None:
    frame = frame_from_closes(random_walk(9, 500))
    out = make(window_bars=20, allow_short=True).decisions(frame, 1e5)
    assert list(out.columns) == ["zscore", "target", "reason"]
    assert set(out["reason"]) >= {"hold", "entry_long", "exit_z"}
    assert out.index.equals(frame.index)
