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
    assert resolved.sources["venues.venue_a.adapter"] == "preset:_demo_universe"


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
    path = _write(tmp_path, 'extends = "balanced"\n[risk]\nmax_position_pct = 7.5\n')
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
    path = _write(tmp_path, 'extends = "balanced"\n' + snippet)
    with pytest.raises(ConfigError) as exc:
        resolve_config(path, environ={})
    problems = _problems(exc)
    assert field in problems, problems
    assert message in problems[field]
    assert problems[field].startswith(str(path))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = ('extends = "balanced"\n[buckets.majors]\nmax_exposure_pct = 150\n'
            '[buckets.alts]\ninstruments = ["SOL/USDT", "BTC/USDT"]\n')
    with pytest.raises(ConfigError) as exc:
        resolve_config(_write(tmp_path, text), environ={})
    assert {"buckets.majors.max_exposure_pct", "buckets.alts.instruments"} <= set(_problems(exc))


def test_live_mode_requires_pinned_plugin_versions(tmp_path: Path) -> None:
    text = ('extends = "balanced"\n[runtime]\nmode = "live"\n'
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
