"""The ccxt plugin's smoke venue: ``bot-core smoke --mode paper`` on the local exchange simulator.

:class:`SimulatorSmokeVenue` starts an :class:`~bot_core_ccxt.testing.server.ExchangeSimulator`
(127.0.0.1, an ephemeral port) for the length of a paper smoke and points the ``ccxt`` market
data source at it for every venue the smoke trades on, with 1-second bars so that a cycle lasts
a second and short request deadlines so that nothing waits long on it. Orders fill on the paper
venue, as in paper trading: nothing is sent to the simulator but market data requests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

from bot_core.runtime.smoke_venues import SmokeOverlay, SmokeVenue

__all__ = ["SimulatorSmokeVenue", "demo_universe_line", "source_settings"]


def source_settings(url: str, venues: Sequence[str]) -> dict[str, Any]:
    """``runtime.source_settings`` of the ``ccxt`` source: every venue's data served at ``url``."""
    served = {"api_base_url": url, "request_timeout_ms": 2_000, "deadline_ms": 5_000}
    return {"close_delay_ms": 100, "venues": {venue: dict(served) for venue in venues}}


class SimulatorSmokeVenue(SmokeVenue):
    """The Binance spot simulator as the market data of a paper smoke."""

    id = "ccxt"
    title = "the ccxt plugin's Binance spot simulator on 127.0.0.1, 1-second bars"

    @contextmanager
    def open(self) -> Iterator[SmokeOverlay]:
        from bot_core_ccxt.testing.server import ExchangeSimulator

        with ExchangeSimulator() as sim:
            yield SmokeOverlay(
                description=f"the ccxt plugin's Binance spot simulator at {sim.url}",
                url=sim.url, source="ccxt", source_settings=partial(source_settings, sim.url),
                timeframe="1s")


def demo_universe_line() -> str:
    """``universe = "demo"`` where the host's configs name their universe (the risk presets
    then no longer carry the shipped demo universe), else nothing."""
    from bot_core.config.models import BotConfig

    return 'universe = "demo"\n' if "universe" in BotConfig.model_fields else ""
