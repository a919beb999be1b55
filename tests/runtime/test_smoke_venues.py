"""Smoke venues (``bot_core_register_smoke_venues``): how ``bot-core smoke --mode paper`` finds,
opens and always closes the one a plugin provides, and how it writes the venue's overlay into
the smoke configs. The real one (the ccxt plugin's simulator) runs in tests/test_paper_smoke_ccxt.py."""

from __future__ import annotations

import os
import textwrap
import tomllib
import types
from pathlib import Path

from bot_core import hookimpl, load_plugins
from bot_core.runtime.smoke_venues import SmokeOverlay, SmokeVenue, overlay_lines

PLUGIN = '''
from contextlib import contextmanager
from pathlib import Path

import bot_core
from bot_core.runtime.smoke_venues import SmokeOverlay, SmokeVenue

BOT_CORE_API = ">=1.1,<2"
MARKER = Path({marker!r})


class Fake(SmokeVenue):
    id = "fake"
    title = "a stand-in that {behaviour}"

    @contextmanager
    def open(self):
        if "{behaviour}" == "cannot bind":
            raise OSError("address already in use")
        MARKER.write_text("started")
        try:
            yield SmokeOverlay("a fake venue", "http://127.0.0.1:9", source="replay",
                               source_settings=lambda venues: {{}}, timeframe="1s")
        finally:
            MARKER.write_text("stopped")


@bot_core.hookimpl
def bot_core_register_smoke_venues(register):
    register(Fake)
'''


def _install(site: Path, behaviour: str, marker: Path) -> dict[str, str]:
    info = site / "bot_core_fake_venue-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bot-core-fake-venue\n"
                                   "Version: 1.0\n")
    (info / "entry_points.txt").write_text("[bot_core]\nfake_venue = fake_venue\n")
    (site / "fake_venue.py").write_text(textwrap.dedent(PLUGIN.format(
        marker=str(marker), behaviour=behaviour)))
    return {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}


def test_two_smoke_venues_are_refused_naming_both(run_cli, tmp_path: Path) -> None:
    env = _install(tmp_path / "site", "serves nothing", tmp_path / "marker")
    result = run_cli("smoke", "--mode", "paper", env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: smoke --mode paper: several installed plugins provide a smoke venue (ccxt "
        "(bot-core-ccxt), fake (bot-core-fake-venue)); block all but one with "
        "BOT_CORE_DISABLE_PLUGINS"]
    assert not (tmp_path / "marker").exists()  # refused before anything started


def test_a_smoke_venue_that_cannot_start_is_one_line_and_exit_1(run_cli, tmp_path: Path) -> None:
    env = _install(tmp_path / "site", "cannot bind", tmp_path / "marker")
    result = run_cli("smoke", "--mode", "paper", env={**env, "BOT_CORE_DISABLE_PLUGINS": "ccxt"})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: smoke venue 'fake' did not start: OSError: address already in use"]


def test_the_smoke_venue_is_stopped_when_the_run_fails(run_cli, tmp_path: Path) -> None:
    # its overlay names the replay source, which paper mode refuses: the run fails after start
    marker = tmp_path / "marker"
    env = _install(tmp_path / "site", "serves nothing", marker)
    result = run_cli("smoke", "--mode", "paper", env={**env, "BOT_CORE_DISABLE_PLUGINS": "ccxt"})
    assert result.returncode == 2
    assert "runtime.source 'replay' replays recorded data" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert marker.read_text() == "stopped"


def test_a_smoke_venue_without_a_title_breaks_its_plugin() -> None:
    class Untitled(SmokeVenue):
        id = "untitled"

        def open(self):  # type: ignore[override]
            raise NotImplementedError

    @hookimpl
    def bot_core_register_smoke_venues(register) -> None:  # type: ignore[no-untyped-def]
        register(Untitled)

    module = types.SimpleNamespace(BOT_CORE_API=">=1.1,<2",
                                   bot_core_register_smoke_venues=bot_core_register_smoke_venues)
    host = load_plugins(candidates=[], builtins=[("untitled", module)])
    record = host.record("untitled")
    assert record is not None and record.status == "broken"
    assert record.reason == "smoke venue Untitled: has no 'title'"
    assert host.smoke_venues == {}


def test_the_overlay_is_written_as_toml_that_reads_back_the_same() -> None:
    settings = {"close_delay_ms": 100, "ratio": 0.25, "tiny": 1e-05, "sandbox": False,
                "symbols": ["BTC/USDT", "ETH/USDT"], "path": 'C:\\data\\"q"\t\u00e9\U0001f600\x7f',
                "venues": {"venue_a": {"api_base_url": "http://127.0.0.1:1"}, "odd name": {}}}
    overlay = SmokeOverlay("d", "http://127.0.0.1:1", source="ccxt",
                           source_settings=lambda venues: {**settings, "for": list(venues)})
    text = "\n".join(overlay_lines(overlay, ["venue_a", "venue_b"])) + "\n"
    assert tomllib.loads(text) == {"runtime": {"source": "ccxt", "source_settings": {
        **settings, "for": ["venue_a", "venue_b"]}}}
