"""Journal fixtures: a real journal written by a real run.

A small strategy (registered through ``load_plugins(builtins=...)``, the path of an installed
plugin) trades a synthetic market through ``build_pipeline``'s TradingPipeline with the paper
venue and the core risk checks; the journal observer is registered on the host like any
observer plugin, so the journal holds what a run really produces: starts, decisions with their
inputs, approvals, reductions and rejections, orders, fills, the stop. Small files and a clock
that crosses UTC midnight make it span several files, rotated by size and by day.
"""

from __future__ import annotations

import itertools
import math
import shutil
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import bot_core
from bot_core.journal import JournalObserver, JournalSettings, JournalWriter, PipelineInputs
from bot_core.journal.keys import JournalKey, Keyring
from bot_core.market import Bar
from bot_core.orders import OrderIntent, Side, TimeInForce
from bot_core.runinfo import RunInfo
from bot_core.strategy import Strategy, StrategySettings

MINUTE_NS = 60 * 1_000_000_000
START_NS = 1_704_067_200 * 1_000_000_000  # 2024-01-01T00:00:00Z, the market's clock
WRITE_START_NS = START_NS - 5 * MINUTE_NS  # the writer's clock: 23:55, five minutes to midnight
SECRET_A = bytes(range(32))
SECRET_B = bytes(range(32, 64))


class ChurnSettings(StrategySettings):
    pass


class Churn(Strategy):
    """Buys and sells a little on most bars; every 7th bar asks for far too much (the risk
    engine reduces or rejects it). Tags carry free text, as a journal sees from plugins."""

    id = "churn"
    Settings = ChurnSettings
    data_kind = "ohlcv"

    def __init__(self, settings: Any, **kw: Any) -> None:
        super().__init__(settings, **kw)
        self.count = 0

    def on_bar(self, bar: Any, ctx: Any) -> list[OrderIntent]:
        self.count += 1
        if self.count % 3 == 0:
            return []
        side = Side.BUY if self.count % 4 < 2 else Side.SELL
        quantity = 50.0 if self.count % 7 == 0 else 0.5
        return [OrderIntent(self.name, bar.venue, bar.instrument, side, quantity,
                            ctx.new_client_order_id(), time_in_force=TimeInForce.IOC,
                            ts_ns=bar.ts_ns, tag=f"bar {self.count}")]


def plugin_module() -> types.SimpleNamespace:
    @bot_core.hookimpl
    def bot_core_register_strategies(register: Callable[[type[Strategy]], None]) -> None:
        register(Churn)

    return types.SimpleNamespace(BOT_CORE_API=">=1.0,<2", __name__="tests.journal.churn",
                                 bot_core_register_strategies=bot_core_register_strategies)


CONFIG = """
profile = "balanced"
name = "journal-bot"
instruments = ["BTC/USDT"]

[runtime]
initial_equity = 100000.0

[venues.paper_a]
adapter = "paper"
settings = { slippage_bps = 1.0, volume_cap = false }

[strategies.churn]
plugin = "churn"
instruments = ["BTC/USDT"]
venues = ["paper_a"]

[risk]
max_position_pct = 2.0
max_total_position_pct = 100.0
max_bucket_exposure_pct = 100.0
daily_loss_limit_pct = 50.0
drawdown_liquidation_pct = 60.0
max_leverage = 2.0
max_orders_per_minute = 600
checks = ["max_position", "max_leverage", "fat_finger", "stale_data", "duplicate_order"]
"""


def keyring(*keys: JournalKey) -> Keyring:
    return Keyring(keys or (JournalKey("k1", 0, SECRET_A),), "test keyring")


class StepClock:
    """The writer's wall clock: ``step_ns`` later on every reading."""

    def __init__(self, start_ns: int = WRITE_START_NS, step_ns: int = 1_000_000_000) -> None:
        self._ticks = itertools.count()
        self.start_ns, self.step_ns = start_ns, step_ns

    def __call__(self) -> int:
        return self.start_ns + next(self._ticks) * self.step_ns


def bars(n: int) -> Iterator[Bar]:
    for i in range(n):
        price = 100.0 + 5.0 * math.sin(i / 9.0)
        yield Bar("paper_a", "BTC/USDT", START_NS + i * MINUTE_NS, price, price * 1.001,
                  price * 0.999, price, 1e6)


def run_into_journal(tmp_path: Path, writer: JournalWriter, *, n_bars: int = 150,
                     run_id: str = "run1") -> int:
    """One run of the churn strategy with the journal observer registered; returns how many
    hook calls reached the observer."""
    from bot_core.config.resolve import resolve_config
    from bot_core.pipeline import build_pipeline

    config_path = tmp_path / "journal-bot.toml"
    config_path.write_text(CONFIG, encoding="utf-8")
    host = bot_core.load_plugins(builtins=[("churn", plugin_module())])
    resolved = resolve_config(config_path, plugins=host, environ={})
    run = RunInfo(run_id, "demo", START_NS, resolved.config)
    pipeline = build_pipeline(resolved, host, run)
    observer = JournalObserver(writer, inputs=PipelineInputs(pipeline), run_ids=[run_id])
    host.register_observer(observer, name="journal")
    before = writer.seq
    pipeline.start()
    try:
        for bar in bars(n_bars):
            pipeline.on_bar(bar)
    finally:
        pipeline.stop("completed")
        host.unregister_observer(observer)
    return writer.seq - before


@dataclass(frozen=True)
class Journal:
    directory: Path
    keyring: Keyring

    @property
    def files(self) -> list[Path]:
        return sorted(self.directory.glob("journal-*.jsonl"))


def write_journal(tmp_path: Path, directory: Path, *, max_file_bytes: int = 48_000,
                  n_bars: int = 150) -> Journal:
    ring = keyring()
    settings = JournalSettings(max_file_bytes=max_file_bytes)
    with JournalWriter(directory, "journal-bot", ring, run_id="run1", mode="demo",
                       settings=settings, clock=StepClock()) as writer:
        run_into_journal(tmp_path, writer, n_bars=n_bars)
    return Journal(directory, ring)


@pytest.fixture(scope="session")
def pristine_journal(tmp_path_factory: pytest.TempPathFactory) -> Journal:
    """Written once per session; tests tamper with copies (:func:`journal`)."""
    base = tmp_path_factory.mktemp("pristine")
    return write_journal(base, base / "journal-bot")


@pytest.fixture
def journal(pristine_journal: Journal, tmp_path: Path) -> Journal:
    copy = tmp_path / "journal-bot"
    shutil.copytree(pristine_journal.directory, copy)
    return Journal(copy, pristine_journal.keyring)


__all__ = ["SECRET_B", "Journal", "StepClock", "keyring", "run_into_journal", "write_journal"]
