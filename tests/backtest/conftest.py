"""Backtest test fixtures: a small bar strategy offering the batch contract (and the same rule
without it), synthetic OHLCV frames and a config that uses them.

The strategy is registered through ``load_plugins(builtins=...)``, the same registration path
as an installed plugin, so these tests do not depend on the strategy plugins' parameters.
"""

from __future__ import annotations

import math
import types
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numba import njit
from pydantic import Field

import bot_core
from bot_core import DecisionRule, OrderIntent, Side, Strategy, StrategySettings, TimeInForce
from bot_core.kernels import DECIDE_SIGNATURE

MINUTE_NS = 60 * 1_000_000_000
START_NS = 1_704_067_200 * 1_000_000_000  # 2024-01-01T00:00:00Z


class CrossSettings(StrategySettings):
    window: int = Field(10, ge=2, le=10_000, description="Moving-average length, bars [2, 10000].")
    notional_pct: float = Field(10.0, gt=0, le=100,
                                description="Target long notional, % of equity (0, 100].")
    short: bool = Field(False, description="Go short (not flat) below the average.")


# state: the side in force (+1, -1, 0) and its target; params: notional share, short allowed
@njit(DECIDE_SIGNATURE, cache=True, nogil=True)
def cross_decide(signal: np.ndarray, close: float, position: float, equity: float,
                 state: np.ndarray, params: np.ndarray) -> tuple[float, int]:
    """Long above the moving average (short or flat below), sized when the side changes."""
    mean = signal[1]
    if mean != mean:
        return state[1], 0
    side = 1.0 if close > mean else (-1.0 if params[1] > 0.0 else 0.0)
    if side != state[0]:
        state[0] = side
        state[1] = side * params[0] * equity / close
        return state[1], 1
    return state[1], 0


def moving_average(closes: list[float], window: int) -> list[float]:
    """The mean of every window of ``closes`` (NaN before the first full one), each summed
    exactly (``math.fsum``), as ``signal_update`` sums one window."""
    return [math.fsum(closes[i + 1 - window:i + 1]) / window if i + 1 >= window else math.nan
            for i in range(len(closes))]


class SmaCross(Strategy[CrossSettings]):
    """Long when the close is above its moving average (short or flat below): a target-position
    rule offering the batch contract (its ``on_bar`` is the base class's, following
    :func:`cross_decide`)."""

    id = "sma_cross"
    Settings = CrossSettings
    data_kind = "ohlcv"

    lifecycle: list[tuple[str, str]] = []
    """(``on_start`` or ``on_stop``, instance name), in call order, across instances."""

    def __init__(self, settings: Any, **kw: Any) -> None:
        super().__init__(settings, **kw)
        self._closes: dict[str, deque[float]] = {}

    def on_start(self, ctx: Any) -> None:
        SmaCross.lifecycle.append(("on_start", self.name))

    def on_stop(self, ctx: Any) -> None:
        SmaCross.lifecycle.append(("on_stop", self.name))

    def decision_rule(self) -> DecisionRule:
        params = np.array([self.settings.notional_pct / 100.0,
                           1.0 if self.settings.short else 0.0])
        return DecisionRule(cross_decide, params, 2, ("hold", "cross"))

    def signal(self, frame: Any) -> np.ndarray:
        close = frame["close"].to_numpy(dtype=np.float64)
        return np.column_stack([close, moving_average(close.tolist(), self.settings.window)])

    def signal_update(self, bar: Any) -> np.ndarray:
        window = self._closes.setdefault(bar.instrument, deque(maxlen=self.settings.window))
        window.append(bar.close)
        full = len(window) == self.settings.window
        return np.array([bar.close, math.fsum(window) / len(window) if full else math.nan])


