"""Parameter grids: ``--grid key=v1,v2,...`` and ``--grid key=start:stop:step``.

A grid is a list of axes, one per strategy parameter; a sweep runs every combination (the
last axis varies fastest). Keys are those of ``--param``: a parameter of every selected
strategy that has it, or ``NAME.param`` for one strategy (instance name or plugin id).
Values are read as ``--param`` reads them: JSON when they are JSON (``20``, ``1.5``,
``true``), text otherwise (``ewma``; ``none`` unsets an optional parameter). A range
``start:stop:step`` includes ``stop`` when the steps land on it (``20:60:20`` is 20, 40, 60).

:func:`check_grid` refuses, before anything runs, every value the strategies' own settings
models refuse, alone or in combination with the other axes and the fixed ``--param`` values,
in the words ``--param`` uses (:mod:`bot_core.config.validation`).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from bot_core.config.validation import settings_errors, shown, validate_settings
from bot_core.errors import UsageError

if TYPE_CHECKING:
    from bot_core.backtest.plan import BacktestPlan
    from bot_core.plugins import PluginHost

__all__ = ["MAX_RANGE_VALUES", "MAX_RUNS_WITHOUT_YES", "GridAxis", "check_grid", "check_size",
           "combinations", "grid_axes", "parse_axis", "run_count"]

MAX_RUNS_WITHOUT_YES = 100_000
"""A sweep of more runs than this needs ``--yes`` (``yes=True``): a typo in a range should
not start a week of work."""

MAX_RANGE_VALUES = 1_000_000
"""Most values one ``start:stop:step`` range may expand to (``0:1e9:1`` is a typo)."""

_SHOWN_PROBLEMS = 8
"""Invalid combinations listed one by one; the rest are counted."""

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True, slots=True)
class GridAxis:
    """One parameter of the grid and the values it takes, in the order given."""

    key: str
    """As typed: ``entry_z`` or ``NAME.entry_z``."""
    values: tuple[Any, ...]

    @property
    def option(self) -> str:
        """How the axis reads on the command line (for messages)."""
        return f"--grid {self.key}={','.join(shown(v) for v in self.values)}"


def _value(raw: str) -> Any:
    """A value as ``--param`` reads it (``bot_core.backtest.plan.parse_params``)."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _decimals(text: str) -> int:
    mantissa, _, exponent = text.lower().partition("e")
    places = len(mantissa.partition(".")[2])
    return max(0, places - int(exponent or 0))


def _range(key: str, text: str) -> tuple[Any, ...]:
    parts = [p.strip() for p in text.split(":")]
    where = f"--grid {key}={text}"
    if len(parts) != 3 or not all(_NUMBER.match(p) for p in parts):
        raise UsageError(f"{where}: a range is start:stop:step with three numbers "
                         f"(e.g. {key}=20:60:20)")
    start, stop, step = (int(p) if p.lstrip("+-").isdigit() else float(p) for p in parts)
    if not step > 0:
        raise UsageError(f"{where}: step must be greater than 0 (got {parts[2]})")
    if start > stop:
        raise UsageError(f"{where}: empty range: start ({parts[0]}) is greater than stop "
                         f"({parts[1]})")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_RANGE_VALUES:
        raise UsageError(f"{where}: {count:,} values; a range may have at most "
                         f"{MAX_RANGE_VALUES:,}")
    if isinstance(start, int) and isinstance(stop, int) and isinstance(step, int):
        return tuple(range(start, stop + 1, step))
    # start + i * step rounded to the inputs' decimals: 0.1:0.3:0.1 is 0.1, 0.2, 0.3, not
    # 0.30000000000000004
    places = max(_decimals(p) for p in parts)
    return tuple(round(start + i * step, places) for i in range(count))


def _axis(key: str, values: tuple[Any, ...], where: str) -> GridAxis:
    seen: set[str] = set()
    for value in values:
        label = json.dumps(value, sort_keys=True, default=str)
        if label in seen:
            raise UsageError(f"{where}: {shown(value)} is listed twice")
        seen.add(label)
    return GridAxis(key, values)


