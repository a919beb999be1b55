"""Every path of a backtest hands each strategy its feeds (``Strategy.bind_feeds``) before
anything else: before ``on_start``, before the batch methods and before the first bar."""

from __future__ import annotations

from typing import Any

import pytest

from bot_core.backtest.driver import run_backtest
from bot_core.market import FeedSpec
from bot_core.strategy import Strategy

from .conftest import SmaCross
from .test_driver import _data, _plan


@pytest.mark.parametrize("fast", [None, False])
def test_strategies_learn_their_feeds_before_anything_else(host, write_config, monkeypatch,
                                                           fast: bool | None) -> None:
    calls: list[tuple[str, SmaCross, Any]] = []
    """(what, instance, feeds) in call order (a run may build a strategy once per path)."""

    def bind_feeds(self: SmaCross, feeds: Any) -> list[str]:
        calls.append(("bind_feeds", self, tuple(feeds)))
        return Strategy.bind_feeds(self, feeds)

    def on_start(self: SmaCross, ctx: Any) -> None:
        calls.append(("on_start", self, None))

    def signal(self: SmaCross, frame: Any) -> Any:
        calls.append(("signal", self, None))
        return original(self, frame)

    original = SmaCross.signal
    monkeypatch.setattr(SmaCross, "bind_feeds", bind_feeds)
    monkeypatch.setattr(SmaCross, "on_start", on_start)
    monkeypatch.setattr(SmaCross, "signal", signal)
    plan = _plan(host, write_config(), _data(300), strategies=("cross", "cross_b"))
    calls.clear()  # the plan bound its own instances to check the parameters
    result = run_backtest(plan, host, fast=fast)
    instances = {id(who): who for _, who, _ in calls}
    assert {who.name for who in instances.values()} == {"cross", "cross_b"}
    for instance in instances.values():
        mine = [(what, feeds) for what, who, feeds in calls if who is instance]
        assert mine[0][0] == "bind_feeds"
        feeds = mine[0][1]
        assert [(f.source, f.instrument, f.timeframe, f.rows) for f in feeds] == \
            [("btc", "BTC/USDT", "1m", 300), ("eth", "ETH/USDT", "1m", 300)]
        assert all(isinstance(f, FeedSpec) and f.periods_per_year == pytest.approx(525_960)
                   for f in feeds)
        assert {what for what, _ in mine[1:]} <= {"on_start", "signal"}
    assert result.bars == 600
