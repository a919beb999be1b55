"""Fixtures of the data-library tests: clean tables cut from the shipped demo data."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot_core.data.library import load_table
from bot_core.data.reader import Table

FIXTURES = Path(__file__).parent / "fixtures"


def _copy(table: Table, rows: int) -> Table:
    return Table(table.kind, table.ts_ms[:rows].copy(),
                 {k: v[:rows].copy() for k, v in table.values.items()})


@pytest.fixture(scope="session")
def _demo_bars() -> Table:
    return load_table("demo-btc-usdt-1m")


@pytest.fixture(scope="session")
def _demo_quotes() -> Table:
    return load_table("demo-eth-usdt-quotes-venue_b")


@pytest.fixture
def clean_bars(_demo_bars: Table) -> Table:
    """3,000 clean 1-minute BTC bars (a fresh copy each test may damage)."""
    return _copy(_demo_bars, 3000)


@pytest.fixture
def clean_quotes(_demo_quotes: Table) -> Table:
    """3,000 clean 1-second ETH quotes on venue_b, including a dislocation."""
    return _copy(_demo_quotes, 3000)


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
