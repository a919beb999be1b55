"""Grid parsing and the refusals that come before any run: malformed options, unknown keys,
values the strategy's own settings model refuses (alone or together), values that cannot work
on the data, and grids too large without --yes."""

from __future__ import annotations

from pathlib import Path

import pytest

import bot_core
from bot_core.backtest.plan import plan_backtest
from bot_core.errors import UsageError
from bot_core.sweep.grid import (
    MAX_RUNS_WITHOUT_YES,
    GridAxis,
    check_grid,
    check_size,
    combinations,
    grid_axes,
    parse_axis,
)
from bot_core.sweep.runner import plan_sweep


@pytest.mark.parametrize(("text", "values"), [
    ("window_bars=20,40,60", (20, 40, 60)),
    ("entry_z=1.5,2,2.5", (1.5, 2, 2.5)),
    ("window_bars=20:60:20", (20, 40, 60)),
    ("window_bars=20:50:20", (20, 40)),
    ("entry_z=0.1:0.3:0.1", (0.1, 0.2, 0.3)),
    ("entry_z=1:2:0.25", (1.0, 1.25, 1.5, 1.75, 2.0)),
    ("stop_loss_pct=none,3", ("none", 3)),
    ("allow_short=true,false", (True, False)),
    ("mean_reversion.entry_z=2", (2,)),
])
def test_values_and_ranges(text: str, values: tuple[object, ...]) -> None:
    axis = parse_axis(text)
    assert axis.values == values
    assert axis.key == text.partition("=")[0]


@pytest.mark.parametrize(("text", "message"), [
    ("window_bars", "expected key=v1,v2"),
    ("=1,2", "expected key=v1,v2"),
    ("window_bars=", "none of them empty"),
    ("window_bars=20,,40", "none of them empty"),
    ("window_bars=60:20:10", "empty range: start (60) is greater than stop (20)"),
    ("window_bars=20:60:0", "step must be greater than 0"),
    ("window_bars=20:60:-5", "step must be greater than 0"),
    ("window_bars=20:60", "three numbers"),
    ("window_bars=a:b:c", "three numbers"),
    ("window_bars=0:1e9:1", "a range may have at most"),
    ("window_bars=20,40,20", "20 is listed twice"),
])
def test_malformed_options_are_refused(text: str, message: str) -> None:
    with pytest.raises(UsageError, match="--grid") as err:
        parse_axis(text)
    assert message in str(err.value)


def test_a_key_twice_or_no_key_is_refused() -> None:
    with pytest.raises(UsageError, match="--grid window_bars: given twice"):
        grid_axes(["window_bars=20", "window_bars=40"])
    with pytest.raises(UsageError, match="at least one parameter"):
        grid_axes([])
    with pytest.raises(UsageError, match="grid entry_z: empty list"):
        grid_axes({"entry_z": []})


def test_combinations_vary_the_last_axis_fastest() -> None:
    axes = [GridAxis("a", (1, 2)), GridAxis("b", ("x", "y", "z"))]
    assert list(combinations(axes)) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"},
        {"a": 2, "b": "x"}, {"a": 2, "b": "y"}, {"a": 2, "b": "z"}]


def test_more_than_the_limit_needs_yes() -> None:
    check_size(MAX_RUNS_WITHOUT_YES, yes=False, detail="x")
    with pytest.raises(UsageError, match=r"100,001 runs \(x\); more than 100,000 needs --yes"):
        check_size(MAX_RUNS_WITHOUT_YES + 1, yes=False, detail="x")
    check_size(MAX_RUNS_WITHOUT_YES + 1, yes=True, detail="x")


@pytest.fixture(scope="module")
def base(installed: bot_core.PluginHost, tmp_path_factory: pytest.TempPathFactory) -> object:
    from .conftest import DEMO_CONFIG

    path = tmp_path_factory.mktemp("grid") / "bot.toml"
    path.write_text(DEMO_CONFIG, encoding="utf-8")
    return plan_backtest(installed, strategies=["mean_reversion"], datasets=["demo-btc-usdt-1m"],
                         preset=None, config_path=path, params={"exit_z": 0.5})


