"""A live run through the real CLI against the ccxt plugin's exchange simulator: promoted to
live, confirmed and pinned, the ccxt source for market data and the ccxt venue for orders.
Nothing leaves the machine (the simulator listens on 127.0.0.1) and no credential is written.

A host test: it needs the shipped strategies and risk checks beside the ccxt plugin.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bot_core_ccxt.testing import ExchangeSimulator
from bot_core_ccxt.testing.smoke import demo_universe_line

KEY, SECRET = "live-sim-key-7f3a9c", "live-sim-secret-b81d44"
PINNED = ["bot-core-vol-target==0.1.0", "bot-core-mean-reversion==0.1.0",
          "bot-core-cross-arb==0.1.0", "bot-core-risk-checks==0.1.0", "bot-core-ccxt==0.1.0",
          "bot-core-paper==0.1.0"]


def _config(url: str, pinned: list[str]) -> str:
    venues = "".join(f'[venues.{v}]\nadapter = "ccxt"\n[venues.{v}.settings]\n'
                     f'api_base_url = "{url}"\n'
                     f'[runtime.source_settings.venues.{v}]\napi_base_url = "{url}"\n'
                     for v in ("venue_a", "venue_b"))
    return f"""extends = "balanced"
name = "live-sim"
{demo_universe_line()}
[plugins]
require = {json.dumps(pinned)}

[runtime]
source = "ccxt"

[runtime.source_settings]
close_delay_ms = 200

[runtime.promotion.to_paper]
min_cycles = 0
min_hours = 0

[runtime.promotion.to_live]
min_cycles = 0
min_hours = 0

[strategies.mean_reversion]
enabled = false

[strategies.cross_arb]
enabled = false

[strategies.vol_target]
timeframe = "1s"
warm_up_bars = 60

{venues}"""


@pytest.fixture
def sim():
    with ExchangeSimulator(api_key=KEY, api_secret=SECRET, balances={"USDT": 100_000.0}) as simulator:
        yield simulator


def test_a_live_run_on_the_simulator_trades_once_per_decision(run_cli, sim, tmp_path: Path,
                                                              bot_core_home: Path) -> None:
    config = tmp_path / "live.toml"
    config.write_text(_config(sim.url, PINNED))
    env = {"BOT_CORE_JOURNAL_KEY": "j" * 40}
    for venue in ("VENUE_A", "VENUE_B"):
        env |= {f"BOT_CORE_VENUE_{venue}_API_KEY": KEY, f"BOT_CORE_VENUE_{venue}_API_SECRET": SECRET}
    run = ["run", "--config", str(config), "--mode", "live", "--cycles", "6", "--json"]

    refused = run_cli(*run, "--confirm", "live-sim", env=env)
    assert refused.returncode == 1 and "promote it first" in refused.stderr
    for target in ("paper", "live"):
        promoted = run_cli("pipeline", "promote", "--config", str(config), "--to", target,
                           "--confirm", "live-sim", env=env)
        assert promoted.returncode == 0, promoted.stderr
    unconfirmed = run_cli(*run, env=env)
    assert unconfirmed.returncode == 1 and "confirm" in unconfirmed.stderr
    assert sim.orders_placed() == []

    result = run_cli(*run, "--confirm", "live-sim", env=env)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = Counter(e["event"] for e in events)
    assert kinds["start"] == kinds["stop"] == 1 and events[-1]["reason"] == "completed"
    fills = [e for e in events if e["event"] == "fill"]
    placed = sim.orders_placed()
    assert fills and len(placed) == kinds["decision"] == len(fills)  # one venue order each
    assert len({o.client_order_id for o in placed}) == len(placed)
    for fill, order in zip(fills, placed, strict=True):
        assert fill["quantity"] == pytest.approx(float(order.executed_qty))  # venue-rounded
        assert fill["price"] == pytest.approx(float(order.fills[0].price))

    written = [p.read_bytes() for p in bot_core_home.rglob("*") if p.is_file()]
    for secret in (KEY, SECRET):
        assert secret not in result.stdout + result.stderr
        assert not any(secret.encode() in data for data in written)


def test_a_live_run_refuses_an_unpinned_venue_plugin(run_cli, sim, tmp_path: Path) -> None:
    config = tmp_path / "live.toml"
    config.write_text(_config(sim.url, [p for p in PINNED if "ccxt" not in p]))
    assert run_cli("pipeline", "promote", "--config", str(config), "--to", "paper").returncode == 0
    promoted = run_cli("pipeline", "promote", "--config", str(config), "--to", "live",
                       "--confirm", "live-sim")
    assert promoted.returncode == 1 and "bot-core-ccxt" in promoted.stdout + promoted.stderr
    result = run_cli("run", "--config", str(config), "--mode", "live", "--confirm", "live-sim",
                     "--cycles", "3", env={"BOT_CORE_JOURNAL_KEY": "j" * 40})
    assert result.returncode == 1 and "may not run in live mode" in result.stderr
    assert sim.orders_placed() == []
