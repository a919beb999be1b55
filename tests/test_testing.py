"""bot_core.testing: the helpers plugin authors test with."""

from __future__ import annotations

import os
from pathlib import Path

from bot_core import OrderIntent, Side, Strategy, StrategySettings
from bot_core.testing import FillingContext, bars_from_frame, frame_from_closes, run_bars


class _BuyBelow(Strategy):
    id = "buy_below"

    class Settings(StrategySettings):
        level: float = 100.0

    def on_bar(self, bar, ctx):  # type: ignore[no-untyped-def]
        want = 1.0 if bar.close < self.settings.level else 0.0  # type: ignore[attr-defined]
        delta = want - ctx.position(bar.instrument, bar.venue)
        if delta == 0:
            return ()
        side = Side.BUY if delta > 0 else Side.SELL
        return (OrderIntent(self.name, bar.venue, bar.instrument, side, abs(delta),
                            ctx.new_client_order_id(), ts_ns=bar.ts_ns),)


def test_home_fixture_isolates_state(bot_core_home: Path) -> None:
    assert os.environ["BOT_CORE_HOME"] == str(bot_core_home)
    assert bot_core_home.is_dir() and "BOT_CORE_DISABLE_PLUGINS" not in os.environ


def test_run_bars_fills_at_once_and_tracks_positions() -> None:
    frame = frame_from_closes([101, 99, 98, 102, 97])
    path, intents = run_bars(_BuyBelow(_BuyBelow.Settings()), frame)
    assert path.tolist() == [0.0, 1.0, 1.0, 0.0, 1.0]
    assert [(i.side, i.quantity) for i in intents] == [(Side.BUY, 1.0), (Side.SELL, 1.0),
                                                       (Side.BUY, 1.0)]
    assert [i.client_order_id for i in intents] == ["test-1", "test-2", "test-3"]


def test_bars_from_frame_and_context_views() -> None:
    frame = frame_from_closes([10.0, 11.0], freq="1h")
    bars = bars_from_frame(frame, "ETH/USDT", "venue_b")
    assert [(b.venue, b.instrument, b.close) for b in bars] == [("venue_b", "ETH/USDT", 10.0),
                                                                ("venue_b", "ETH/USDT", 11.0)]
    assert bars[1].ts_ns - bars[0].ts_ns == 3_600 * 10**9
    ctx = FillingContext(equity=5_000.0)
    ctx.fill([OrderIntent("s", "a", "ETH/USDT", Side.BUY, 2.0, "x"),
              OrderIntent("s", "b", "ETH/USDT", Side.SELL, 0.5, "y")])
    assert ctx.position("ETH/USDT", "a") == 2.0 and ctx.position("ETH/USDT") == 1.5
    assert ctx.last_price("ETH/USDT") != ctx.last_price("ETH/USDT")  # NaN until a price is set


def test_random_walk_is_seeded_and_positive() -> None:
    from bot_core.testing import random_walk

    first, again, other = random_walk(7, 500), random_walk(7, 500), random_walk(8, 500)
    assert (first == again).all() and not (first == other).all()
    assert first.shape == (500,) and (first > 0).all()
    assert abs(random_walk(1, 1, level=250.0, sigma=0.0)[0] - 250.0) < 1e-12


# -- the equality harnesses catch a fast form that lies ---------------------------------------


def test_the_batch_form_harness_catches_a_batch_form_that_differs() -> None:
    import numpy as np
    import pytest
    from hypothesis import Phase, given, settings

    from bot_core import OrderBatch, RiskCheck, RiskContext, Verdict
    from bot_core.testing import OrderStream, assert_batch_form_agrees, order_streams

    class SmallOrders(RiskCheck):
        """Rejects orders of more than 1 unit; its batch form may let larger ones through."""

        id = "small_orders"

        def check(self, intent: OrderIntent, ctx: RiskContext) -> Verdict:
            return Verdict.approve() if intent.quantity <= 1.0 else Verdict.reject("too_big")

        def check_batch(self, batch: OrderBatch) -> np.ndarray:
            return np.asarray(batch.quantity <= self.cap)

        cap = 1.0

    @settings(max_examples=100, deadline=None, database=None, phases=[Phase.generate],
              derandomize=True)
    @given(stream=order_streams(open_orders=True))
    def prove(stream: OrderStream) -> None:
        assert_batch_form_agrees(SmallOrders, stream)

    prove()
    SmallOrders.cap = 1e9
    with pytest.raises(AssertionError, match="check_batch True"):
        prove()


def test_the_venue_harness_catches_a_venue_that_fills_off_its_model() -> None:
    import pytest
    from hypothesis import Phase, given, settings

    from bot_core.testing import BarScenario, assert_fills_follow_bar_fill_model, bar_scenarios
    from bot_core_paper import PaperSettings, PaperVenue

    slip = [1.0]

    @settings(max_examples=100, deadline=None, database=None, phases=[Phase.generate],
              derandomize=True)
    @given(scenario=bar_scenarios())
    def prove(scenario: BarScenario) -> None:
        venue = PaperVenue(PaperSettings(slippage_bps=5.0), name="venue_a")
        venue._slippage_rate *= slip[0]  # what its fills do, not what its model says
        assert_fills_follow_bar_fill_model(venue, scenario)

    prove()
    slip[0] = 1.0 + 1e-7
    with pytest.raises(AssertionError, match="bar fill model"):
        prove()
