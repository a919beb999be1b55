"""``bot-core config init``: a commented config for the user's own datasets that validates
and backtests as written, and that a user edits by uncommenting lines."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

GOOG_CSV = Path(__file__).resolve().parent / "data" / "fixtures" / "yahoo_goog_1d.csv"


@pytest.fixture
def goog(run_cli) -> str:
    imported = run_cli("data", "import", str(GOOG_CSV), "--id", "goog", "--venue", "nasdaq",
                       "--instrument", "GOOG/USD", "--timeframe", "1d",
                       "--tz", "America/New_York")
    assert imported.returncode == 0, imported.stderr
    return "goog"


def test_the_written_config_validates_backtests_and_is_edited_by_uncommenting(
        run_cli, goog: str, tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    made = run_cli("config", "init", "--preset", "conservative", "--dataset", goog,
                   "--strategy", "mean_reversion", "-o", str(path))
    assert made.returncode == 0, made.stderr
    assert made.stdout == "" and f"wrote {path}" in made.stderr
    text = path.read_text()
    doc = tomllib.loads(text)
    assert doc["extends"] == "conservative"
    assert doc["instruments"] == ["GOOG/USD"] and doc["runtime"]["base_currency"] == "USD"
    assert doc["venues"] == {"nasdaq": {"adapter": "paper"}}
    assert doc["strategies"]["mean_reversion"]["timeframe"] == "1d"
    assert "# window_bars = 60  # Bars in the rolling window" in text  # conservative, daily
    assert "# max_position_pct = 10.0" in text

    validated = run_cli("config", "validate", str(path), "--json")
    assert validated.returncode == 0, validated.stderr
    sources = json.loads(validated.stdout)["sources"]
    assert sources["strategies.mean_reversion.params.window_bars"] == \
        "preset:conservative (1d bars)"

    backtest = run_cli("backtest", "--config", str(path), "--strategy", "mean_reversion",
                       "--dataset", goog, "--json")
    assert backtest.returncode == 0, backtest.stderr
    assert backtest.stderr == ""  # the config defines the strategy: nothing bound, no warning
    assert json.loads(backtest.stdout)["binding"] is None

    edited = path.read_text().replace("# window_bars = 60", "window_bars = 30").replace(
        "# [risk]", "[risk]").replace("# max_position_pct = 10.0", "max_position_pct = 5.0")
    path.write_text(edited)
    validated = run_cli("config", "validate", str(path), "--json")
    assert validated.returncode == 0, validated.stderr
    result = json.loads(validated.stdout)
    assert result["strategy_settings"]["mean_reversion"]["window_bars"] == 30
    assert result["config"]["risk"]["max_position_pct"] == 5.0
    assert result["sources"]["risk.max_position_pct"] == str(path)
    assert result["sources"]["risk.max_leverage"] == "preset:conservative"


def test_manual_gets_limits_to_choose_and_every_strategy_that_reads_the_data(
        run_cli, tmp_path: Path) -> None:
    made = run_cli("config", "init", "--preset", "manual", "--dataset",
                   "demo-btc-usdt-1m,demo-btc-usdt-quotes-venue_a",
                   "--dataset", "demo-btc-usdt-quotes-venue_b")
    assert made.returncode == 0, made.stderr
    doc = tomllib.loads(made.stdout)
    assert set(doc["strategies"]) >= {"mean_reversion", "vol_target", "cross_arb"}
    assert doc["strategies"]["cross_arb"]["venues"] == ["venue_a", "venue_b"]
    assert doc["risk"]["max_position_pct"] == 10.0  # conservative's, to choose from
    assert "gives no risk limits" in made.stdout
    path = tmp_path / "manual.toml"
    path.write_text(made.stdout)
    assert run_cli("config", "validate", str(path)).returncode == 0


@pytest.mark.parametrize(("args", "message"), [
    ([], "error: --dataset: give the datasets the config trades"),
    (["--dataset", "nope"], "error: --dataset nope: "),
    (["--dataset", "demo-btc-usdt-1m", "--strategy", "cross_arb"],
     "error: --strategy cross_arb: reads quotes data, but the datasets hold other data"),
    (["--dataset", "demo-btc-usdt-1m", "--preset", "bold"], "error: preset:bold: unknown preset"),
])
def test_bad_arguments_are_one_line_and_exit_2(run_cli, args: list[str], message: str) -> None:
    proc = run_cli("config", "init", *args)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message) and len(proc.stderr.splitlines()) == 1
    assert proc.stdout == ""


def test_an_existing_file_is_never_overwritten(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text("# mine\n")
    proc = run_cli("config", "init", "--dataset", "demo-btc-usdt-1m", "-o", str(path))
    assert proc.returncode == 2 and "already exists" in proc.stderr
    assert path.read_text() == "# mine\n"
