"""Entry point of the ``paper`` plugin: registers the simulated venue.

Cheap to import (no numpy, no pandas) so that ``bot-core plugins list`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable

import bot_core
from bot_core import ExchangeAdapter

BOT_CORE_API = ">=1.0,<2"


@bot_core.hookimpl
def bot_core_register_exchanges(register: Callable[[type[ExchangeAdapter]], None]) -> None:
    from bot_core_paper.venue import PaperVenue

    register(PaperVenue)
