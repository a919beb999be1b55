"""``bot-core plugins show ID``: a component's origin, every parameter with type, range, unit,
description and default per risk profile, what it consumes and the bar lengths it suits; read
from the settings model itself, so the listing cannot drift from validation."""

from __future__ import annotations

import json

import pytest

from bot_core_mean_reversion import MeanReversionSettings


def test_a_strategy_lists_every_parameter_with_its_defaults_per_profile(run_cli) -> None:
    proc = run_cli("plugins", "show", "mean_reversion", "--json")
    assert proc.returncode == 0, proc.stderr
    (info,) = json.loads(proc.stdout)["components"]
    assert (info["kind"], info["id"], info["distribution"]) == \
        ("strategy", "mean_reversion", "bot-core-mean-reversion")
    assert info["version"] == "0.1.0"
    assert info["description"].startswith("Buy weakness, sell strength")
    assert info["consumes"] == "bars (OHLCV)"
    assert "made for 1m bars, with values of their own for 1h, 1d, 1w, 1M bars" in \
        info["timeframes"]
    params = {p["name"]: p for p in info["parameters"]}
    assert list(params) == list(MeanReversionSettings.model_fields)
    window = params["window_bars"]
    assert (window["type"], window["range"], window["unit"], window["default"]) == \
        ("int", "[2, 100000]", "bars", 60)
    assert window["profiles"] == {"conservative": 720, "balanced": 480, "aggressive": 360}
    assert window["timeframes"]["1d"] == {"conservative": 60, "balanced": 40, "aggressive": 20}
    assert window["description"].startswith("Bars in the rolling window of the z-score")
    assert params["stop_loss_pct"]["type"] == "float or none"
    assert params["stop_loss_pct"]["range"] == "(0, 50]" and params["stop_loss_pct"]["unit"] == "%"
    assert params["sizing"]["type"] == "one of: equity_pct, fixed_quantity"
    assert all(p["description"] for p in info["parameters"])

    table = run_cli("plugins", "show", "mean_reversion", env={"COLUMNS": "400"})
    assert table.returncode == 0, table.stderr
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in table.stdout.splitlines() if line.startswith("│")}
    assert list(rows) == list(params)
    # type, range, unit, default, conservative, balanced, aggressive, description
    assert rows["window_bars"][:7] == [
        "int", "[2, 100000]", "bars", "60", "720 (1h: 120, 1d: 60, 1w: 52, 1M: 24)",
        "480 (1h: 72, 1d: 40, 1w: 26, 1M: 12)", "360 (1h: 48, 1d: 20, 1w: 13, 1M: 6)"]


def test_a_quote_strategy_a_venue_and_a_risk_check(run_cli) -> None:
    arb = json.loads(run_cli("plugins", "show", "cross_arb", "--json").stdout)["components"][0]
    assert arb["consumes"].startswith("quotes") and arb["timeframes"].startswith("any quote")
    paper = json.loads(run_cli("plugins", "show", "paper", "--json").stdout)["components"][0]
    assert paper["kind"] == "exchange adapter (venue)"
    fee = next(p for p in paper["parameters"] if p["name"] == "taker_fee_bps")
    assert (fee["unit"], fee["range"], fee["default"]) == ("bps", "[0, 1000]", 5.0)
    assert fee["profiles"] == {}
    check = json.loads(run_cli("plugins", "show", "fat_finger", "--json").stdout)["components"]
    assert check[0]["kind"] == "risk check" and check[0]["distribution"] == "bot-core-risk-checks"
    assert check[0]["parameters"], "fat_finger has settings"


def test_a_plugin_name_shows_all_its_components(run_cli) -> None:
    proc = run_cli("plugins", "show", "core_checks", "--json")
    assert proc.returncode == 0, proc.stderr
    ids = [c["id"] for c in json.loads(proc.stdout)["components"]]
    assert "max_position" in ids and "stale_data" in ids and len(ids) >= 9


@pytest.mark.parametrize("ident", ["nope", "Mean_Reversion"])
def test_an_unknown_id_is_one_line_listing_what_is_installed(run_cli, ident: str) -> None:
    proc = run_cli("plugins", "show", ident)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: plugins show {ident}: no installed component or "
                                  "plugin has this id (strategy: cross_arb, mean_reversion")
    assert len(proc.stderr.splitlines()) == 1 and proc.stdout == ""
