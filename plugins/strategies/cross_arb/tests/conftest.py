"""Fixtures of the cross_arb plugin tests.

Every test gets an isolated BOT_CORE_HOME. The helpers (quotes, a context, and a synchronous
venue that answers every leg as a policy says) reach tests through the session fixture
``arb`` because test directories are not importable under ``--import-mode=importlib``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bot_core.market import Quote
from bot_core.orders import ExecutionReport, Fill, OrderIntent, OrderStatus
from bot_core.testing import bot_core_home  # noqa: F401 - autouse fixture


class Context:
    """A StrategyContext: equity, ids; cross_arb tracks its own inventory from fills."""

    def __init__(self) -> None:
        self.equity = 100_000.0
        self.now_ns = 0
        self.issued = 0

    def position(self, instrument: str, venue: str | None = None) -> float:
        return 0.0

    def last_price(self, instrument: str, venue: str | None = None) -> float:
        return float("nan")

    def new_client_order_id(self) -> str:
        self.issued += 1
        return f"arb-test-{self.issued}"


Policy = Callable[[OrderIntent], object]
"""What the venue does with an intent: a fill fraction in [0, 1], "reject" or "silent"."""


def fill_all(intent: OrderIntent) -> object:
    return 1.0


class SyncVenue:
    """Answers each intent at once, like the paper venue with quotes and no latency: an
    ACCEPTED report, then a fill, then CANCELLED for the unfilled rest of an IOC order. Intents
    returned by the strategy's callbacks are answered too (hedges, unwinds)."""

    def __init__(self, strategy: object, ctx: Context, policy: Policy = fill_all) -> None:
        self.strategy = strategy
        self.ctx = ctx
        self.policy = policy
        self.seen: list[OrderIntent] = []
        self.trades = 0

    def handle(self, intents: Iterable[OrderIntent], ts_ns: int) -> None:
        queue = list(intents)
        while queue:
            intent = queue.pop(0)
            self.seen.append(intent)
            answer = self.policy(intent)
            if answer == "silent":
                continue  # never reached a venue (rejected by risk)
            s = self.strategy
            cid = intent.client_order_id
            if answer == "reject":
                queue += s.on_order_update(  # type: ignore[attr-defined]
                    ExecutionReport(cid, OrderStatus.REJECTED, ts_ns, reason="rejected"), self.ctx)
                continue
            queue += s.on_order_update(  # type: ignore[attr-defined]
                ExecutionReport(cid, OrderStatus.ACCEPTED, ts_ns), self.ctx)
            qty = intent.quantity * float(answer)  # type: ignore[arg-type]
            if qty > 0:
                self.trades += 1
                price = intent.limit_price or 100.0
                fill = Fill(f"t{self.trades}", cid, intent.venue, intent.instrument, intent.side,
                            qty, price, 0.0, ts_ns, strategy_id=intent.strategy_id)
                queue += s.on_fill(fill, self.ctx)  # type: ignore[attr-defined]
            if float(answer) < 1.0:  # type: ignore[arg-type]
                queue += s.on_order_update(  # type: ignore[attr-defined]
                    ExecutionReport(cid, OrderStatus.CANCELLED, ts_ns, reason="ioc"), self.ctx)


def quote(venue: str, bid: float, ask: float, size: float = 1.0, ts_ns: int = 0,
          instrument: str = "BTC/USDT", bid_size: float | None = None,
          ask_size: float | None = None) -> Quote:
    return Quote(venue, instrument, ts_ns, bid, ask, size if bid_size is None else bid_size,
                 size if ask_size is None else ask_size)


def events(quotes_a: pd.DataFrame, quotes_b: pd.DataFrame, instrument: str = "BTC/USDT"
           ) -> list[Quote]:
    """Both frames as one quote stream: time order, venue_a first on equal timestamps."""
    out: list[tuple[int, int, Quote]] = []
    for rank, (venue, frame) in enumerate((("venue_a", quotes_a), ("venue_b", quotes_b))):
        for ts, bid, ask, bs, az in zip(frame.index.asi8, frame["bid"], frame["ask"],
                                        frame["bid_size"], frame["ask_size"], strict=True):
            out.append((int(ts), rank, Quote(venue, instrument, int(ts), bid, ask, bs, az)))
    out.sort(key=lambda e: (e[0], e[1]))
    return [q for _, _, q in out]


def quote_frames(seed: int, size: int, level: float = 100.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two venues quoting one random-walk mid with noise: crossings now and then."""
    rng = np.random.default_rng(seed)
    mid = level * np.exp(np.cumsum(rng.normal(0, 2e-4, size)))
    index = pd.date_range("2024-01-15", periods=size, freq="1s", tz="UTC")
    frames = []
    for _ in range(2):
        m = mid * (1 + rng.normal(0, 8e-4, size))
        half = m * 1e-4
        frames.append(pd.DataFrame({"bid": m - half, "ask": m + half,
                                    "bid_size": rng.uniform(0.5, 3, size),
                                    "ask_size": rng.uniform(0.5, 3, size)}, index=index))
    return frames[0], frames[1]


def replay(strategy: object, stream: Sequence[Quote], policy: Policy = fill_all
           ) -> tuple[list[OrderIntent], SyncVenue]:
    ctx = Context()
    venue = SyncVenue(strategy, ctx, policy)
    sent: list[OrderIntent] = []
    for q in stream:
        out = strategy.on_quote(q, ctx)  # type: ignore[attr-defined]
        sent += out
        venue.handle(out, q.ts_ns)
    return sent, venue


@pytest.fixture(scope="session")
def arb() -> SimpleNamespace:
    return SimpleNamespace(Context=Context, SyncVenue=SyncVenue, quote=quote, events=events,
                           quote_frames=quote_frames, replay=replay, fill_all=fill_all)
