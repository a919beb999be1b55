"""`bot-core run` as a subprocess: SIGTERM stops it gracefully (exit 0, open orders cancelled or
kept per runtime.on_shutdown, every on_stop called, bot_core_on_stop told why); a second
signal forces the exit.

The probe is a real third-party plugin (a distribution with an entry point, on PYTHONPATH): a
strategy that rests one limit order far from the market, and observer hooks that write what
they saw to files.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

PROBE = '''
import os
import time
from pathlib import Path

from bot_core import OrderIntent, OrderType, Side, Strategy, StrategySettings, hookimpl

BOT_CORE_API = ">=1.0,<2"


def _note(name, text):
    with open(Path(os.environ["PROBE_DIR"]) / name, "a") as handle:
        handle.write(text + "\\n")


class RestingProbe(Strategy):
    """Rests one buy limit 5 % under the first close (it stays open)."""

    id = "resting_probe"
    Settings = StrategySettings
    data_kind = "ohlcv"

    def on_bar(self, bar, ctx):
        if getattr(self, "sent", False):
            return []
        self.sent = True
        return [OrderIntent(self.name, bar.venue, bar.instrument, Side.BUY, 0.01,
                            ctx.new_client_order_id(), order_type=OrderType.LIMIT,
                            limit_price=round(bar.close * 0.95, 2), ts_ns=bar.ts_ns)]

    def on_stop(self, ctx):
        _note("on_stop", self.name)
        if os.environ.get("PROBE_SLOW_STOP"):
            time.sleep(30)


@hookimpl
def bot_core_register_strategies(register):
    register(RestingProbe)


@hookimpl
def bot_core_on_order(run, order):
    _note("orders", f"{order.client_order_id} {order.status.value}")


@hookimpl
def bot_core_on_stop(run, reason):
    _note("on_stop_hook", f"{run.config.name} {reason}")
'''

CONFIG = '''
extends = "balanced"
universe = "demo"
name = "probe_bot"

[runtime]
on_shutdown = "{policy}"

[strategies.mean_reversion]
enabled = false

[strategies.vol_target]
enabled = false

[strategies.cross_arb]
enabled = false

[strategies.probe_a]
plugin = "resting_probe"
instruments = ["BTC/USDT"]
venues = ["venue_a"]

[strategies.probe_b]
plugin = "resting_probe"
instruments = ["ETH/USDT"]
venues = ["venue_a"]
'''


@pytest.fixture
def probe_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    info = site / "bot_core_shutdown_probe-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bot-core-shutdown-probe\n"
                                   "Version: 1.0\n")
    (info / "entry_points.txt").write_text("[bot_core]\nshutdown_probe = shutdown_probe\n")
    (site / "shutdown_probe.py").write_text(textwrap.dedent(PROBE))
    return site


def _start(tmp_path: Path, site: Path, policy: str, bot_core_home: Path,
           extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    config = tmp_path / "probe.toml"
    config.write_text(CONFIG.format(policy=policy))
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    env = {**os.environ, "BOT_CORE_HOME": str(bot_core_home), "PROBE_DIR": str(probe_dir),
           "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           **(extra_env or {})}
    # 120x the recorded pace: one 1-minute bar every half second, so the run is still going
    # when the signal comes
    return subprocess.Popen([sys.executable, "-m", "bot_core", "run", "--config", str(config),
                             "--speed", "120", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _read_until(proc: subprocess.Popen[str], wanted: str, timeout_s: float) -> list[dict]:
    """JSON events from stdout until one of kind ``wanted`` (bounded in time)."""
    assert proc.stdout is not None
    events: list[dict] = []
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(deadline - time.monotonic(), 0.01)):
                continue
            line = proc.stdout.readline()
            if not line:
                break
            events.append(json.loads(line))
            if events[-1]["event"] == wanted:
                return events
    finally:
        selector.close()
    proc.kill()
    proc.communicate(timeout=30)
    raise AssertionError(f"no {wanted!r} event within {timeout_s} s: {events[-3:]}")


def _orders_open(events: list[dict]) -> bool:
    return sum(1 for e in events if e["event"] == "decision" and e["verdict"] == "approve") >= 2


@pytest.mark.parametrize("policy", ["cancel", "keep"])
def test_sigterm_stops_gracefully_per_on_shutdown(tmp_path: Path, probe_site: Path,
                                                  bot_core_home: Path, policy: str) -> None:
    proc = _start(tmp_path, probe_site, policy, bot_core_home)
    events = _read_until(proc, "decision", 120)
    while not _orders_open(events):
        events += _read_until(proc, "decision", 60)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    events += [json.loads(line) for line in out.splitlines()]
    assert "SIGTERM: stopping gracefully" in err
    shutdown = next(e for e in events if e["event"] == "shutdown")
    assert shutdown["bot"] == "probe_bot"
    assert shutdown["reason"] == "interrupted: SIGTERM"
    assert shutdown["open_before"] == 2
    probe = tmp_path / "probe"
    statuses = (probe / "orders").read_text().split()
    if policy == "cancel":
        assert (shutdown["cancelled"], shutdown["kept"]) == (2, 0)
        assert statuses.count("cancelled") == 2
    else:
        assert (shutdown["cancelled"], shutdown["kept"]) == (0, 2)
        assert "cancelled" not in statuses
    assert sorted((probe / "on_stop").read_text().split()) == ["probe_a", "probe_b"]
    assert (probe / "on_stop_hook").read_text().strip() == "probe_bot interrupted: SIGTERM"
    stop = next(e for e in events if e["event"] == "stop")
    assert stop["reason"] == "interrupted: SIGTERM"


def test_a_second_signal_forces_the_exit(tmp_path: Path, probe_site: Path,
                                         bot_core_home: Path) -> None:
    proc = _start(tmp_path, probe_site, "cancel", bot_core_home, {"PROBE_SLOW_STOP": "1"})
    _read_until(proc, "decision", 120)
    proc.send_signal(signal.SIGTERM)
    _read_until(proc, "shutdown", 60)  # now inside the (30 s) on_stop
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + signal.SIGTERM
    assert time.monotonic() - started < 15
    assert "forced exit" in err
