"""Fixtures of the vol_target plugin tests.

Every test gets an isolated BOT_CORE_HOME. The helpers (a context whose orders fill at once,
synthetic frames) are handed to tests through the session fixture ``vt`` because test
directories are not importable under ``--import-mode=importlib``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bot_core.market import Bar
from bot_core.orders import OrderIntent


@pytest.fixture(autouse=True)
def bot_core_home(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("bot-core-home")
    monkeypatch.setenv("BOT_CORE_HOME", str(home))
    monkeypatch.delenv("BOT_CORE_DISABLE_PLUGINS", raising=False)
    return home


class FillingContext:
    """A StrategyContext whose orders fill at once: position = sum of the intents so far."""

    def __init__(self, equity: float = 100_000.0) -> None:
        self.equity = equity
        self.now_ns = 0
        self.positions: dict[tuple[str, str], float] = {}
        self.issued: list[str] = []

    def position(self, instrument: str, venue: str | None = None) -> float:
        return self.positions.get((instrument, venue or ""), 0.0)

    def last_price(self, instrument: str, venue: str | None = None) -> float:
        return float("nan")

    def new_client_order_id(self) -> str:
        self.issued.append(f"vt-test-{len(self.issued) + 1}")
        return self.issued[-1]

    def fill(self, intents: Iterable[OrderIntent]) -> None:
        for intent in intents:
            key = (intent.instrument, intent.venue)
            self.positions[key] = self.positions.get(key, 0.0) + intent.signed_quantity


def frame_from_closes(closes: Sequence[float], start: str = "2024-01-01") -> pd.DataFrame:
    close = np.asarray(closes, dtype=float)
    index = pd.date_range(start, periods=len(close), freq="1min", tz="UTC")
    return pd.DataFrame({"open": close, "high": close, "low": close, "close": close,
                         "volume": np.ones(len(close))}, index=index)


def bars(frame: pd.DataFrame, instrument: str = "BTC/USDT", venue: str = "venue_a"
         ) -> list[Bar]:
    return [Bar(venue, instrument, int(ts), o, h, lo, c, v) for ts, o, h, lo, c, v in zip(
        frame.index.asi8, frame["open"], frame["high"], frame["low"], frame["close"],
        frame["volume"], strict=True)]


def random_walk(seed: int, size: int, level: float = 100.0, sigma: float = 0.002
                ) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return level * np.exp(np.cumsum(rng.normal(0.0, sigma, size)))


def run_live(strategy: object, frame: pd.DataFrame, equity: float = 100_000.0
             ) -> tuple[np.ndarray, list[OrderIntent]]:
    """Feed every bar to on_bar with immediate fills; the position after each bar."""
    ctx = FillingContext(equity)
    path = []
    intents: list[OrderIntent] = []
    for bar in bars(frame):
        out = strategy.on_bar(bar, ctx)  # type: ignore[attr-defined]
        ctx.fill(out)
        intents += out
        path.append(ctx.position(bar.instrument, bar.venue))
    return np.array(path), intents


@pytest.fixture(scope="session")
def vt() -> SimpleNamespace:
    """The helpers above, for tests (including hypothesis tests, hence session scope)."""
    return SimpleNamespace(FillingContext=FillingContext, frame_from_closes=frame_from_closes,
                           bars=bars, random_walk=random_walk, run_live=run_live)
