"""Configuration: presets, extension, environment overrides, sources and validators."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot_core.config import PROFILES, preset_names, resolve_config
from bot_core.errors import ConfigError

MANUAL_LIMITS = """
[risk]
max_position_pct = 5
max_total_position_pct = 40
max_bucket_exposure_pct = 20
daily_loss_limit_pct = 1.5
drawdown_liquidation_pct = 8
max_leverage = 1
max_orders_per_minute = 10
checks = ["max_position"]
"""


def _write(tmp_path: Path, text: str, name: str = "bot.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(exc: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {p.field: str(p) for p in exc.value.problems}


def test_the_four_risk_profiles_are_presets() -> None:
    assert preset_names() == sorted(PROFILES)


@pytest.mark.parametrize("name", ["conservative", "balanced", "aggressive"])
def test_preset_resolves_to_concrete_limits(name: str) -> None:
    resolved = resolve_config(preset=name, environ={})
    risk = resolved.config.risk
    assert resolved.config.profile == name
    assert 0 < risk.max_position_pct <= risk.max_total_position_pct
    assert risk.daily_loss_limit_pct > 0 and risk.drawdown_liquidation_pct > 0
    assert resolved.sources["risk.max_leverage"] == f"preset:{name}"
    # a risk profile carries no universe: nothing to trade, nowhere to trade it
    config = resolved.config
    assert (config.instruments, config.venues, config.buckets, config.strategies) == ([], {}, {}, {})
    demo = resolve_config(preset=name, universe="demo", environ={})
    assert demo.sources["venues.venue_a.adapter"] == "universe:demo"
    assert demo.sources["risk.max_leverage"] == f"preset:{name}"
    assert set(demo.config.strategies) == {"mean_reversion", "vol_target", "cross_arb"}
    assert demo.config.strategies["cross_arb"].enabled is (name != "conservative")


def test_profiles_are_ordered_by_appetite() -> None:
    limits = {n: resolve_config(preset=n, environ={}).config.risk
              for n in ("conservative", "balanced", "aggressive")}
    for field in ("max_position_pct", "daily_loss_limit_pct", "drawdown_liquidation_pct",
                  "max_leverage", "max_orders_per_minute"):
        values = [getattr(limits[n], field) for n in ("conservative", "balanced", "aggressive")]
        assert values == sorted(values) and values[0] < values[-1], field


def test_manual_preset_alone_names_every_missing_limit() -> None:
    with pytest.raises(ConfigError) as exc:
        resolve_config(preset="manual", environ={})
    problems = _problems(exc)
    for field in ("max_position_pct", "max_total_position_pct", "max_bucket_exposure_pct",
                  "daily_loss_limit_pct", "drawdown_liquidation_pct", "max_leverage",
                  "max_orders_per_minute", "checks"):
        assert f"risk.{field}" in problems
        assert "required field is missing" in problems[f"risk.{field}"]


def test_config_extending_manual_with_one_limit_missing_names_it(tmp_path: Path) -> None:
    text = 'extends = "manual"\n' + MANUAL_LIMITS.replace("max_leverage = 1\n", "")
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        resolve_config(path, environ={})
    assert list(_problems(exc)) == ["risk.max_leverage"]
    assert str(exc.value.problems[0]).startswith(f"{path}: risk.max_leverage: required field")


def test_manual_with_every_limit_validates(tmp_path: Path) -> None:
    resolved = resolve_config(_write(tmp_path, 'extends = "manual"\n' + MANUAL_LIMITS), environ={})
    assert resolved.config.profile == "manual"
    assert resolved.config.risk.daily_loss_limit_pct == 1.5


def test_user_config_overrides_preset_and_records_sources(tmp_path: Path) -> None:
    path = _write(tmp_path, 'extends = "balanced"\nname = "btc-bot"\n[risk]\nmax_position_pct = 7.5\n')
    resolved = resolve_config(path, environ={})
    assert resolved.config.risk.max_position_pct == 7.5
    assert resolved.config.risk.max_leverage == 2.0
    assert resolved.sources["risk.max_position_pct"] == str(path)
    assert resolved.sources["risk.max_leverage"] == "preset:balanced"
    assert resolved.sources["name"] == str(path)


def test_environment_overrides_files_with_nested_names(tmp_path: Path) -> None:
    path = _write(tmp_path, 'extends = "balanced"\nuniverse = "demo"\n'
                  '[risk]\nmax_position_pct = 7.5\n')
    env = {
        "BOT_CORE_RISK__MAX_POSITION_PCT": "3",
        "BOT_CORE_RUNTIME__TIMEZONE": "Europe/London",
        "BOT_CORE_STRATEGIES__VOL_TARGET__ENABLED": "false",
        "BOT_CORE_RISK__CHECKS": '["max_position", "drawdown"]',
        "BOT_CORE_HOME": "/not/a/config/field",
        "BOT_CORE_DISABLE_PLUGINS": "nothing",
    }
    resolved = resolve_config(path, environ=env)
    cfg = resolved.config
    assert cfg.risk.max_position_pct == 3.0
    assert cfg.runtime.timezone == "Europe/London"
    assert cfg.strategies["vol_target"].enabled is False
    assert cfg.risk.checks == ["max_position", "drawdown"]
    assert resolved.sources["risk.max_position_pct"] == "env:BOT_CORE_RISK__MAX_POSITION_PCT"


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        resolve_config(preset="balanced", environ={"BOT_CORE_RISK__MAX_LEVERAGE": "lots"})
    (problem,) = exc.value.problems
    assert problem.source == "env:BOT_CORE_RISK__MAX_LEVERAGE"
    assert problem.field == "risk.max_leverage" and problem.value == "lots"


def test_unknown_fields_are_errors_naming_file_and_path(tmp_path: Path) -> None:
    path = _write(tmp_path, 'extends = "balanced"\n[risk]\nmax_positon_pct = 5\n[runtime]\nmood = "calm"\n')
    with pytest.raises(ConfigError) as exc:
        resolve_config(path, environ={})
    problems = _problems(exc)
    assert set(problems) == {"risk.max_positon_pct", "runtime.mood"}
    assert all(str(path) in line and "unknown field" in line for line in problems.values())


@pytest.mark.parametrize(
    ("snippet", "field", "message"),
    [
        ('[buckets.majors]\ninstruments = ["btc-usdt"]\n', "buckets.majors.instruments",
         "not of the form BASE/QUOTE"),
        ('[buckets.majors]\ninstruments = ["BTC/USDT", "BTC/USDT"]\n', "buckets.majors.instruments",
         "listed twice: BTC/USDT"),
        ('[buckets.alts]\ninstruments = ["SOL/USDT", "BTC/USDT"]\n', "buckets.alts.instruments",
         "already in bucket 'majors'"),
        ('[buckets.empty]\ninstruments = []\n', "buckets.empty.instruments", "at least one instrument"),
        ('[buckets.majors]\nmax_exposure_pct = 150\n', "buckets.majors.max_exposure_pct",
         "must not exceed risk.max_total_position_pct (100)"),
        ('[buckets.exotic]\ninstruments = ["XRP/USDT"]\n', "buckets.exotic.instruments",
         "not in the top-level `instruments` list"),
        ('[strategies.mean_reversion]\nvenues = ["venue_z"]\n', "strategies.mean_reversion.venues",
         "unknown venue"),
        ('[runtime]\ntimezone = "Mars/Olympus"\n', "runtime.timezone", "unknown IANA timezone"),
        ('[risk]\nmax_position_pct = 0\n', "risk.max_position_pct", "greater than 0"),
        ('[risk]\nmax_position_pct = 60\nmax_total_position_pct = 50\n', "risk.max_position_pct",
         "must not exceed risk.max_total_position_pct (50)"),
        ('[risk]\nmax_leverage = 0.5\nmax_total_position_pct = 80\n', "risk.max_total_position_pct",
         "must not exceed what risk.max_leverage (0.5) allows (50)"),
        ('[risk]\nchecks = ["drawdown", "drawdown"]\n', "risk.checks", "listed twice: drawdown"),
    ],
)
def test_validators_report_field_value_and_rule(tmp_path: Path, snippet: str, field: str,
                                                message: str) -> None:
    path = _write(tmp_path, 'extends = "balanced"\nuniverse = "demo"\n' + snippet)
    with pytest.raises(ConfigError) as exc:
        resolve_config(path, environ={})
    problems = _problems(exc)
    assert field in problems, problems
    assert message in problems[field]
    assert problems[field].startswith(str(path))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = ('extends = "balanced"\nuniverse = "demo"\n[buckets.majors]\nmax_exposure_pct = 150\n'
            '[buckets.alts]\ninstruments = ["SOL/USDT", "BTC/USDT"]\n')
    with pytest.raises(ConfigError) as exc:
        resolve_config(_write(tmp_path, text), environ={})
    assert {"buckets.majors.max_exposure_pct", "buckets.alts.instruments"} <= set(_problems(exc))


def test_live_mode_requires_pinned_plugin_versions(tmp_path: Path) -> None:
    text = ('extends = "balanced"\nuniverse = "demo"\n[runtime]\nmode = "live"\n'
            '[plugins]\nrequire = ["bot-core-mean-reversion", "bot-core-paper>=0.1,<0.2"]\n')
    with pytest.raises(ConfigError) as exc:
        resolve_config(_write(tmp_path, text), environ={})
    (problem,) = exc.value.problems
    assert problem.field == "plugins.require" and problem.value == "bot-core-mean-reversion"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("extends = 'balanced'\n[risk\n", "invalid TOML"),
        ("\xff\xfe garbage", "invalid TOML"),
        ('extends = "nope"\n', "unknown preset 'nope'; available: aggressive, balanced"),
        ("extends = 3\n", "must be a preset name"),
    ],
)
def test_unreadable_configs_give_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_config(_write(tmp_path, content), environ={})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        resolve_config(tmp_path / "absent.toml", environ={})


def test_binary_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\x00\xff\xfe\x80" * 10)
    with pytest.raises(ConfigError, match="not UTF-8"):
        resolve_config(path, environ={})


# --- issue 11: currencies, cross-field messages, sources, env names, none words -------------

GOOG = """
instruments = ["GOOG/USD"]
[venues.broker]
adapter = "paper"
[strategies.stocks]
plugin = "mean_reversion"
instruments = ["GOOG/USD"]
venues = ["broker"]
"""


@pytest.fixture(scope="module")
def host():
    from bot_core.plugins import load_plugins

    return load_plugins()


def test_instrument_quoted_in_another_currency_than_the_portfolio_is_a_config_error(
        tmp_path: Path) -> None:
    path = _write(tmp_path, 'extends = "manual"\n' + GOOG + MANUAL_LIMITS)
    with pytest.raises(ConfigError) as exc:
        resolve_config(path, environ={})
    (problem,) = exc.value.problems
    assert (problem.field, problem.value) == ("instruments", "GOOG/USD")
    assert "quoted in USD, but runtime.base_currency is USDT" in problem.message
    fixed = _write(tmp_path, 'extends = "manual"\n' + GOOG + '[runtime]\nbase_currency = "USD"\n'
                   + MANUAL_LIMITS, "usd.toml")
    assert resolve_config(fixed, environ={}).config.runtime.base_currency == "USD"


def test_a_strategy_instrument_outside_any_universe_is_checked_for_its_currency(
        tmp_path: Path) -> None:
    text = 'extends = "manual"\n' + GOOG.replace('instruments = ["GOOG/USD"]\n', "", 1)
    with pytest.raises(ConfigError) as exc:
        resolve_config(_write(tmp_path, text + MANUAL_LIMITS), environ={})
    assert list(_problems(exc)) == ["strategies.stocks.instruments"]
    assert "runtime.base_currency is USDT" in exc.value.problems[0].message


def test_validator_messages_are_the_validators_own_words(tmp_path: Path) -> None:
    path = _write(tmp_path, 'extends = "balanced"\n[runtime]\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(ConfigError) as exc:
        resolve_config(path, environ={})
    (problem,) = exc.value.problems
    assert problem.message == "unknown IANA timezone 'Mars/Olympus'"  # no "Value error, "


def test_a_rule_across_strategy_params_names_the_params_not_a_dump(tmp_path: Path, host) -> None:
    path = _write(tmp_path, 'extends = "balanced"\nuniverse = "demo"\n[strategies.mean_reversion.params]\n'
                  'exit_z = -3\n')
    with pytest.raises(ConfigError) as exc:
        resolve_config(path, environ={}, plugins=host)
    (problem,) = exc.value.problems
    assert str(problem) == (
        f"{path}: strategies.mean_reversion.params: exit_z (-3.0) must be greater than "
        "-entry_z (-2.5), or every entry would exit at once (got exit_z=-3)")


def test_strategy_values_name_their_real_source(tmp_path: Path, host) -> None:
    path = _write(tmp_path, 'extends = "balanced"\nuniverse = "demo"\n'
                  '[strategies.mean_reversion.params]\nentry_z = 3.0\n')
    resolved = resolve_config(path, environ={}, plugins=host)
    sources = resolved.as_dict()["sources"]
    prefix = "strategies.mean_reversion.params."
    assert sources[prefix + "entry_z"] == str(path)
    assert sources[prefix + "window_bars"] == "preset:balanced"  # the profile's default
    assert sources[prefix + "use_log_price"] == "default"  # the model's own default
    assert sources["strategies.vol_target.params.target_vol_pct"] == "preset:balanced"
    assert sources["runtime.timezone"] == "universe:demo"
    assert sources["universe"] == str(path)
    assert sources["name"] == "default"


def test_preset_view_shows_strategy_defaults_and_what_manual_leaves_to_the_user(host) -> None:
    from bot_core.config.resolve import preset_view

    balanced = preset_view("balanced", plugins=host)
    assert balanced["strategy_settings"]["mean_reversion"]["window_bars"] == 480
    assert balanced["required"] == []
    manual = preset_view("manual", plugins=host)
    assert set(manual["required"]) == {f"risk.{f}" for f in (
        "max_position_pct", "max_total_position_pct", "max_bucket_exposure_pct",
        "daily_loss_limit_pct", "drawdown_liquidation_pct", "max_leverage",
        "max_orders_per_minute", "checks")}
    assert manual["config"]["risk"]["max_leverage"] is None
    assert manual["config"]["risk"]["check_settings"] == {}
    assert manual["config"]["runtime"]["base_currency"] == "USDT"
    assert manual["sources"]["risk.max_leverage"] == "required"
    assert manual["sources"]["profile"] == "preset:manual"


ENV_TYPOS = {
    "BOT_CORE_RSIK__MAX_POSITION_PCT": "BOT_CORE_RISK__MAX_POSITION_PCT",
    "BOT_CORE_RISK_MAX_POSITION_PCT": "BOT_CORE_RISK__MAX_POSITION_PCT",
    "BOT_CORE_RISK__MAX_POSITON_PCT": "BOT_CORE_RISK__MAX_POSITION_PCT",
    "BOT_CORE_RUNTIME__TIMEZONE__X": "BOT_CORE_RUNTIME__TIMEZONE",
    "BOT_CORE_STRATEGIES__VOL_TARGET__ENABLD": "BOT_CORE_STRATEGIES__VOL_TARGET__ENABLED",
    "BOT_CORE_HOMEDIR": "BOT_CORE_HOME",
}
"""Names that are no setting, and the closest valid name the error must give."""


@pytest.mark.parametrize(("name", "closest"), sorted(ENV_TYPOS.items()))
def test_env_name_that_matches_no_setting_is_an_error_naming_the_closest(name: str,
                                                                        closest: str) -> None:
    with pytest.raises(ConfigError) as exc:
        resolve_config(preset="balanced", universe="demo", environ={name: "5"})
    (problem,) = exc.value.problems
    assert problem.source == f"env:{name}"
    assert f"closest valid name: {closest} " in problem.message
    assert "(got" not in str(problem)  # the value is not echoed: a mistyped key may be secret


def test_env_names_that_are_not_settings_are_left_alone() -> None:
    from bot_core.config.env import NOT_SETTINGS

    environ = {n.replace("<NAME>", "VENUE_A"): "x" for n in NOT_SETTINGS}
    resolved = resolve_config(preset="balanced", environ=environ)
    assert resolved.config.risk.max_position_pct == 20.0
    assert {"BOT_CORE_HOME", "BOT_CORE_DISABLE_PLUGINS", "BOT_CORE_TRACE_HOOKS",
            "BOT_CORE_TEST_RESULTS", "BOT_CORE_JOURNAL_KEY", "BOT_CORE_JOURNAL_KEY_FILE",
            "BOT_CORE_FAULT_POINT", "BOT_CORE_GRPC_TLS_CA", "BOT_CORE_GRPC_TLS_CERT",
            "BOT_CORE_GRPC_TLS_KEY", "BOT_CORE_GRPC_HEADERS",
            "BOT_CORE_DASK_SCHEDULER"} <= set(NOT_SETTINGS)
    assert "BOT_CORE_VENUE_VENUE_A_API_KEY" in environ


def test_every_bot_core_name_in_the_repository_is_a_setting_or_listed() -> None:
    import re

    from bot_core.config.env import is_not_a_setting, is_setting

    root = Path(__file__).resolve().parents[1]
    files = [p for top in ("framework", "plugins", "tests", "docs", "benchmarks")
             for p in (root / top).rglob("*") if p.suffix in (".py", ".md", ".toml", ".ini")]
    files += [root / "tox.ini", root / "README.md", root / "dev.py"]
    names = {name for path in files if path.is_file()
             # a name is complete unless a placeholder follows (BOT_CORE_VENUE_<NAME>, f"{name}")
             for name in re.findall(r"\bBOT_CORE_[A-Z0-9_]*[A-Z0-9]\b(?!_?[<{])",
                                    path.read_text(encoding="utf-8", errors="replace"))}
    assert "BOT_CORE_HOME" in names  # the scan sees the tree
    names -= {"BOT_CORE_API"}  # a plugin module's attribute, not an environment variable
    names -= set(ENV_TYPOS)  # this file's deliberate mistakes
    unknown = sorted(n for n in names if not is_not_a_setting(n) and not is_setting(n))
    assert unknown == [], "add each to bot_core.config.env.NOT_SETTINGS and docs"


def test_docs_list_every_name_that_is_not_a_setting() -> None:
    from bot_core.config.env import NOT_SETTINGS

    docs = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text(
        encoding="utf-8")
    assert [n for n in NOT_SETTINGS if f"`{n}`" not in docs] == []


@pytest.mark.parametrize("word", ["none", "null", "off", "None", "OFF"])
def test_none_words_unset_optional_params_in_files_and_env(tmp_path: Path, host,
                                                           word: str) -> None:
    path = _write(tmp_path, 'extends = "balanced"\nuniverse = "demo"\n[strategies.mean_reversion.params]\n'
                  f'stop_loss_pct = "{word}"\n')
    env = {"BOT_CORE_STRATEGIES__MEAN_REVERSION__PARAMS__MAX_HOLDING_BARS": word}
    settings = resolve_config(path, environ=env, plugins=host).strategy_settings
    assert settings["mean_reversion"].stop_loss_pct is None  # type: ignore[attr-defined]
    assert settings["mean_reversion"].max_holding_bars is None  # type: ignore[attr-defined]


def test_none_words_do_not_unset_a_required_value(tmp_path: Path, host) -> None:
    path = _write(tmp_path, 'extends = "balanced"\nuniverse = "demo"\n[strategies.mean_reversion.params]\n'
                  'window_bars = "none"\n')
    with pytest.raises(ConfigError) as exc:
        resolve_config(path, environ={}, plugins=host)
    assert list(_problems(exc)) == ["strategies.mean_reversion.params.window_bars"]


def test_none_words_keep_their_meaning_where_a_literal_allows_them() -> None:
    from typing import Literal

    from pydantic import BaseModel

    from bot_core.config.validation import admits_none, validate_settings

    class Model(BaseModel):
        mode: Literal["off", "on"] | None = None
        limit: float | None = 1.0

    assert admits_none(Model.model_fields["limit"].annotation)
    model = validate_settings(Model, {"mode": "off", "limit": "Off"})
    assert (model.mode, model.limit) == ("off", None)


def test_a_config_written_for_the_demo_universe_the_presets_carried_is_told_how_to_keep_it(
        tmp_path: Path) -> None:
    path = _write(tmp_path, 'extends = "balanced"\n[strategies.mean_reversion.params]\n'
                  'entry_z = 3.0\n[buckets.majors]\nmax_exposure_pct = 50\n')
    with pytest.raises(ConfigError) as exc:
        resolve_config(path, environ={})
    (problem,) = exc.value.problems
    assert (problem.source, problem.field) == (str(path), "universe")
    assert 'add `universe = "demo"`' in problem.message
    fixed = _write(tmp_path, 'universe = "demo"\n' + path.read_text(), name="fixed.toml")
    resolved = resolve_config(fixed, environ={})
    assert resolved.config.universe == "demo"
    assert resolved.config.strategies["mean_reversion"].params == {"entry_z": 3.0}
    assert resolved.config.buckets["majors"].max_exposure_pct == 50


def test_a_presets_strategy_table_is_a_default_not_a_strategy(tmp_path: Path) -> None:
    # conservative disables cross_arb: that applies where a universe defines cross_arb ...
    assert resolve_config(preset="conservative", environ={}).config.strategies == {}
    # ... or a file does, whose own value wins
    path = _write(tmp_path, 'extends = "conservative"\ninstruments = ["BTC/USDT"]\n'
                  '[venues.a]\nadapter = "paper"\n[venues.b]\nadapter = "paper"\n'
                  '[strategies.cross_arb]\nplugin = "cross_arb"\ninstruments = ["BTC/USDT"]\n'
                  'venues = ["a", "b"]\n')
    resolved = resolve_config(path, environ={})
    assert resolved.config.strategies["cross_arb"].enabled is False
    assert resolved.sources["strategies.cross_arb.enabled"] == "preset:conservative"
    on = _write(tmp_path, path.read_text() + "enabled = true\n", name="on.toml")
    assert resolve_config(on, environ={}).config.strategies["cross_arb"].enabled is True


def test_an_unknown_universe_lists_the_shipped_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, 'extends = "balanced"\nuniverse = "moon"\n')
    with pytest.raises(ConfigError, match="unknown universe 'moon'; available: demo"):
        resolve_config(path, environ={})
