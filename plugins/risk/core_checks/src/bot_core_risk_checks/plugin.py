"""Entry point of the ``core_checks`` plugin: registers the nine core risk checks."""

from __future__ import annotations

from collections.abc import Callable

import bot_core
from bot_core_risk_checks import ALL_CHECKS

BOT_CORE_API = ">=1.3,<2"  # duplicate_order reads NumberedIds (1.3)


@bot_core.hookimpl
def bot_core_register_risk_checks(register: Callable[[type[bot_core.RiskCheck]], None]) -> None:
    for check in ALL_CHECKS:
        register(check)
