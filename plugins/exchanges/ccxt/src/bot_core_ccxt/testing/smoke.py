"""``python -m bot_core_ccxt.testing.smoke``: ``bot-core smoke --mode paper`` against the local
exchange simulator.

Starts the simulator, writes one config per shipped preset that takes its market data from
the simulator through the ``ccxt`` source (1-second bars, so that a cycle lasts a second),
runs the real ``bot-core smoke --mode paper --cycles N --config ...`` in a subprocess, stops
the simulator, and exits with the smoke's code: 0 only if every stage of every strategy worked.
Orders fill on the paper venue, as in paper trading: nothing is sent to the simulator but
market data requests.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bot_core_ccxt.testing.server import ExchangeSimulator

__all__ = ["PRESETS", "demo_universe_line", "main", "paper_configs"]

PRESETS = ("conservative", "balanced", "aggressive")

_CONFIG = """\
extends = "{preset}"
name = "paper-{preset}"
{universe}
[runtime]
source = "ccxt"

[runtime.source_settings]
close_delay_ms = 200

[runtime.source_settings.venues.venue_a]
api_base_url = "{url}"

[runtime.source_settings.venues.venue_b]
api_base_url = "{url}"

[strategies.mean_reversion]
timeframe = "1s"
warm_up_bars = 60

[strategies.vol_target]
timeframe = "1s"
warm_up_bars = 60
"""


def paper_configs(url: str, folder: Path, presets: Sequence[str] = PRESETS) -> list[Path]:
    """One paper-mode config per preset, its venues' market data served at ``url``."""
    paths = []
    for preset in presets:
        path = folder / f"{preset}.toml"
        path.write_text(_CONFIG.format(preset=preset, url=url, universe=demo_universe_line()),
                        encoding="utf-8")
        paths.append(path)
    return paths


def demo_universe_line() -> str:
    """``universe = "demo"`` where the host's configs name their universe (the risk presets
    then no longer carry the shipped demo universe), else nothing."""
    from bot_core.config.models import BotConfig

    return 'universe = "demo"\n' if "universe" in BotConfig.model_fields else ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot_core_ccxt.testing.smoke",
        description="bot-core smoke --mode paper on the market data of the local exchange "
        "simulator (started and stopped here).")
    parser.add_argument("--cycles", type=int, default=5, metavar="N",
                        help="cycles of one second (default 5; at least 3)")
    parser.add_argument("--json", action="store_true", help="print the smoke's JSON")
    args = parser.parse_args(argv)
    with ExchangeSimulator() as sim, tempfile.TemporaryDirectory(prefix="ccxt-smoke-") as tmp:
        command = [sys.executable, "-m", "bot_core", "smoke", "--mode", "paper",
                   "--cycles", str(args.cycles)]
        for path in paper_configs(sim.url, Path(tmp)):
            command += ["--config", str(path)]
        if args.json:
            command.append("--json")
        # bounded: start-up, warm-up and a second per cycle, with a wide margin
        result = subprocess.run(command, check=False, timeout=120 + 10 * max(args.cycles, 0))
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
