"""Plugin discovery: loading, broken plugins, duplicate ids, API versions, blocking, hooks."""

from __future__ import annotations

import types
from collections.abc import Callable

import pytest

import bot_core
from bot_core import NoSettings, RiskCheck, Strategy, StrategySettings, Verdict
from bot_core.errors import PluginError
from bot_core.plugins import PLUGIN_API_VERSION, PluginCandidate, load_plugins


class _Settings(StrategySettings):
    lookback: int = 5


def _strategy_class(component_id: str) -> type[Strategy]:
    class Probe(Strategy):
        id = component_id
        Settings = _Settings

        def on_bar(self, bar, ctx):  # type: ignore[no-untyped-def]
            return ()

    return Probe


class _AlwaysApprove(RiskCheck):
    id = "always_approve"
    Settings = NoSettings

    def check(self, intent, ctx):  # type: ignore[no-untyped-def]
        return Verdict.approve()


def _module(name: str, api: str | None = ">=1.0,<2", **hooks: Callable[..., object]) -> types.ModuleType:
    module = types.ModuleType(name)
    if api is not None:
        module.BOT_CORE_API = api  # type: ignore[attr-defined]
    for hook_name, func in hooks.items():
        setattr(module, hook_name, bot_core.hookimpl(func))
    return module


def _registers(*classes: type) -> Callable[..., None]:
    def hook(register: Callable[[type], None]) -> None:
        for cls in classes:
            register(cls)

    return hook


def _candidate(name: str, module: object, dist: str | None = None, version: str = "1.0") -> PluginCandidate:
    return PluginCandidate(name, dist or f"dist-{name}", version, lambda: module, name)


def _failing_load() -> object:
    raise ImportError("No module named 'missing_dependency'")


def test_plugin_components_are_registered_and_attributed_to_their_distribution() -> None:
    strat = _module("alpha", bot_core_register_strategies=_registers(_strategy_class("alpha_strat")))
    checks = _module("beta", bot_core_register_risk_checks=_registers(_AlwaysApprove))
    host = load_plugins(environ={}, candidates=[_candidate("alpha", strat), _candidate("beta", checks)])

    assert host.strategy("alpha_strat").id == "alpha_strat"
    assert host.risk_check("always_approve") is _AlwaysApprove
    assert host.owners[("strategy", "alpha_strat")] == "dist-alpha"
    alpha = host.record("alpha")
    assert alpha is not None and alpha.status == "enabled"
    assert alpha.components == {"strategy": ["alpha_strat"]}
    assert alpha.hooks == ["bot_core_register_strategies"]
    assert alpha.as_dict()["kind"] == ["strategy"]
    host.check()


def test_broken_plugin_is_reported_and_the_others_keep_working() -> None:
    good = _module("good", bot_core_register_strategies=_registers(_strategy_class("good_strat")))
    broken = PluginCandidate("broken", "dist-broken", "0.3", _failing_load, "broken.plugin")
    host = load_plugins(environ={}, candidates=[broken, _candidate("good", good)])

    rec = host.record("broken")
    assert rec is not None and rec.status == "broken"
    assert "ImportError" in rec.reason and "missing_dependency" in rec.reason
    assert host.strategy("good_strat").id == "good_strat"


def test_duplicate_component_id_is_an_error_naming_both_distributions() -> None:
    first = _module("first", bot_core_register_strategies=_registers(_strategy_class("same")))
    second = _module("second", bot_core_register_strategies=_registers(_strategy_class("same")))
    host = load_plugins(environ={}, candidates=[
        _candidate("first", first, "bot-core-first"), _candidate("second", second, "bot-core-second")])

    assert len(host.conflicts) == 1
    assert "bot-core-first" in host.conflicts[0] and "bot-core-second" in host.conflicts[0]
    with pytest.raises(PluginError, match="registered by both bot-core-first and bot-core-second"):
        host.check()
    first_rec, second_rec = host.record("first"), host.record("second")
    assert first_rec is not None and second_rec is not None
    assert first_rec.status == second_rec.status == "broken"
    assert "also in bot-core-second" in first_rec.reason
    assert "also in bot-core-first" in second_rec.reason
    assert "same" not in host.strategies


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        (">=2,<3", f"requires plugin API >=2,<3, but this host provides API {PLUGIN_API_VERSION}"),
        (None, "does not declare BOT_CORE_API"),
        ("one point oh", "is not a version specifier"),
    ],
)
def test_incompatible_plugin_api_is_refused_with_the_versions(api: str | None, expected: str) -> None:
    module = _module("old", api=api, bot_core_register_strategies=_registers(_strategy_class("old_strat")))
    host = load_plugins(environ={}, candidates=[_candidate("old", module)])
    rec = host.record("old")
    assert rec is not None and rec.status == "broken"
    assert expected in rec.reason
    assert "old_strat" not in host.strategies


def test_disable_env_blocks_by_plugin_or_distribution_name() -> None:
    one = _module("one", bot_core_register_strategies=_registers(_strategy_class("one_strat")))
    two = _module("two", bot_core_register_strategies=_registers(_strategy_class("two_strat")))
    three = _module("three", bot_core_register_strategies=_registers(_strategy_class("three_strat")))
    host = load_plugins(
        environ={"BOT_CORE_DISABLE_PLUGINS": "one, bot-core-two"},
        candidates=[_candidate("one", one), _candidate("two", two, "bot-core-two"),
                    _candidate("three", three)],
    )
    statuses = {r.name: r.status for r in host.records}
    assert statuses == {"one": "blocked", "two": "blocked", "three": "enabled"}
    assert set(host.strategies) == {"three_strat"}
    expected = r"unknown strategy 'one_strat'; installed: three_strat \(not loaded: one, two\)"
    with pytest.raises(PluginError, match=expected):
        host.strategy("one_strat")


