"""The plugin's smoke venue, as ``bot-core smoke --mode paper`` uses it: found through the
plugin host, its simulator serving market data on loopback to the ccxt source configured by its
overlay while the block runs, and gone after it (also when the block fails). The paper smoke
itself runs in the host's tests (it needs the shipped strategies)."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import pytest

from bot_core import load_plugins
from bot_core.runtime.clock import WallClock
from bot_core.runtime.smoke_venues import open_smoke_venue, smoke_venue
from bot_core.runtime.sources import Subscription
from bot_core_ccxt.source import CcxtSource, CcxtSourceSettings
from bot_core_ccxt.testing.smoke import SimulatorSmokeVenue


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex((parts.hostname or "", parts.port or 0)) == 0


def test_the_plugin_provides_the_smoke_venue() -> None:
    host = load_plugins()
    assert host.smoke_venues == {"ccxt": SimulatorSmokeVenue}
    record = host.record("ccxt")
    assert record is not None and record.status == "enabled"
    assert record.components["smoke_venue"] == ["ccxt"]


def test_its_overlay_feeds_the_ccxt_source_from_the_simulator_until_the_block_ends() -> None:
    host = load_plugins()
    with open_smoke_venue(smoke_venue(host)) as overlay:
        assert urlsplit(overlay.url).hostname == "127.0.0.1"
        assert _listening(overlay.url)
        assert overlay.source == "ccxt" and host.sources["ccxt"].live
        assert overlay.timeframe == "1s"
        settings = CcxtSourceSettings.model_validate(overlay.source_settings(["venue_a"]))
        assert {v: s.api_base_url for v, s in settings.venues.items()} == {"venue_a": overlay.url}
        source = CcxtSource(settings, clock=WallClock())
        bars = Subscription("venue_a", "BTC/USDT", "ohlcv", "1s")
        source.subscribe([bars])
        frame = source.history(bars, 5, WallClock().now_ns())
        asyncio.run(source.close())
        assert len(frame) == 5 and frame["close"].gt(0).all()
    assert not _listening(overlay.url)


def test_the_simulator_stops_when_the_run_fails() -> None:
    with pytest.raises(RuntimeError, match="the run failed"), \
            open_smoke_venue(SimulatorSmokeVenue()) as overlay:
        url = overlay.url
        assert _listening(url)
        raise RuntimeError("the run failed")
    assert not _listening(url)
