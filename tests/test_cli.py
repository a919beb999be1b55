"""The real ``bot-core`` CLI in a subprocess: listing, presets, config validation, errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SHIPPED_PLUGINS = {
    "mean_reversion": ("bot-core-mean-reversion", ["strategy"]),
    "vol_target": ("bot-core-vol-target", ["strategy"]),
    "cross_arb": ("bot-core-cross-arb", ["strategy"]),
    "paper": ("bot-core-paper", ["exchange"]),
    "core_checks": ("bot-core-risk-checks", ["risk_check"]),
}


def _fake_distribution(site: Path, dist: str, module: str, body: str, entry: str) -> None:
    """A real installed distribution as importlib.metadata sees it: a dist-info with entry points."""
    info = site / f"{dist.replace('-', '_')}-9.9.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 9.9\n")
    (info / "entry_points.txt").write_text(f"[bot_core]\n{entry} = {module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(body))


def test_plugins_list_json_shows_every_shipped_plugin_with_versions(run_cli) -> None:
    result = run_cli("plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["api_version"] == "1.3"
    plugins = {p["name"]: p for p in payload["plugins"]}
    for name, (dist, kinds) in SHIPPED_PLUGINS.items():
        assert plugins[name]["distribution"] == dist
        assert plugins[name]["kind"] == kinds
        assert plugins[name]["status"] == "enabled", plugins[name]["reason"]
        assert plugins[name]["version"].count(".") >= 2
    assert plugins["core_checks"]["components"]["risk_check"]


def test_plugins_list_table_and_blocking(run_cli) -> None:
    result = run_cli("plugins", "list", env={"BOT_CORE_DISABLE_PLUGINS": "cross_arb"})
    assert result.returncode == 0
    assert "bot-core-mean-reversion" in result.stdout
    assert "blocked" in result.stdout and "BOT_CORE_DISABLE_PLUGINS" in result.stdout


def test_broken_and_duplicate_plugins_are_reported(run_cli, tmp_path: Path) -> None:
    site = tmp_path / "site"
    _fake_distribution(site, "bot-core-broken", "broken_plugin",
                       "import not_installed_anywhere\n", "broken")
    _fake_distribution(site, "bot-core-copycat", "copycat_plugin", """
        import bot_core

        BOT_CORE_API = ">=1.0,<2"

        class Copy(bot_core.Strategy):
            id = "mean_reversion"
            class Settings(bot_core.StrategySettings):
                pass
            def on_bar(self, bar, ctx):
                return ()

        @bot_core.hookimpl
        def bot_core_register_strategies(register):
            register(Copy)
    """, "copycat")
    result = run_cli("plugins", "list", "--json", env={"PYTHONPATH": str(site)})
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    plugins = {p["name"]: p for p in payload["plugins"]}
    assert plugins["broken"]["status"] == "broken"
    assert "ModuleNotFoundError" in plugins["broken"]["reason"]
    # neither claimant of a duplicate id is trusted
    assert plugins["mean_reversion"]["status"] == plugins["copycat"]["status"] == "broken"
    assert plugins["vol_target"]["status"] == "enabled"
    (conflict,) = payload["conflicts"]
    assert "strategy id 'mean_reversion'" in conflict
    assert "bot-core-copycat" in conflict and "bot-core-mean-reversion" in conflict

    table = run_cli("plugins", "list", env={"PYTHONPATH": str(site)})
    assert table.returncode == 1
    assert "error:" in table.stderr and "bot-core-copycat" in table.stderr
    assert "Traceback" not in table.stderr


def test_plugins_list_does_not_import_pandas_or_numba() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot_core", "plugins", "list", "--json"],
        capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "bot_core.plugins" in imported
    assert not {m for m in imported if m.split(".")[0] in ("pandas", "numba", "matplotlib")}


def test_presets_list_and_show(run_cli) -> None:
    listing = run_cli("presets", "list", "--json")
    assert listing.returncode == 0
    assert [p["name"] for p in json.loads(listing.stdout)] == [
        "aggressive", "balanced", "conservative", "manual"]
    shown = run_cli("presets", "show", "conservative", "--json")
    assert shown.returncode == 0, shown.stderr
    payload = json.loads(shown.stdout)
    assert payload["config"]["risk"]["max_leverage"] == 1.0
    assert payload["sources"]["risk.max_leverage"] == "preset:conservative"
    table = run_cli("presets", "show", "balanced")
    assert table.returncode == 0 and "max_position_pct" in table.stdout


def test_presets_show_manual_marks_its_missing_limits_as_required(run_cli) -> None:
    result = run_cli("presets", "show", "manual", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert len(payload["required"]) == 8
    assert "risk.daily_loss_limit_pct" in payload["required"]
    assert payload["config"]["risk"]["daily_loss_limit_pct"] is None
    assert payload["sources"]["risk.daily_loss_limit_pct"] == "required"
    table = run_cli("presets", "show", "manual")
    assert table.returncode == 0, table.stderr
    row = next(ln for ln in table.stdout.splitlines() if "risk.daily_loss_limit_pct" in ln)
    assert "required" in row and "8 required values" in table.stdout


def test_presets_show_gives_strategy_defaults_and_their_source(run_cli) -> None:
    result = run_cli("presets", "show", "balanced", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["strategy_settings"]["mean_reversion"]["window_bars"] == 480
    sources = payload["sources"]
    assert sources["strategies.mean_reversion.params.window_bars"] == "preset:balanced"
    assert sources["strategies.mean_reversion.params.use_log_price"] == "default"
    table = run_cli("presets", "show", "balanced")
    row = next(ln for ln in table.stdout.splitlines()
               if "strategies.mean_reversion.params.window_bars" in ln)
    assert "480" in row and "preset:balanced" in row


def test_presets_show_unknown_is_one_line(run_cli) -> None:
    result = run_cli("presets", "show", "yolo")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: preset:yolo: unknown preset 'yolo'; available: aggressive, balanced, "
        "conservative, manual")


def test_config_validate_valid_file_prints_resolved_config(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('extends = "balanced"\nuniverse = "demo"\n[strategies.mean_reversion.params]\n')
    result = run_cli("config", "validate", str(path), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["valid"] is True
    assert set(payload["strategy_settings"]) == {"mean_reversion", "vol_target", "cross_arb"}
    human = run_cli("config", "validate", str(path))
    assert human.returncode == 0 and "valid" in human.stdout


def test_config_validate_reports_each_problem_and_exits_2(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(textwrap.dedent("""\
        extends = "balanced"
        universe = "demo"
        [risk]
        max_position_pct = -3
        checks = ["max_position", "not_a_check"]
        [strategies.mean_reversion.params]
        no_such_param = 1
    """))
    result = run_cli("config", "validate", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert any(f"{path}: risk.max_position_pct:" in ln and "-3" in ln for ln in lines)
    assert any("strategies.mean_reversion.params.no_such_param: unknown field" in ln for ln in lines)
    json_result = run_cli("config", "validate", str(path), "--json")
    assert json_result.returncode == 2
    assert json.loads(json_result.stdout)["valid"] is False


def test_config_validate_labels_profile_defaults_with_their_preset(run_cli,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('extends = "balanced"\nuniverse = "demo"\n'
                    '[strategies.mean_reversion.params]\nentry_z = 3.0\n')
    result = run_cli("config", "validate", "bot.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {ln.split("│")[1].strip(): ln for ln in result.stdout.splitlines() if "│" in ln}
    assert "preset:balanced" in rows["strategies.mean_reversion.params.window_bars"]
    assert "bot.toml" in rows["strategies.mean_reversion.params.entry_z"]
    assert "default" in rows["strategies.mean_reversion.params.use_log_price"]


def test_config_validate_and_backtest_refuse_an_instrument_in_another_currency(
        run_cli, tmp_path: Path) -> None:
    path = tmp_path / "goog.toml"
    path.write_text(textwrap.dedent("""\
        extends = "balanced"
        universe = "demo"
        instruments = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "ADA/USDT", "GOOG/USD"]
        [strategies.stocks]
        plugin = "mean_reversion"
        instruments = ["GOOG/USD"]
        venues = ["venue_a"]
    """))
    expected = (f"error: {path}: instruments: quoted in USD, but runtime.base_currency is USDT: "
                "the portfolio accounts in one currency")
    for args in (("config", "validate", str(path)),
                 ("backtest", "--config", str(path), "--strategy", "stocks", "--dataset",
                  "demo-btc-usdt-1m")):
        result = run_cli(*args)
        assert result.returncode == 2, result.stdout
        assert result.stderr.startswith(expected), result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("params", "expected"), [
    (["exit_z=-3"], "error: --param exit_z=-3: mean_reversion: exit_z (-3.0) must be greater "
     "than -entry_z (-2.5), or every entry would exit at once\n"),
    (["mean_reversion.entry_z=1", "exit_z=-1"],
     "error: --param mean_reversion.entry_z=1 --param exit_z=-1: mean_reversion: exit_z (-1.0) "
     "must be greater than -entry_z (-1.0), or every entry would exit at once\n"),
    (["window_bars=abc", "entry_z=x"],
     "error: --param window_bars=abc: mean_reversion: Input should be a valid integer, unable "
     "to parse string as an integer\n"
     "error: --param entry_z=x: mean_reversion: Input should be a valid number, unable to "
     "parse string as a number\n"),
    (["sizing=fixed_quantity"], "error: --param sizing=fixed_quantity: mean_reversion: sizing = "
     "'fixed_quantity' needs quantity (base units)\n"),
])
def test_param_errors_name_the_params_the_user_gave(run_cli, params: list[str],
                                                    expected: str) -> None:
    args = [a for p in params for a in ("--param", p)]
    result = run_cli("backtest", "--strategy", "mean_reversion", "--dataset", "demo-btc-usdt-1m",
                     *args)
    assert result.returncode == 2
    assert result.stderr == expected


def test_param_none_words_unset_an_optional_parameter(run_cli) -> None:
    result = run_cli("backtest", "--strategy", "mean_reversion", "--dataset", "demo-btc-usdt-1m",
                     "--param", "stop_loss_pct=none", "--param", "max_holding_bars=off",
                     "--json")
    assert result.returncode == 0, result.stderr
    refused = run_cli("backtest", "--strategy", "mean_reversion", "--dataset",
                      "demo-btc-usdt-1m", "--param", "window_bars=none")
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: --param window_bars=none: mean_reversion: ")


def test_backtest_says_it_ignores_a_paper_or_live_mode(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "paper.toml"
    path.write_text('extends = "balanced"\nuniverse = "demo"\n[runtime]\nmode = "paper"\n')
    result = run_cli("backtest", "--config", str(path), "--strategy", "vol_target",
                     "--dataset", "demo-btc-usdt-1m", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ignored_settings"] == {"runtime.mode": "paper"}
    assert result.stderr == (f"note: runtime.mode = 'paper' ({path}) is ignored: a backtest "
                             "replays the datasets whatever the mode\n")
    demo = run_cli("backtest", "--strategy", "vol_target", "--dataset", "demo-btc-usdt-1m",
                   "--json")
    assert demo.returncode == 0 and demo.stderr.startswith("note: no config defines vol_target")
    assert "ignored" not in demo.stderr
    assert json.loads(demo.stdout)["ignored_settings"] == {}


def test_mistyped_environment_variable_is_one_line_naming_the_setting(run_cli,
                                                                      tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('extends = "balanced"\nuniverse = "demo"\n')
    result = run_cli("config", "validate", str(path),
                     env={"BOT_CORE_RSIK__MAX_POSITION_PCT": "5"})
    assert result.returncode == 2
    assert result.stderr == (
        "error: env:BOT_CORE_RSIK__MAX_POSITION_PCT: no setting has this name; closest valid "
        "name: BOT_CORE_RISK__MAX_POSITION_PCT (settings are BOT_CORE_<SECTION>__<FIELD>, two "
        "underscores between levels)\n")


def test_config_validate_checks_plugin_ids(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('extends = "balanced"\nuniverse = "demo"\n'
                    '[risk]\nchecks = ["max_position", "not_a_check"]\n'
                    '[strategies.mean_reversion]\nplugin = "nope"\n')
    result = run_cli("config", "validate", str(path))
    assert result.returncode == 2
    assert "risk.checks.1: no installed risk check has this id" in result.stderr
    assert "strategies.mean_reversion.plugin: no installed strategy has this id" in result.stderr


@pytest.mark.parametrize(
    "args",
    [("config", "validate"), ("frobnicate",), ("plugins",), ("presets", "list", "--yaml")],
)
def test_usage_errors_exit_2_without_traceback(run_cli, args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "error:" in result.stderr


def test_missing_config_file_is_one_line(run_cli, tmp_path: Path) -> None:
    result = run_cli("config", "validate", str(tmp_path / "missing.toml"), "--no-plugins")
    assert result.returncode == 2
    missing = tmp_path / "missing.toml"
    assert result.stderr.strip() == f"error: {missing}: file not found: {missing}"


def test_run_is_main_then_freezes_the_heap_for_a_quick_exit(monkeypatch, capsys,
                                                           bot_core_home: Path) -> None:
    import gc

    from bot_core.cli import run

    monkeypatch.setattr(sys, "argv", ["bot-core", "presets", "list", "--json"])
    try:
        assert run() == 0
        # everything alive is in the permanent generation: the exit skips collecting it
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()  # run() turned it off for the start-up only
    finally:
        gc.unfreeze()
    assert "balanced" in {p["name"] for p in json.loads(capsys.readouterr().out)}


def test_settle_heap_freezes_what_start_up_built_and_turns_collection_back_on() -> None:
    import gc

    from bot_core.cli import settle_heap

    built_at_start_up = [[] for _ in range(1000)]
    gc.disable()
    try:
        settle_heap()
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(built_at_start_up)
    finally:
        gc.unfreeze()
        gc.enable()


def test_backtest_command_settles_the_heap_before_running(monkeypatch, bot_core_home: Path,
                                                          capsys) -> None:
    import gc

    import bot_core.backtest.driver as driver
    from bot_core.cli import run

    seen: dict[str, object] = {}

    def fake_run_backtest(*args: object, **kwargs: object) -> None:
        seen["enabled"], seen["frozen"] = gc.isenabled(), gc.get_freeze_count()
        raise KeyboardInterrupt  # stop here: the command's start-up is what is tested

    monkeypatch.setattr(driver, "run_backtest", fake_run_backtest)
    monkeypatch.setattr(sys, "argv", ["bot-core", "backtest", "--strategy", "mean_reversion",
                                      "--dataset", "demo-btc-usdt-1m"])
    try:
        assert run() == 130
    finally:
        gc.unfreeze()
    assert seen["enabled"] is True and int(seen["frozen"]) > 0  # type: ignore[call-overload]
    assert "interrupted" in capsys.readouterr().err


def test_python_dash_m_and_the_console_script_use_run() -> None:
    import tomllib

    main_module = Path(__file__).resolve().parents[1] / "framework" / "bot_core" / "__main__.py"
    assert "sys.exit(run())" in main_module.read_text(encoding="utf-8")
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml")
                            .read_text(encoding="utf-8"))
    assert project["project"]["scripts"]["bot-core"] == "bot_core.cli:run"
