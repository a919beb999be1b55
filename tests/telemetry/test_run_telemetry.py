"""The real thing end to end: ``bot-core certs dev``, a demo bot under ``bot-core run
--grpc-addr --metrics-addr`` with the certificates' config fragment, watched live with
``bot-core metrics watch``, steered with ``bot-core control``, scraped over HTTP, stopped with
SIGINT (the servers go away with it)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from .conftest import bot_config


def _start(config: Path, home: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    env = {**os.environ, "BOT_CORE_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot_core", "run", "--config", str(config), "--json",
         "--grpc-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--speed", "60",
         "--duration", "30m"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        event = json.loads(line)
        if event["event"] == "telemetry":
            return proc, event
    proc.kill()
    raise AssertionError(f"no telemetry event: {proc.stderr.read() if proc.stderr else ''}")


def test_a_demo_bot_under_mtls_is_watched_steered_and_scraped(tmp_path: Path, run_cli: Any,
                                                              bot_core_home: Path) -> None:
    made = run_cli("certs", "dev", str(tmp_path / "certs"), timeout=60)
    assert made.returncode == 0, made.stderr
    certs = tmp_path / "certs"
    config = bot_config(tmp_path, "alpha", "balanced", (certs / "telemetry.toml").read_text())
    proc, event = _start(config, bot_core_home)
    try:
        assert event["grpc_tls"] == "mtls"
        relay = psutil.Process(event["grpc_relay_pid"])  # the server runs in a relay process
        assert relay.ppid() == proc.pid and "bot_core.control.relay" in relay.cmdline()
        addr, url = event["grpc_addr"], event["metrics_url"]
        assert addr.startswith("127.0.0.1:") and url.startswith("http://127.0.0.1:")
        viewer = ["--tls-ca", str(certs / "ca.crt"), "--tls-cert", str(certs / "viewer.crt"),
                  "--tls-key", str(certs / "viewer.key")]
        watched = run_cli("metrics", "watch", addr, *viewer, "--json", "--count", "40",
                          timeout=60)
        assert watched.returncode == 0, watched.stderr
        updates = [json.loads(line) for line in watched.stdout.splitlines()]
        assert len(updates) == 40
        assert {u["bot"] for u in updates if "bot" in u} == {"alpha"}
        assert any(u.get("metric") == "bot_core_equity" for u in updates)
        admin = ["--tls-ca", str(certs / "ca.crt"), "--tls-cert", str(certs / "admin.crt"),
                 "--tls-key", str(certs / "admin.key")]
        halted = run_cli("control", addr, *admin, "halt", "end-to-end test", timeout=60)
        assert halted.returncode == 0, halted.stderr
        assert halted.stdout.strip() == "alpha: trading_state: active -> halted"
        with urllib.request.urlopen(url, timeout=10) as response:
            scraped = response.read().decode()
        assert 'bot_core_trading_state{bot="alpha",profile="balanced",state="halted"} 1.0' \
            in scraped
        assert 'bot_core_journal_records{bot="alpha",profile="balanced"}' in scraped
        assert 'bot_core_control_calls_total{code="OK",method="SetTradingState",role="admin"}' \
            in scraped
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    control = [e for e in events if e["event"] == "control"]
    assert {"action": "SetTradingState", "identity": "spiffe://bot-core/admin",
            "result": "OK"}.items() <= next(e for e in control
                                             if e["action"] == "SetTradingState").items()
    port = int(addr.rpartition(":")[2])
    with socket.socket() as probe:  # the gRPC port was given back
        probe.bind(("127.0.0.1", port))