def test_unknown_hook_name_marks_the_plugin_broken() -> None:
    module = _module("typo", bot_core_register_strategie=_registers(_strategy_class("typo_strat")))
    host = load_plugins(environ={}, candidates=[_candidate("typo", module)])
    rec = host.record("typo")
    assert rec is not None and rec.status == "broken"
    assert "unknown hooks: bot_core_register_strategie" in rec.reason


def test_hook_with_wrong_arguments_marks_the_plugin_broken() -> None:
    def bot_core_register_strategies(registry):  # type: ignore[no-untyped-def]
        return None

    module = _module("badargs", bot_core_register_strategies=bot_core_register_strategies)
    host = load_plugins(environ={}, candidates=[_candidate("badargs", module)])
    rec = host.record("badargs")
    assert rec is not None and rec.status == "broken"
    assert "hook validation failed" in rec.reason and "registry" in rec.reason


def test_component_violating_its_contract_marks_the_plugin_broken() -> None:
    class NoBars(Strategy):
        id = "no_bars"
        Settings = _Settings

    class NotAStrategy:
        id = "not_a_strategy"

    first = _module("nobars", bot_core_register_strategies=_registers(NoBars))
    second = _module("notastrat", bot_core_register_strategies=_registers(NotAStrategy))
    host = load_plugins(environ={}, candidates=[_candidate("nobars", first), _candidate("notastrat", second)])
    nobars, notastrat = host.record("nobars"), host.record("notastrat")
    assert nobars is not None and "data_kind 'ohlcv' requires on_bar()" in nobars.reason
    assert notastrat is not None and "is not a subclass of bot_core.strategy.Strategy" in notastrat.reason
    assert host.strategies == {}


def test_registration_hook_that_raises_marks_only_that_plugin_broken() -> None:
    def explode(register: Callable[[type], None]) -> None:
        register(_strategy_class("partial"))
        raise RuntimeError("database unreachable")

    bad = _module("bad", bot_core_register_strategies=explode)
    good = _module("good", bot_core_register_risk_checks=_registers(_AlwaysApprove))
    host = load_plugins(environ={}, candidates=[_candidate("bad", bad), _candidate("good", good)])
    rec = host.record("bad")
    assert rec is not None and rec.status == "broken"
    assert "RuntimeError: database unreachable" in rec.reason
    assert "partial" not in host.strategies
    assert "always_approve" in host.risk_checks


def test_observers_receive_lifecycle_hooks_in_process() -> None:
    from bot_core.runinfo import RunInfo

    seen: list[tuple[str, object]] = []

    class Probe:
        @bot_core.hookimpl
        def bot_core_on_start(self, run: RunInfo) -> None:
            seen.append(("start", run.run_id))

        @bot_core.hookimpl
        def bot_core_on_stop(self, run: RunInfo, reason: str) -> None:
            seen.append(("stop", reason))

    host = load_plugins(environ={}, candidates=[])
    run = RunInfo("run-1", "backtest", 0)
    assert not host.implements("bot_core_on_start")
    probe = Probe()
    host.register_observer(probe, name="probe")
    host.on_start(run)
    host.on_stop(run, "completed")
    host.unregister_observer(probe)
    host.on_stop(run, "ignored")
    assert seen == [("start", "run-1"), ("stop", "completed")]


def test_builtins_are_registered_like_entry_point_plugins() -> None:
    module = _module("builtin_mod", bot_core_register_risk_checks=_registers(_AlwaysApprove))
    host = load_plugins(environ={}, candidates=[], builtins=[("builtin", module)])
    rec = host.record("builtin")
    assert rec is not None and rec.distribution == "bot-core" and rec.status == "enabled"
    assert host.owners[("risk_check", "always_approve")] == "bot-core"


def test_required_plugins_are_checked_by_name_and_version() -> None:
    module = _module("alpha", bot_core_register_strategies=_registers(_strategy_class("alpha_strat")))
    host = load_plugins(environ={}, candidates=[_candidate("alpha", module, "bot-core-alpha", "0.4.2")])
    assert host.require(["bot-core-alpha>=0.4,<0.5"]) == []
    problems = host.require(["bot-core-alpha>=1.0", "bot-core-missing", "not a requirement!"])
    assert "requires plugin 'bot-core-alpha>=1.0', but version 0.4.2 is installed" in problems[0]
    assert "'bot-core-missing', which is not installed" in problems[1]
    assert "is not a requirement" in problems[2]


def test_trace_env_prints_hook_calls(capsys: pytest.CaptureFixture[str]) -> None:
    module = _module("alpha", bot_core_register_strategies=_registers(_strategy_class("alpha_strat")))
    from bot_core.runinfo import RunInfo

    class Probe:
        @bot_core.hookimpl
        def bot_core_on_start(self, run: RunInfo) -> None:
            pass

    host = load_plugins(environ={"BOT_CORE_TRACE_HOOKS": "1"}, candidates=[_candidate("alpha", module)])
    host.register_observer(Probe())
    host.on_start(RunInfo("traced", "demo", 0))
    err = capsys.readouterr().err
    assert "bot_core_register_strategies [alpha]" in err
    assert "bot_core_on_start" in err and "traced" in err
