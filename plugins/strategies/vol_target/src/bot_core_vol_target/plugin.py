"""Entry point of the ``bot-core-vol-target`` distribution (group ``bot_core``)."""

from __future__ import annotations

from collections.abc import Callable

import bot_core
from bot_core_vol_target.strategy import VolTargetStrategy

BOT_CORE_API = ">=1.1,<2"


@bot_core.hookimpl
def bot_core_register_strategies(register: Callable[[type[bot_core.Strategy]], None]) -> None:
    register(VolTargetStrategy)
