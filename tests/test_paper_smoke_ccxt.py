"""``bot-core smoke --mode paper`` end to end on the ccxt plugin's exchange simulator: the real
CLI in a subprocess, the ccxt source polling the simulator's market data, the shipped strategies
and risk checks, orders filled by the paper venue. A host test: it needs every shipped plugin
(the ccxt plugin's own env has only the host and the ccxt wheels)."""

from __future__ import annotations

import json

from bot_core_ccxt.testing.smoke import main


def test_paper_smoke_passes_on_the_simulator(capfd) -> None:
    assert main(["--cycles", "5", "--json"]) == 0  # the CI figure
    out, _ = capfd.readouterr()
    report = json.loads(out)
    assert report["ok"] is True and report["mode"] == "paper"
    rows = report["rows"]
    assert {r["preset"] for r in rows} == {"conservative.toml", "balanced.toml", "aggressive.toml"}
    assert all(r["status"] == "ok" for r in rows)
    sources = [r for r in rows if r["stage"] == "source"]
    assert len(sources) == 8 and all("events from" in r["detail"] for r in sources)
