"""``bot-core backtest`` and ``bot-core demo`` through the real CLI in a subprocess."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from bot_core.backtest.report import FILL_COLUMNS, TRADE_COLUMNS

REQUIRED = ("strategy", "dataset", "bars", "n_trades", "trades", "final_equity", "total_return",
            "sharpe", "max_drawdown", "elapsed_s")


def test_backtest_json_is_one_object_with_the_documented_fields(run_cli) -> None:
    proc = run_cli("backtest", "--preset", "balanced", "--strategy", "mean_reversion",
                   "--dataset", "demo-btc-usdt-1m", "--param", "window_bars=60", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in REQUIRED:
        assert key in out, key
    assert out["strategy"] == "mean_reversion" and out["dataset"] == "demo-btc-usdt-1m"
    assert out["bars"] == 43_200
    assert out["n_trades"] == sum(1 for t in out["trades"] if t["exit_time"] is not None) > 0
    assert out["final_equity"] == pytest.approx(100_000 * (1 + out["total_return"]))
    assert 0 <= out["max_drawdown"] < 1 and out["elapsed_s"] > 0
    assert out["risk"]["verdicts"]["approve"] > 0
    first = out["trades"][0]
    assert set(first) == set(TRADE_COLUMNS)
    assert first["entry_time"] < (first["exit_time"] or "9999")
    # the compiled replay is the default; --no-compiled runs the event path, same trades
    assert out["path"] == "compiled"
    python = run_cli("backtest", "--preset", "balanced", "--strategy", "mean_reversion",
                     "--dataset", "demo-btc-usdt-1m", "--param", "window_bars=60", "--json",
                     "--no-compiled")
    assert python.returncode == 0, python.stderr
    slow = json.loads(python.stdout)
    assert slow["path"] == "events"
    assert [(t["entry_time"], t["exit_time"], t["side"]) for t in slow["trades"]] == \
        [(t["entry_time"], t["exit_time"], t["side"]) for t in out["trades"]]
    assert slow["final_equity"] == pytest.approx(out["final_equity"], rel=1e-12)


def test_backtest_report_writes_plots_and_trades_csv(run_cli, tmp_path: Path) -> None:
    report = tmp_path / "report"
    proc = run_cli("backtest", "--strategy", "mean_reversion", "--dataset", "demo-eth-usdt-1m",
                   "--fee-bps", "0", "--fill-on-close", "--report", str(report), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["fees"] == 0.0  # --fee-bps 0 reached the paper venue
    data = (report / "report.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
    with (report / "trades.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == TRADE_COLUMNS
    assert len(rows) == len(out["trades"])
    with (report / "fills.csv").open(encoding="utf-8") as fh:
        fills = list(csv.DictReader(fh))
    assert tuple(fills[0]) == FILL_COLUMNS and len(fills) == out["n_fills"] >= out["n_trades"]
    with (report / "equity.csv").open(encoding="utf-8") as fh:
        equity = list(csv.DictReader(fh))
    assert len(equity) == out["bars"]
    # one time format in every file: trades.csv's, with the Z of UTC
    assert equity[0]["time"] == out["start"] and equity[0]["time"].endswith("Z")
    assert rows[0]["entry_time"].endswith("Z") and fills[0]["time"].endswith("Z")


def test_report_without_matplotlib_fails_first_and_creates_nothing(run_cli, tmp_path: Path) -> None:
    # matplotlib is a dependency; an installation that lacks it anyway is told so in one line,
    # before the run, and the report directory is not created
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoMatplotlib:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'matplotlib' or name.startswith('matplotlib.'):\n"
        "            raise ModuleNotFoundError(\"No module named 'matplotlib'\", name=name)\n"
        "sys.meta_path.insert(0, _NoMatplotlib())\n", encoding="utf-8")
    report = tmp_path / "report"
    proc = run_cli("backtest", "--strategy", "mean_reversion", "--dataset", "demo-btc-usdt-1m",
                   "--report", str(report), env={"PYTHONPATH": os.pathsep.join(
                       filter(None, (str(blocker), os.environ.get("PYTHONPATH"))))})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: --report needs matplotlib, which this installation lacks: "
        "pip install 'matplotlib>=3.8'"]
    assert not report.exists() and proc.stdout == ""
    # a report onto a file is refused before the run too
    (tmp_path / "taken").write_text("x", encoding="utf-8")
    proc = run_cli("backtest", "--strategy", "mean_reversion", "--dataset", "demo-btc-usdt-1m",
                   "--report", str(tmp_path / "taken"))
    assert proc.returncode == 2 and "exists and is not a directory" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_no_volume_cap_fills_orders_whole_on_bars_with_tick_volume(run_cli, tmp_path: Path) -> None:
    # an FX-like export: its volume counts ticks, far below the size of an order
    from bot_core.data.library import load_dataset

    frame = load_dataset("demo-btc-usdt-1m").iloc[:6000].copy()
    frame["volume"] = 0.02
    src = tmp_path / "ticks.csv"
    frame.to_csv(src)
    imported = run_cli("data", "import", str(src), "--id", "ticks", "--venue", "venue_a",
                       "--instrument", "BTC/USDT", "--timeframe", "1m")
    assert imported.returncode == 0, imported.stderr
    args = ("backtest", "--strategy", "mean_reversion", "--dataset", "ticks", "--param",
            "window_bars=60", "--json")
    capped = json.loads(run_cli(*args).stdout)
    uncapped_proc = run_cli(*args, "--no-volume-cap")
    assert uncapped_proc.returncode == 0, uncapped_proc.stderr
    uncapped = json.loads(uncapped_proc.stdout)
    # capped, each order is spread over many bars; one round trip is still one trade
    assert capped["n_fills"] > 5 * max(len(capped["trades"]), 1)
    assert capped["n_trades"] == sum(1 for t in capped["trades"] if t["exit_time"])
    # without the cap every order fills at once: one fill in and one out per round trip
    assert uncapped["path"] == "compiled"
    assert uncapped["n_trades"] > 5
    assert {t["fills"] for t in uncapped["trades"] if t["exit_time"]} == {2}


def test_backtest_table_output(run_cli) -> None:
    proc = run_cli("backtest", "--strategy", "vol_target", "--dataset", "demo-btc-usdt-1m")
    assert proc.returncode == 0, proc.stderr
    assert "total return" in proc.stdout and "max drawdown" in proc.stdout
    assert "vol_target" in proc.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--strategy", "nope", "--dataset", "demo-btc-usdt-1m"], "--strategy nope"),
    (["--strategy", "mean_reversion", "--dataset", "demo-xyz"], "--dataset demo-xyz"),
    (["--strategy", "mean_reversion", "--dataset", "demo-btc-usdt-quotes-venue_a"],
     "--strategy mean_reversion: reads ohlcv data, but the datasets hold other data "
     "(demo-btc-usdt-quotes-venue_a: quotes)"),
    (["--strategy", "mean_reversion", "--dataset", "demo-btc-usdt-1m", "--param", "bogus=1"],
     "--param bogus"),
    (["--strategy", "mean_reversion", "--dataset", "demo-btc-usdt-1m", "--param",
      "window_bars=abc"], "--param window_bars"),
    (["--strategy", "mean_reversion", "--dataset", "demo-btc-usdt-1m", "--param", "novalue"],
     "expected key=value"),
    (["--strategy", "mean_reversion", "--dataset", "demo-btc-usdt-1m", "--fee-bps", "-1"],
     "--fee-bps"),
    (["--preset", "nope", "--strategy", "mean_reversion", "--dataset", "demo-btc-usdt-1m"],
     "unknown preset"),
    (["--preset", "conservative", "--strategy", "cross_arb", "--dataset",
      "demo-btc-usdt-quotes-venue_a"], "disabled"),
    (["--strategy", "mean_reversion"], "--dataset"),
])
def test_bad_arguments_give_one_clear_line_and_exit_2(run_cli, args, message) -> None:
    proc = run_cli("backtest", *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_demo_runs_the_three_strategies_on_the_shipped_data(run_cli) -> None:
    proc = run_cli("demo", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["preset"] == "balanced"
    assert out["strategy"] == "mean_reversion,vol_target,cross_arb"
    assert len(out["dataset"].split(",")) == 8
    assert [row["strategy"] for row in out["per_strategy"]] == \
        ["mean_reversion", "vol_target", "cross_arb"]
    assert out["bars"] == 4 * 43_200 + 4 * 21_600
    assert sum(out["risk"]["verdicts"].values()) > 0
    pnl = sum(row["pnl"] for row in out["per_strategy"])
    assert out["final_equity"] == pytest.approx(100_000 + pnl, abs=1e-3)