def parse_axis(text: str) -> GridAxis:
    """One ``--grid`` option: ``key=v1,v2,...`` or ``key=start:stop:step``.

    :raises UsageError: no ``=``, no values, an empty or malformed range, a value listed twice.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"--grid {text!r}: expected key=v1,v2,... or key=start:stop:step "
                         f"(e.g. window_bars=20,40,60)")
    raw = raw.strip()
    if ":" in raw and "," not in raw:
        return _axis(key, _range(key, raw), f"--grid {key}={raw}")
    parts = [p.strip() for p in raw.split(",")]
    if not raw or any(not p for p in parts):
        raise UsageError(f"--grid {key}={raw}: expected values separated by commas, none of "
                         f"them empty")
    return _axis(key, tuple(_value(p) for p in parts), f"--grid {key}={raw}")


def grid_axes(grid: Sequence[str] | Mapping[str, Sequence[Any]]) -> list[GridAxis]:
    """The axes of ``--grid`` options, or of a mapping ``{key: [values]}`` (the Python API,
    whose values are taken as they are).

    :raises UsageError: as :func:`parse_axis`; a key given twice; no axis at all.
    """
    axes = []
    if isinstance(grid, Mapping):
        for key, values in grid.items():
            if isinstance(values, str | bytes) or not isinstance(values, Sequence):
                raise UsageError(f"grid {key}: expected a list of values (got {values!r})")
            if not values:
                raise UsageError(f"grid {key}: empty list of values")
            axes.append(_axis(str(key), tuple(values), f"grid {key}"))
    else:
        axes = [parse_axis(item) for item in grid]
    if not axes:
        raise UsageError("--grid: give at least one parameter to sweep (e.g. --grid "
                         "window_bars=20,40,60)")
    keys = [a.key for a in axes]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise UsageError(f"--grid {twice[0]}: given twice; list every value in one --grid "
                         f"option")
    return axes


def run_count(axes: Sequence[GridAxis]) -> int:
    """Combinations of the grid."""
    return math.prod(len(a.values) for a in axes)


def combinations(axes: Sequence[GridAxis]) -> Iterator[dict[str, Any]]:
    """Every combination as ``{key: value}``, the last axis varying fastest."""
    keys = [a.key for a in axes]
    for values in itertools.product(*(a.values for a in axes)):
        yield dict(zip(keys, values, strict=True))


def check_size(runs: int, *, yes: bool, detail: str) -> None:
    """Refuse more than :data:`MAX_RUNS_WITHOUT_YES` runs unless confirmed.

    :param detail: how the count comes about (``10 x 10 grid x 5 windows``)."""
    if runs > MAX_RUNS_WITHOUT_YES and not yes:
        raise UsageError(f"--grid: {runs:,} runs ({detail}); more than "
                         f"{MAX_RUNS_WITHOUT_YES:,} needs --yes")


# -- against the strategies' settings ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    strategy: str
    """Instance name."""
    field: str
    model: type[BaseModel]
    base: dict[str, Any]
    """The strategy's settings with the fixed ``--param`` values (the base plan's)."""


def _targets(plan: BacktestPlan, host: PluginHost, key: str) -> list[_Target]:
    """The strategies and fields a key sets, by the rule of ``--param``: ``param`` for every
    selected strategy that has it, ``NAME.param`` for the one named (instance or plugin id)."""
    from bot_core.backtest.plan import param_field

    config = plan.resolved.config
    found = []
    for name in plan.strategies:
        plugin = config.strategies[name].plugin
        model = host.strategy(plugin).Settings
        param = param_field(key, name, plugin, model.model_fields)
        if param is not None:
            found.append(_Target(name, param, model,
                                 plan.resolved.strategy_settings[name].model_dump()))
    return found


def _options(values: Mapping[str, Any]) -> str:
    return " ".join(f"--grid {k}={shown(v)}" for k, v in values.items())


def check_grid(axes: Sequence[GridAxis], plan: BacktestPlan, host: PluginHost,
               fixed: Mapping[str, Any]) -> None:
    """Refuse a grid the strategies cannot run, before any work starts.

    :param plan: the sweep's base plan (``plan_backtest`` with the fixed ``--param`` values).
    :param fixed: the fixed ``--param`` values, as given.
    :raises UsageError: one line per problem: a key that is also fixed or that no selected
        strategy has; each value the strategy's settings model refuses (wrong type, out of
        range, or against a fixed value); each combination of values it refuses together
        (the first few, and how many more).
    """
    problems: list[str] = []
    targets: dict[str, list[_Target]] = {}
    for axis in axes:
        if axis.key in fixed:
            problems.append(f"--grid {axis.key}: also fixed by --param {axis.key}; give it "
                            f"once")
            continue
        found = _targets(plan, host, axis.key)
        if not found:
            known = sorted({f for n in plan.strategies for f in host.strategy(
                plan.resolved.config.strategies[n].plugin).Settings.model_fields})
            problems.append(f"--grid {axis.key}: no selected strategy has this parameter "
                            f"(parameters: {', '.join(known)})")
            continue
        targets[axis.key] = found
        refused = 0
        for value in axis.values:
            for t in found:
                messages = _refused(t, {t.field: value})
                refused += bool(messages)
                if messages and refused <= _SHOWN_PROBLEMS:
                    problems += [f"--grid {axis.key}={shown(value)}: {t.strategy}: {message}"
                                 for message in messages]
        if refused > _SHOWN_PROBLEMS:
            problems.append(f"--grid {axis.key}: {refused:,} of {len(axis.values):,} values are "
                            f"refused ({refused - _SHOWN_PROBLEMS:,} more not shown)")
    if problems:
        raise UsageError("\n".join(problems))
    _check_combinations(axes, targets)


def _refused(target: _Target, values: Mapping[str, Any]) -> list[str]:
    try:
        validate_settings(target.model, {**target.base, **values})
    except ValidationError as exc:
        return [err.message for err in settings_errors(exc)]
    return []


def _check_combinations(axes: Sequence[GridAxis], targets: Mapping[str, list[_Target]]) -> None:
    """Values that pass alone but not together (``exit_z`` against ``entry_z``): every
    combination of the axes that set the same strategy."""
    per_strategy: dict[str, list[tuple[GridAxis, _Target]]] = {}
    for axis in axes:
        for t in targets.get(axis.key, []):
            per_strategy.setdefault(t.strategy, []).append((axis, t))
    lines: list[str] = []
    for name, pairs in per_strategy.items():
        if len(pairs) < 2:
            continue  # its values were checked with the rest of its settings already
        invalid = shown_count = 0
        for combo in combinations([axis for axis, _ in pairs]):
            messages = _refused(pairs[0][1], {t.field: combo[axis.key] for axis, t in pairs})
            if not messages:
                continue
            invalid += 1
            if shown_count < _SHOWN_PROBLEMS:
                shown_count += 1
                lines += [f"{_options(combo)}: {name}: {m}" for m in messages]
        if invalid > shown_count:
            total = run_count([axis for axis, _ in pairs])
            lines.append(f"{name}: {invalid:,} of {total:,} combinations of "
                         f"{', '.join(axis.key for axis, _ in pairs)} are refused "
                         f"({invalid - shown_count:,} more not shown)")
    if lines:
        raise UsageError("\n".join(lines))
