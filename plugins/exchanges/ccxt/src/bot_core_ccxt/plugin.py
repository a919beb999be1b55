"""Entry point of the ``ccxt`` plugin: the live venue adapter, the REST polling market data
source, and the exchange simulator as the smoke venue of ``bot-core smoke --mode paper``.

Cheap to import: ccxt itself is imported only when a venue is built or its settings validated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import bot_core
from bot_core import ExchangeAdapter

if TYPE_CHECKING:
    from bot_core.runtime.smoke_venues import SmokeVenue
    from bot_core.runtime.sources import MarketDataSource

BOT_CORE_API = ">=1.1,<2"


@bot_core.hookimpl
def bot_core_register_exchanges(register: Callable[[type[ExchangeAdapter]], None]) -> None:
    from bot_core_ccxt.venue import CcxtVenue

    register(CcxtVenue)


@bot_core.hookimpl
def bot_core_register_sources(register: Callable[[type[MarketDataSource]], None]) -> None:
    from bot_core_ccxt.source import CcxtSource

    register(CcxtSource)


@bot_core.hookimpl
def bot_core_register_smoke_venues(register: Callable[[type[SmokeVenue]], None]) -> None:
    from bot_core_ccxt.testing.smoke import SimulatorSmokeVenue

    register(SimulatorSmokeVenue)
