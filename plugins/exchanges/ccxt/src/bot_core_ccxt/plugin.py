"""Entry point of the ``ccxt`` plugin: the live venue adapter (and, once the runtime's market
data contract is there, the REST polling source).

Cheap to import: ccxt itself is imported only when a venue is built or its settings validated.
"""

from __future__ import annotations

from collections.abc import Callable

import bot_core
from bot_core import ExchangeAdapter

BOT_CORE_API = ">=1.0,<2"


@bot_core.hookimpl
def bot_core_register_exchanges(register: Callable[[type[ExchangeAdapter]], None]) -> None:
    from bot_core_ccxt.venue import CcxtVenue

    register(CcxtVenue)