def _refusal(installed: bot_core.PluginHost, base: object, grid: list[str],
             fixed: dict[str, object] | None = None) -> list[str]:
    with pytest.raises(UsageError) as err:
        check_grid(grid_axes(grid), base, installed,  # type: ignore[arg-type]
                   {"exit_z": 0.5} if fixed is None else fixed)
    return str(err.value).splitlines()


def test_grid_values_are_checked_by_the_strategys_settings(installed, base) -> None:
    lines = _refusal(installed, base, ["window_bars=1,20,100001", "entry_z=x,2"])
    assert lines == [
        "--grid window_bars=1: mean_reversion: Input should be greater than or equal to 2",
        "--grid window_bars=100001: mean_reversion: Input should be less than or equal to "
        "100000",
        "--grid entry_z=x: mean_reversion: Input should be a valid number, unable to parse "
        "string as a number",
    ]


def test_unknown_key_and_a_key_also_fixed_are_refused(installed, base) -> None:
    lines = _refusal(installed, base, ["lookback=5,10", "exit_z=0,1"])
    assert lines[0].startswith("--grid lookback: no selected strategy has this parameter "
                               "(parameters: allow_short, entry_z,")
    assert lines[1] == "--grid exit_z: also fixed by --param exit_z; give it once"
    assert _refusal(installed, base, ["vol_target.max_leverage=1"])[0].startswith(
        "--grid vol_target.max_leverage: no selected strategy has this parameter")


def test_a_value_against_a_fixed_value_is_refused(installed, base) -> None:
    # exit_z = 0.5 is fixed: entry_z must keep exit_z > -entry_z, fine for any entry_z > 0,
    # so take exit_z on the grid against a fixed entry_z instead
    lines = _refusal(installed, base, ["exit_z=-3,0"], fixed={"entry_z": 2.5})
    assert lines == ["--grid exit_z=-3: mean_reversion: exit_z (-3.0) must be greater than "
                     "-entry_z (-2.5), or every entry would exit at once"]


def test_values_refused_together_name_the_combination(installed, base) -> None:
    lines = _refusal(installed, base, ["entry_z=0.5,1,2", "exit_z=-1.5,0"], fixed={})
    assert lines == [
        "--grid entry_z=0.5 --grid exit_z=-1.5: mean_reversion: exit_z (-1.5) must be greater "
        "than -entry_z (-0.5), or every entry would exit at once",
        "--grid entry_z=1 --grid exit_z=-1.5: mean_reversion: exit_z (-1.5) must be greater "
        "than -entry_z (-1.0), or every entry would exit at once",
    ]


def test_a_valid_grid_passes(installed, base) -> None:
    check_grid(grid_axes({"window_bars": [20, 40], "entry_z": [1.5, 2.0]}), base,  # type: ignore[arg-type]
               installed, {"exit_z": 0.5})


def test_values_that_cannot_work_on_the_data_are_refused_before_any_run(
        installed: bot_core.PluginHost, demo_config: Path) -> None:
    with pytest.raises(UsageError) as err:
        plan_sweep(installed, strategies=["mean_reversion"], datasets=["demo-btc-usdt-1m"],
                   grid=["window_bars=60,50000"], preset=None, config_path=demo_config)
    assert str(err.value).startswith(
        "--grid window_bars=50000: strategies.mean_reversion.params.window_bars: 50000 1m bars")
    assert "demo-btc-usdt-1m has 43200 rows" in str(err.value)
    # on a walk-forward, the shortest period is what a value must fit
    with pytest.raises(UsageError) as err:
        plan_sweep(installed, strategies=["mean_reversion"], datasets=["demo-btc-usdt-1m"],
                   grid=["window_bars=60,5000"], preset=None, config_path=demo_config,
                   walk_forward="5d:2d")
    assert str(err.value).startswith(
        "--grid window_bars=5000 (on the period 2024-01-06T00:00:00Z to 2024-01-08T00:00:00Z)")
    assert "has 2880 rows" in str(err.value)


def test_a_huge_grid_is_refused_before_it_is_checked(installed, demo_config) -> None:
    with pytest.raises(UsageError, match=r"--grid: 400,000 runs \(400 x 1000 grid\)"):
        plan_sweep(installed, strategies=["mean_reversion"], datasets=["demo-btc-usdt-1m"],
                   grid=["window_bars=2:401:1", "entry_z=0.01:10:0.01"], preset=None,
                   config_path=demo_config)