class SmaCrossEvents(Strategy[CrossSettings]):
    """The same rule without the batch contract (its own ``on_bar``): backtests run it event
    by event."""

    id = "sma_cross_events"
    Settings = CrossSettings
    data_kind = "ohlcv"

    def __init__(self, settings: Any, **kw: Any) -> None:
        super().__init__(settings, **kw)
        self._closes: dict[str, deque[float]] = {}
        self._signals: dict[str, float] = {}
        self._targets: dict[str, float] = {}

    def on_bar(self, bar: Any, ctx: Any) -> list[OrderIntent]:
        window = self._closes.setdefault(bar.instrument, deque(maxlen=self.settings.window))
        window.append(bar.close)
        if len(window) == self.settings.window:
            mean = math.fsum(window) / len(window)
            side = 1.0 if bar.close > mean else (-1.0 if self.settings.short else 0.0)
            if side != self._signals.get(bar.instrument, 0.0):
                self._signals[bar.instrument] = side
                self._targets[bar.instrument] = \
                    side * self.settings.notional_pct / 100.0 * ctx.equity / bar.close
        # the target-position contract: trade the difference on every bar until it is gone
        target = self._targets.get(bar.instrument, 0.0)
        held = ctx.position(bar.instrument, bar.venue)
        delta = target - held
        if abs(delta) <= 1e-12 * max(abs(target), abs(held), 1.0):
            return []
        return [OrderIntent(self.name, bar.venue, bar.instrument,
                            Side.BUY if delta > 0 else Side.SELL, abs(delta),
                            ctx.new_client_order_id(), time_in_force=TimeInForce.IOC,
                            ts_ns=bar.ts_ns)]


def _plugin_module() -> types.SimpleNamespace:
    @bot_core.hookimpl
    def bot_core_register_strategies(register: Callable[[type[Strategy]], None]) -> None:
        register(SmaCross)
        register(SmaCrossEvents)

    return types.SimpleNamespace(BOT_CORE_API=">=1.0,<2", __name__="tests.sma_cross",
                                 bot_core_register_strategies=bot_core_register_strategies)


@pytest.fixture
def host() -> bot_core.PluginHost:
    return bot_core.load_plugins(builtins=[("sma_cross", _plugin_module())])


def make_bars(n: int, *, seed: int = 7, start: float = 100.0, vol: float = 0.002,
              drift: float = 0.0, volume: float = 1e6) -> Any:
    import pandas as pd

    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(drift, vol, n)))
    open_ = np.concatenate(([start], close[:-1]))
    high = np.maximum(open_, close) * 1.0005
    low = np.minimum(open_, close) * 0.9995
    index = pd.DatetimeIndex(START_NS + np.arange(n, dtype=np.int64) * MINUTE_NS, tz="UTC",
                             name="timestamp")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": np.full(n, volume)}, index=index)


CONFIG = """
profile = "balanced"
instruments = ["BTC/USDT", "ETH/USDT"]

[runtime]
initial_equity = 100000.0

[venues.venue_a]
adapter = "paper"
settings = {{ slippage_bps = {slippage}, taker_fee_bps = {fee}, maker_fee_bps = {fee} }}

[buckets.majors]
instruments = ["BTC/USDT", "ETH/USDT"]

[strategies.cross]
plugin = "{plugin}"
instruments = ["BTC/USDT", "ETH/USDT"]
venues = ["venue_a"]
params = {{ window = 10, notional_pct = {notional} }}

[strategies.cross_b]
plugin = "{plugin_b}"
instruments = ["BTC/USDT", "ETH/USDT"]
venues = ["venue_a"]
params = {{ window = 30, notional_pct = {notional_b}, short = true }}
enabled = {second}

[risk]
max_position_pct = {max_position}
max_total_position_pct = 100.0
max_bucket_exposure_pct = 100.0
daily_loss_limit_pct = {daily}
drawdown_liquidation_pct = {drawdown}
max_leverage = 2.0
max_orders_per_minute = 600
checks = {checks}
"""

ALL_CHECKS = ["max_position", "bucket_exposure", "max_leverage", "daily_loss", "drawdown",
              "order_rate", "duplicate_order", "fat_finger", "stale_data"]


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    def write(*, notional: float = 10.0, notional_b: float | None = None,
              max_position: float = 20.0, daily: float = 4.0, drawdown: float = 20.0,
              checks: list[str] | None = None, slippage: float = 0.0, fee: float = 0.0,
              second: bool = True, plugin: str = "sma_cross",
              plugin_b: str = "sma_cross") -> Path:
        path = tmp_path / f"bt-{len(list(tmp_path.glob('bt-*.toml')))}.toml"
        text = CONFIG.format(
            notional=notional, notional_b=notional if notional_b is None else notional_b,
            max_position=max_position, daily=daily, drawdown=drawdown,
            checks=checks if checks is not None else ALL_CHECKS, slippage=slippage, fee=fee,
            second="true" if second else "false", plugin=plugin, plugin_b=plugin_b)
        path.write_text(text.replace("'", '"'), encoding="utf-8")
        return path

    return write
