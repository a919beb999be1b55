"""``bot-core backtest`` and ``bot-core demo`` through the real CLI in a subprocess."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bot_core.backtest.report import TRADE_COLUMNS

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
    # the compiled replay is the default; --no-compiled runs the Python path, same trades
    assert out["path"] == "compiled"
    python = run_cli("backtest", "--preset", "balanced", "--strategy", "mean_reversion",
                     "--dataset", "demo-btc-usdt-1m", "--param", "window_bars=60", "--json",
                     "--no-compiled")
    assert python.returncode == 0, python.stderr
    slow = json.loads(python.stdout)
    assert slow["path"] == "fast"
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
    for name in ("equity.png", "drawdown.png"):
        data = (report / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
    with (report / "trades.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == TRADE_COLUMNS
    assert len(rows) == len(out["trades"])
    assert sum(1 for _ in (report / "equity.csv").open()) == out["bars"] + 1


def test_backtest_table_output(run_cli) -> None:
    proc = run_cli("backtest", "--strategy", "vol_target", "--dataset", "demo-btc-usdt-1m")
    assert proc.returncode == 0, proc.stderr
    assert "total return" in proc.stdout and "max drawdown" in proc.stdout
    assert "vol_target" in proc.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--strategy", "nope", "--dataset", "demo-btc-usdt-1m"], "--strategy nope"),
    (["--strategy", "mean_reversion", "--dataset", "demo-xyz"], "--dataset demo-xyz"),
    (["--strategy", "mean_reversion", "--dataset", "demo-btc-usdt-quotes-venue_a"],
     "not used by the selected strategies"),
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
