"""Fixtures: an isolated BOT_CORE_HOME, a started exchange simulator (always stopped), and
venues pointed at it with short timeouts so that every fault test ends in seconds."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot_core import Order, OrderIntent, OrderType, Side, TimeInForce
from bot_core.testing import bot_core_home  # noqa: F401 - autouse fixture
from bot_core_ccxt.settings import CcxtSettings
from bot_core_ccxt.testing import ExchangeSimulator
from bot_core_ccxt.venue import CcxtVenue

API_KEY = "k3y-0f-the-test-4ccount-A1B2C3"
API_SECRET = "s3cret-0f-the-test-4ccount-Z9Y8X7"
ENV = {"BOT_CORE_VENUE_SIM_API_KEY": API_KEY, "BOT_CORE_VENUE_SIM_API_SECRET": API_SECRET}

FAST = {"request_timeout_ms": 500, "deadline_ms": 6_000, "recv_window_ms": 1_000,
        "retry_initial_ms": 20, "retry_max_ms": 200}


@pytest.fixture
def api_credentials() -> tuple[str, str]:
    """The simulator account's (key, secret), to check they never show."""
    return API_KEY, API_SECRET


@pytest.fixture
def sim() -> Iterator[ExchangeSimulator]:
    simulator = ExchangeSimulator(api_key=API_KEY, api_secret=API_SECRET,
                                  balances={"USDT": 100_000.0, "BTC": 1.0})
    simulator.set_price("BTCUSDT", 30_000.0)
    with simulator:
        yield simulator


@pytest.fixture
def make_venue(sim: ExchangeSimulator) -> Iterator[Callable[..., CcxtVenue]]:
    venues: list[CcxtVenue] = []

    def make(connect: bool = True, environ: dict[str, str] | None = None,
             **settings: Any) -> CcxtVenue:
        values = {"exchange": "binance", "api_base_url": sim.url, **FAST, **settings}
        venue = CcxtVenue(CcxtSettings(**values), name="sim",
                          environ=ENV if environ is None else environ)
        venues.append(venue)
        if connect:
            venue.connect()
        return venue

    yield make
    for venue in venues:
        venue.close()


_ids = itertools.count(1)


def _order(side: Side, qty: float, *, limit: float | None = None,
           tif: TimeInForce = TimeInForce.GTC, reduce_only: bool = False,
           instrument: str = "BTC/USDT", cid: str | None = None) -> Order:
    intent = OrderIntent(
        strategy_id="s1", venue="sim", instrument=instrument, side=side, quantity=qty,
        client_order_id=cid or f"s1-run1-{next(_ids)}",
        order_type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
        limit_price=limit, time_in_force=tif, reduce_only=reduce_only)
    return Order(intent, qty)


@pytest.fixture
def new_order() -> Callable[..., Order]:
    """``new_order(side, qty, limit=..., tif=..., reduce_only=..., instrument=..., cid=...)``."""
    return _order
