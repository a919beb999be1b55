"""``bot-core smoke --mode paper --cycles 5``, exactly as CI runs it: the real CLI in a subprocess
opens the ccxt plugin's smoke venue (its Binance spot simulator on loopback), runs the shipped
strategies under each preset in paper mode on the simulator's market data (the ccxt source
polling it, orders filled by the paper venue), stops it, and exits 0 only if every stage worked.
A host test: it needs every shipped plugin (the ccxt plugin's own env has only the host and the
ccxt wheels)."""

from __future__ import annotations

import re
import socket

import bot_core

STAGES = ["source", "strategy", "risk", "venue", "portfolio"]
MARKET_DATA = re.compile(r"market data: the ccxt plugin's Binance spot simulator at "
                         r"http://127\.0\.0\.1:(\d+) \(stopped\)")


def _table_rows(stdout: str) -> list[list[str]]:
    """(preset, strategy, stage, status, detail) of each row of the smoke's table."""
    rows = []
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 5 and cells[3] in ("ok", "FAIL", "skip"):
            rows.append(cells)
    return rows


def test_paper_smoke_runs_on_the_simulator_and_stops_it(run_cli) -> None:
    result = run_cli("smoke", "--mode", "paper", "--cycles", "5", env={"COLUMNS": "250"},
                     timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    started = MARKET_DATA.fullmatch(result.stdout.splitlines()[0])
    assert started, result.stdout
    assert "bot-core smoke: 5 cycles, paper mode" in result.stdout
    assert result.stdout.rstrip().endswith("every stage of every strategy worked (45 rows)")

    rows = _table_rows(result.stdout)
    strategies = set(bot_core.load_plugins().strategies)
    assert strategies >= {"mean_reversion", "vol_target", "cross_arb"}
    for preset in ("conservative", "balanced", "aggressive"):
        for strategy in strategies:
            mine = [r for r in rows if (r[0], r[1]) == (preset, strategy)]
            assert [r[2] for r in mine] == STAGES, (preset, strategy)
            expected = "skip" if (preset, strategy) == ("conservative", "cross_arb") else "ok"
            assert {r[3] for r in mine} == {expected}, mine
    sources = [r for r in rows if r[2] == "source" and r[3] == "ok"]
    assert len(sources) == 8 and all(re.fullmatch(r"\d+ events from \d+ feeds", r[4])
                                      for r in sources)

    with socket.socket() as probe:  # the simulator is gone with the smoke
        probe.settimeout(2)
        assert probe.connect_ex(("127.0.0.1", int(started[1]))) != 0


def test_paper_smoke_without_a_smoke_venue_says_so_and_exits_2(run_cli) -> None:
    result = run_cli("smoke", "--mode", "paper", env={"BOT_CORE_DISABLE_PLUGINS": "ccxt"})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: smoke --mode paper: no installed plugin provides a smoke venue (local market "
        "data to run on; the ccxt exchange plugin has one); smoke your own paper configs with "
        "--config"]
    assert result.stdout == ""


def test_paper_smoke_needs_four_cycles(run_cli) -> None:
    result = run_cli("smoke", "--mode", "paper", "--cycles", "3")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: --cycles 3: at least 4 in paper mode (the first live bars come in the second "
        "cycle, then a probe order needs one to fill and one to close)"]
