"""A strategy no config defines is bound to the datasets given: their instruments on paper
venues, the quote currency as the base currency, one bucket per dataset, the strategy on the
data's bar length, under the preset's (or the config file's) limits; said in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bot_core
from bot_core.backtest.plan import DataSpec, plan_backtest
from bot_core.errors import ConfigError, UsageError

from .conftest import make_bars

GOOG_CSV = Path(__file__).resolve().parents[1] / "data" / "fixtures" / "yahoo_goog_1d.csv"
"""Two years of GOOG-like daily bars as Yahoo Finance exports them: weekdays only, without
the NYSE holidays (501 rows, 2022-01-03 .. 2023-12-29)."""


@pytest.fixture(scope="module")
def installed() -> bot_core.PluginHost:
    return bot_core.load_plugins()


@pytest.fixture
def goog(run_cli) -> str:
    imported = run_cli("data", "import", str(GOOG_CSV), "--id", "goog", "--venue", "nasdaq",
                       "--instrument", "GOOG/USD", "--timeframe", "1d",
                       "--tz", "America/New_York")
    assert imported.returncode == 0, imported.stderr
    return "goog"


def test_an_imported_daily_stock_backtests_with_no_config(run_cli, goog: str,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("backtest", "--strategy", "mean_reversion", "--dataset", goog,
                   "--report", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    note = ("no config defines mean_reversion: bound to goog (GOOG/USD 1d bars on nasdaq); "
            "paper venue nasdaq, base currency USD, bucket goog; limits of preset balanced")
    # one line, and no warning: the balanced profile's values for daily bars fit the data
    assert proc.stderr == f"note: {note}\n"
    result = json.loads(proc.stdout)
    assert result["binding"] == note
    assert result["warnings"] == []
    assert result["n_trades"] >= 1
    assert (out / "trades.csv").is_file() and (out / "report.png").is_file()


def test_the_bound_strategy_gets_its_profiles_values_for_the_data_bar_length(
        installed, goog: str) -> None:
    plan = plan_backtest(installed, strategies=["mean_reversion"], datasets=[goog],
                         preset="conservative")
    config = plan.resolved.config
    assert config.runtime.base_currency == "USD"
    assert config.venues["nasdaq"].adapter == "paper"
    assert config.buckets["goog"].instruments == ["GOOG/USD"]
    assert config.strategies["mean_reversion"].timeframe == "1d"
    assert config.risk.max_position_pct == 10.0  # conservative's limits
    settings = plan.resolved.strategy_settings["mean_reversion"]
    assert (settings.window_bars, settings.entry_z) == (60, 3.0)
    sources = plan.resolved.sources
    assert sources["strategies.mean_reversion.params.window_bars"] == \
        "preset:conservative (1d bars)"
    assert sources["strategies.mean_reversion.params.entry_z"] == "preset:conservative"
    assert sources["runtime.base_currency"] == "--dataset goog"


def test_instruments_in_two_currencies_are_refused_in_one_line(run_cli, goog: str) -> None:
    proc = run_cli("backtest", "--strategy", "mean_reversion", "--dataset",
                   f"{goog},demo-btc-usdt-1m")
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: --dataset: instruments quoted in USD (goog) and USDT (demo-btc-usdt-1m); the "
        "portfolio accounts in one currency and bot-core converts none: backtest each "
        "currency on its own\n")


def test_a_config_with_limits_and_params_only_binds_under_its_own_values(
        run_cli, installed, goog: str, tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('extends = "aggressive"\n[risk]\nmax_position_pct = 5\n'
                    "[strategies.mean_reversion.params]\nwindow_bars = 30\n")
    proc = run_cli("backtest", "--config", str(path), "--strategy", "mean_reversion",
                   "--dataset", goog, "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0].endswith(f"; limits of {path}")
    plan = plan_backtest(installed, strategies=["mean_reversion"], datasets=[goog], preset=None,
                         config_path=path)
    assert plan.resolved.config.risk.max_position_pct == 5
    assert plan.resolved.config.risk.max_leverage == 3.0  # aggressive's
    assert plan.resolved.strategy_settings["mean_reversion"].window_bars == 30
    assert plan.resolved.sources["strategies.mean_reversion.params.window_bars"] == str(path)
    # on its own the file is a risk profile with parameters for a strategy nothing defines
    alone = run_cli("config", "validate", str(path))
    assert alone.returncode == 2 and 'add `universe = "demo"`' in alone.stderr
    path.write_text('extends = "aggressive"\n[risk]\nmax_position_pct = 5\n')
    assert run_cli("config", "validate", str(path)).returncode == 0


def test_a_config_that_trades_other_data_says_what_it_trades(installed, goog: str,
                                                             tmp_path: Path) -> None:
    path = tmp_path / "demo.toml"
    path.write_text('extends = "balanced"\nuniverse = "demo"\n')
    with pytest.raises(UsageError) as info:
        plan_backtest(installed, strategies=["mean_reversion"], datasets=[goog], preset=None,
                      config_path=path)
    message = str(info.value)
    assert message.startswith("--dataset goog: ohlcv data for GOOG/USD on nasdaq is not used by "
                              "the selected strategies (mean_reversion trades BTC/USDT, ETH/USDT, "
                              "SOL/USDT, ADA/USDT on venue_a, as ")
    assert "add the instrument and venue to the strategy there" in message


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"strategies": ["nope"]}, "--strategy nope: no installed strategy has this id"),
    ({"strategies": ["cross_arb"], "datasets": ["demo-btc-usdt-quotes-venue_a",
                                                "demo-btc-usdt-quotes-venue_b"],
      "preset": "conservative"}, "--strategy cross_arb: disabled in preset conservative"),
    ({"strategies": ["mean_reversion"], "datasets": ["demo-btc-usdt-1m",
                                                     "demo-btc-usdt-quotes-venue_a"]},
     "--dataset demo-btc-usdt-quotes-venue_a: quotes data, which none of mean_reversion reads"),
])
def test_what_cannot_be_bound_is_one_clear_error(installed, kwargs, message: str) -> None:
    args = {"datasets": ["demo-btc-usdt-1m"], "preset": "balanced", **kwargs}
    with pytest.raises(UsageError, match=message):
        plan_backtest(installed, **args)


def test_a_bar_strategy_on_two_venues_is_refused(installed) -> None:
    frame = make_bars(300)
    data = {"a": DataSpec(frame, "ohlcv", "BTC/USDT", "x"),
            "b": DataSpec(frame, "ohlcv", "ETH/USDT", "y")}
    with pytest.raises(UsageError, match="a bar strategy trades on one venue, but the datasets "
                                         "are on x, y"):
        plan_backtest(installed, strategies=["vol_target"], datasets=data)


def test_one_bucket_per_dataset_unless_the_config_gives_one(installed, tmp_path: Path) -> None:
    frame = make_bars(300)
    data = {"btc": DataSpec(frame, "ohlcv", "BTC/USDT", "x"),
            "eth": DataSpec(frame, "ohlcv", "ETH/USDT", "x")}
    plan = plan_backtest(installed, strategies=["vol_target"], datasets=data)
    buckets = plan.resolved.config.buckets
    assert {n: b.instruments for n, b in buckets.items()} == {"btc": ["BTC/USDT"],
                                                              "eth": ["ETH/USDT"]}
    path = tmp_path / "bucket.toml"
    path.write_text('extends = "balanced"\n[buckets.majors]\ninstruments = ["BTC/USDT"]\n'
                    "max_exposure_pct = 15\n")
    plan = plan_backtest(installed, strategies=["vol_target"], datasets=data, preset=None,
                         config_path=path)
    buckets = plan.resolved.config.buckets
    assert {n: b.instruments for n, b in buckets.items()} == {"majors": ["BTC/USDT"],
                                                              "eth": ["ETH/USDT"]}
    assert buckets["majors"].max_exposure_pct == 15


def test_a_config_that_names_a_base_currency_the_data_is_not_in_is_refused(
        installed, tmp_path: Path) -> None:
    path = tmp_path / "eur.toml"
    path.write_text('extends = "balanced"\n[runtime]\nbase_currency = "EUR"\n')
    with pytest.raises(ConfigError, match=r"quoted in USDT, but runtime\.base_currency is EUR"):
        plan_backtest(installed, strategies=["mean_reversion"], datasets=["demo-btc-usdt-1m"],
                      preset=None, config_path=path)
