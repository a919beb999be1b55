"""Test helpers for plugin authors (and the host's own tests). Needs pytest; the equality
harnesses need hypothesis (both come with ``bot-core[testing]``).

In a plugin's ``tests/conftest.py``::

    from bot_core.testing import bot_core_home  # noqa: F401  (autouse: isolated BOT_CORE_HOME)

and in tests::

    from bot_core.testing import FillingContext, bars_from_frame, run_bars

The equality harnesses prove a plugin's fast forms equal to its own reference forms:

* :func:`assert_batch_form_agrees` with :func:`order_streams` (:mod:`bot_core.testing.risk`):
  a risk check's ``check_batch`` / ``accept_batch`` against its ``check()``;
* :func:`assert_fills_follow_bar_fill_model` with :func:`bar_scenarios`
  (:mod:`bot_core.testing.venues`): a simulated venue's ``bar_fill_model()`` against its own
  ``submit`` and ``on_market_data``.

Only the fixture needs pytest; the rest is plain Python over host types (the harnesses are
imported on first use).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot_core.market import Bar
from bot_core.orders import OrderIntent

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from bot_core.strategy import Strategy
    from bot_core.testing.risk import (
        OrderStream,
        assert_batch_form_agrees,
        judge_one_by_one,
        order_streams,
    )
    from bot_core.testing.venues import (
        BarScenario,
        assert_fills_follow_bar_fill_model,
        bar_scenarios,
    )

_HARNESSES = {
    "OrderStream": "bot_core.testing.risk",
    "assert_batch_form_agrees": "bot_core.testing.risk",
    "judge_one_by_one": "bot_core.testing.risk",
    "order_streams": "bot_core.testing.risk",
    "BarScenario": "bot_core.testing.venues",
    "assert_fills_follow_bar_fill_model": "bot_core.testing.venues",
    "bar_scenarios": "bot_core.testing.venues",
}
"""Names loaded on first use (they import hypothesis, numpy and the kernels)."""


def __getattr__(name: str) -> Any:
    module = _HARNESSES.get(name)
    if module is None:
        raise AttributeError(f"module 'bot_core.testing' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)

__all__ = [
    "BarScenario",
    "FillingContext",
    "OrderStream",
    "assert_batch_form_agrees",
    "assert_fills_follow_bar_fill_model",
    "bar_scenarios",
    "bars_from_frame",
    "bind_frame",
    "bot_core_home",
    "frame_from_closes",
    "judge_one_by_one",
    "order_streams",
    "random_walk",
    "run_bars",
]


@pytest.fixture(autouse=True)
def bot_core_home(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own ``BOT_CORE_HOME`` and no inherited plugin blocking, so nothing is
    written to the real state directory and tests cannot see each other's data."""
    home = tmp_path_factory.mktemp("bot-core-home")
    monkeypatch.setenv("BOT_CORE_HOME", str(home))
    monkeypatch.delenv("BOT_CORE_DISABLE_PLUGINS", raising=False)
    return home


class FillingContext:
    """A :class:`~bot_core.strategy.StrategyContext` whose orders fill at once and in full.

    ``fill(intents)`` books them; ``position`` is then the sum of what was sent. Useful to test
    a strategy's rule without a venue; use the paper venue for fills, fees and slippage.
    """

    def __init__(self, equity: float = 100_000.0, prefix: str = "test") -> None:
        self.equity = equity
        self.now_ns = 0
        self.prices: dict[str, float] = {}
        self.positions: dict[tuple[str, str], float] = {}
        self.issued: list[str] = []
        self._prefix = prefix

    def position(self, instrument: str, venue: str | None = None) -> float:
        if venue is None:
            return sum(q for (inst, _), q in self.positions.items() if inst == instrument)
        return self.positions.get((instrument, venue), 0.0)

    def last_price(self, instrument: str, venue: str | None = None) -> float:
        return self.prices.get(instrument, float("nan"))

    def new_client_order_id(self) -> str:
        self.issued.append(f"{self._prefix}-{len(self.issued) + 1}")
        return self.issued[-1]

    def fill(self, intents: Iterable[OrderIntent]) -> None:
        for intent in intents:
            key = (intent.instrument, intent.venue)
            self.positions[key] = self.positions.get(key, 0.0) + intent.signed_quantity


def frame_from_closes(closes: Sequence[float], start: str = "2024-01-01",
                      freq: str = "1min") -> pd.DataFrame:
    """An OHLCV frame (UTC index) whose open, high, low and close all equal ``closes``."""
    import numpy as np
    import pandas as pd

    close = np.asarray(closes, dtype=np.float64)
    index = pd.date_range(start, periods=len(close), freq=freq, tz="UTC")
    return pd.DataFrame({"open": close, "high": close, "low": close, "close": close,
                         "volume": np.ones(len(close))}, index=index)


def random_walk(seed: int, size: int, level: float = 100.0, sigma: float = 0.002) -> np.ndarray:
    """Seeded geometric random-walk prices: ``level * exp(cumsum(N(0, sigma)))``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return level * np.exp(np.cumsum(rng.normal(0.0, sigma, size)))


def bars_from_frame(frame: pd.DataFrame, instrument: str = "BTC/USDT",
                    venue: str = "venue_a") -> list[Bar]:
    """The bars of an OHLCV frame, as the live path delivers them."""
    return [Bar(venue, instrument, int(ts), float(o), float(h), float(lo), float(c), float(v))
            for ts, o, h, lo, c, v in zip(frame.index.as_unit("ns").asi8, frame["open"], frame["high"],
                                          frame["low"], frame["close"], frame["volume"],
                                          strict=True)]


def bind_frame(strategy: Strategy, frame: pd.DataFrame, *, instrument: str = "BTC/USDT",
               venue: str = "venue_a") -> list[str]:
    """Bind ``strategy`` (:meth:`~bot_core.Strategy.bind_feeds`) to one feed of ``frame``'s bar
    length and calendar (:meth:`bot_core.FeedSpec.from_timestamps`), open-ended as a live feed
    (``rows`` None), as the host would before its first bar; returns its warnings."""
    from dataclasses import replace

    from bot_core.market import FeedSpec

    spec = FeedSpec.from_timestamps(frame.index.as_unit("ns").asi8, venue=venue,
                                    instrument=instrument, kind=strategy.data_kind,
                                    source="the test frame")
    return strategy.bind_feeds([replace(spec, rows=None)])


def run_bars(strategy: Strategy, frame: pd.DataFrame, equity: float = 100_000.0, *,
             instrument: str = "BTC/USDT", venue: str = "venue_a"
             ) -> tuple[np.ndarray, list[OrderIntent]]:
    """Feed every bar of ``frame`` to ``strategy.on_bar`` with immediate fills.

    A strategy not bound to feeds yet is first bound to ``frame`` (:func:`bind_frame`).

    :return: the position after each bar, and every intent sent.
    """
    import numpy as np

    if not strategy.feeds:
        bind_frame(strategy, frame, instrument=instrument, venue=venue)
    ctx = FillingContext(equity)
    path: list[float] = []
    intents: list[OrderIntent] = []
    for bar in bars_from_frame(frame, instrument, venue):
        ctx.now_ns = bar.ts_ns
        ctx.prices[bar.instrument] = bar.close
        out = list(strategy.on_bar(bar, ctx))
        ctx.fill(out)
        intents += out
        path.append(ctx.position(bar.instrument, bar.venue))
    return np.asarray(path, dtype=np.float64), intents


