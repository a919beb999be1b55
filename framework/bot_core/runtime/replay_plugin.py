"""The host's built-in plugin: registers the ``replay`` market data source.

It is discovered with the installed entry points (``bot_core.plugins.HOST_PLUGINS``) and goes
through the same hook and checks as any third-party source.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from bot_core.runtime.sources import MarketDataSource

BOT_CORE_API = ">=1.0,<2"


@hookimpl
def bot_core_register_sources(register: Callable[[type[MarketDataSource]], None]) -> None:
    from bot_core.runtime.replay import ReplaySource

    register(ReplaySource)
