"""A sweep from start to end: check everything, run every backtest, keep and summarise results.

:func:`plan_sweep` does every check before any work starts: the datasets load, the config and
the fixed ``--param`` values plan as ``bot-core backtest`` would plan them, the grid's keys and
values pass the strategies' own settings models (alone and together), every value works on the
data (on the shortest period it will run on), every walk-forward period has data, and the size
of the sweep is confirmed. :func:`execute_sweep` runs the plan on an executor, writing each
result as it comes (:mod:`bot_core.sweep.results`), and :func:`run_sweep` does both for a
notebook.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bot_core.config.validation import shown
from bot_core.errors import BotCoreError, ConfigError, ConfigProblem, DataError, UsageError
from bot_core.sweep.grid import GridAxis, check_grid, check_size, combinations, grid_axes, run_count
from bot_core.sweep.results import (
    ERRORS_LOG,
    METRICS,
    ResultsFile,
    check_definition,
    columns,
    parse_row,
    record_row,
    rows_frame,
    run_key,
    write_parquet,
)
from bot_core.sweep.runs import (
    DatasetPayload,
    Requirements,
    RunRecord,
    RunSpec,
    SweepContext,
    component_versions,
    frame_checksum,
    needed_components,
    slice_spec,
)
from bot_core.sweep.walkforward import best_params, stitch
from bot_core.sweep.windows import WalkForward, Window, parse_walk_forward, walk_forward_windows

if TYPE_CHECKING:
    import pandas as pd

    from bot_core.backtest.plan import BacktestPlan, DataSpec
    from bot_core.plugins import PluginHost
    from bot_core.sweep.executors import Executor

__all__ = ["ProgressCallback", "SweepInterrupted", "SweepOutcome", "SweepPlan", "execute_sweep",
           "make_executor", "plan_sweep", "run_sweep"]

ProgressCallback = Callable[[int, int], None]
"""``(runs finished, runs in total)``, after every run."""


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a sweep; the runs that finished are kept (``finished`` of ``total``,
    in ``directory`` when the sweep writes one)."""

    def __init__(self, finished: int, total: int, directory: Path | None) -> None:
        self.finished, self.total, self.directory = finished, total, directory
        super().__init__(f"{finished} of {total} runs finished")


@dataclass(slots=True)
class SweepPlan:
    """A checked sweep, ready to run."""

    context: SweepContext
    payloads: list[DatasetPayload]
    axes: list[GridAxis]
    metric: str
    base: BacktestPlan
    walk_forward: WalkForward | None
    windows: list[Window]
    requirements: Requirements
    definition: dict[str, Any]
    """What identifies the sweep in ``sweep.json`` (a resume must match it)."""
    rerun: list[str]
    """``bot-core backtest`` words that rerun one full-data run without its ``--param`` values
    (empty when the datasets were given as frames)."""
    warnings: list[str] = field(default_factory=list)

    @property
    def grid_keys(self) -> list[str]:
        return [a.key for a in self.axes]

    @property
    def total_runs(self) -> int:
        combos = run_count(self.axes)
        return combos * len(self.windows) + len(self.windows) if self.windows else combos

    def first_runs(self) -> list[RunSpec]:
        """The grid's runs: on the whole data, or on every window's training period."""
        combos = list(combinations(self.axes))
        if not self.windows:
            return [RunSpec(run_key("full", c), "full", c) for c in combos]
        return [RunSpec(run_key("train", c, w.index), "train", c, w.index, w.train_start_ns,
                        w.train_end_ns) for w in self.windows for c in combos]


@dataclass(slots=True)
class SweepOutcome:
    """What a sweep gave: every run's row, and for a walk-forward its windows and OOS curve."""

    plan: SweepPlan
    results: pd.DataFrame
    """One row per run (the grid's order; walk-forward: training runs, then test runs)."""
    executor: str
    notes: list[str]
    resumed: int
    """Runs taken from the results of an earlier, interrupted sweep."""
    windows: pd.DataFrame | None = None
    """Walk-forward: per window, its periods, the chosen parameters, in- and out-of-sample
    metrics."""
    oos_equity: pd.DataFrame | None = None
    """Walk-forward: the stitched out-of-sample curve (time, window, equity)."""
    oos_metrics: dict[str, float] | None = None
    paths: dict[str, Path] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def failed(self) -> pd.DataFrame:
        return self.results[self.results["error"].fillna("") != ""]


# -- planning -------------------------------------------------------------------------------------


def _payloads(datasets: Sequence[str] | Mapping[str, DataSpec]) -> list[DatasetPayload]:
    from bot_core.backtest.plan import DataSpec

    if isinstance(datasets, Mapping):
        return [DatasetPayload(ident, frame_checksum(spec.frame), spec)
                for ident, spec in datasets.items()]
    from bot_core.data.library import get_dataset, load_dataset

    if not datasets:
        raise UsageError("--dataset: give at least one dataset id")
    payloads = []
    for ident in dict.fromkeys(datasets):
        try:
            entry = get_dataset(ident)
            frame = load_dataset(ident)
        except DataError as exc:
            raise UsageError(f"--dataset {ident}: {exc}") from None
        payloads.append(DatasetPayload(ident, entry.sha256, DataSpec(
            frame, entry.kind, entry.instrument, entry.venue, entry.timeframe)))
    return payloads


def _span(payloads: Sequence[DatasetPayload]) -> tuple[int, int]:
    """First time of the data and the end of its last bar (last time + its spacing)."""
    import numpy as np

    starts, ends = [], []
    for p in payloads:
        ts = np.asarray(p.spec.frame.index.as_unit("ns").asi8, dtype=np.int64)
        if len(ts) == 0:
            continue
        spacing = int(np.median(np.diff(ts))) if len(ts) > 1 else 1
        starts.append(int(ts[0]))
        ends.append(int(ts[-1]) + spacing)
    if not starts:
        raise UsageError("--dataset: the datasets have no rows")
    return min(starts), max(ends)


def _period(start_ns: int | None, end_ns: int | None) -> str:
    from bot_core.backtest.results import iso_utc

    if start_ns is None or end_ns is None:
        return "the whole data"
    return f"{iso_utc(start_ns)} to {iso_utc(end_ns)}"


def _grid_problem(exc: BotCoreError, axis: GridAxis, value: Any, where: str) -> list[str]:
    """A value's problem with the data, in ``--grid`` terms."""
    option = f"--grid {axis.key}={shown(value)}{where}"
    if isinstance(exc, ConfigError):
        return [str(ConfigProblem(option, p.field, p.value, p.message)) for p in exc.problems]
    return [f"{option}: {line}" for line in str(exc).splitlines()]


def plan_sweep(
    host: PluginHost,
    *,
    strategies: Sequence[str],
    datasets: Sequence[str] | Mapping[str, DataSpec],
    grid: Sequence[str] | Mapping[str, Sequence[Any]],
    preset: str | None = "balanced",
    config_path: Path | None = None,
    params: Mapping[str, Any] | None = None,
    fee_bps: float | None = None,
    walk_forward: str | None = None,
    metric: str = "sharpe",
    yes: bool = False,
) -> SweepPlan:
    """Check a sweep completely before anything runs (see the module docstring).

    :param datasets: dataset ids of the library, or frames (:class:`DataSpec`) by id.
    :param grid: ``--grid`` options (``key=v1,v2``, ``key=start:stop:step``) or ``{key: [values]}``.
    :param params: fixed strategy parameters (``--param``).
    :param walk_forward: ``TRAIN:TEST[:STEP]`` (:mod:`bot_core.sweep.windows`), or None.
    :param metric: what ranks the runs and chooses each window's parameters (:data:`METRICS`).
    :param yes: allow more than 100,000 runs.
    :raises UsageError: or :class:`ConfigError`, :class:`PluginError`, naming what is wrong.
    """
    import os

    from bot_core.backtest.plan import plan_backtest
    from bot_core.config.env import ENV_PREFIX, is_not_a_setting

    if metric not in METRICS:
        raise UsageError(f"--metric {metric}: choose one of {', '.join(METRICS)}")
    fixed = dict(params or {})
    axes = grid_axes(grid)
    spec = parse_walk_forward(walk_forward) if walk_forward else None
    strategies = list(strategies)
    payloads = _payloads(datasets)
    specs = {p.id: p.spec for p in payloads}

    def plan(data: Mapping[str, DataSpec], extra: Mapping[str, Any]) -> BacktestPlan:
        return plan_backtest(host, strategies=strategies, datasets=data, preset=preset,
                             config_path=config_path, params={**fixed, **extra}, fee_bps=fee_bps)

    windows = walk_forward_windows(spec, *_span(payloads)) if spec is not None else []
    combos = run_count(axes)
    detail = " x ".join(str(len(a.values)) for a in axes) + " grid"
    if windows:
        detail += f" x {len(windows)} windows + {len(windows)} test runs"
    check_size(combos * len(windows) + len(windows) if windows else combos, yes=yes, detail=detail)
    base = plan(specs, {})
    check_grid(axes, base, host, fixed)

    # every period a run replays must plan with the fixed values, and every grid value must
    # work on the data; the shortest period is where a value most likely does not
    shortest: tuple[int, Mapping[str, DataSpec], str] = (0, specs, "")
    for w in windows:
        for start, end in ((w.train_start_ns, w.train_end_ns), (w.test_start_ns, w.test_end_ns)):
            data = {i: slice_spec(s, start, end) for i, s in specs.items()}
            try:
                plan(data, {})
            except (ConfigError, UsageError, DataError) as exc:
                assert spec is not None
                raise UsageError(f"--walk-forward {spec.text}: the period {_period(start, end)}: "
                                 + " / ".join(str(exc).splitlines())) from None
            rows = min(len(d.frame) for d in data.values())
            if not shortest[2] or rows < shortest[0]:
                shortest = (rows, data, f" (on the period {_period(start, end)})")
    where = shortest[2]
    problems: list[str] = []
    for axis in axes:
        for value in axis.values:
            try:
                plan(shortest[1], {axis.key: value})
            except (ConfigError, UsageError, DataError) as exc:
                problems += _grid_problem(exc, axis, value, where)
    if problems:
        raise UsageError("\n".join(problems))

    config_text = config_path.read_text(encoding="utf-8") if config_path is not None else None
    environ = {k: v for k, v in os.environ.items()
               if k.startswith(ENV_PREFIX) and not is_not_a_setting(k)}
    context = SweepContext(tuple(strategies), tuple((p.id, p.checksum) for p in payloads),
                           preset if config_path is None else None,
                           config_path.name if config_path is not None else None,
                           config_text, fixed, fee_bps, environ)
    needed = needed_components(base.resolved.config, base.strategies)
    requirements = Requirements(
        tuple(needed), {f"{k}:{i}": host.owners[(k, i)] for k, i in needed
                        if (k, i) in host.owners},
        component_versions(host, needed))
    import hashlib

    definition = {
        "strategies": strategies, "datasets": dict(context.datasets),
        "preset": context.preset, "config": config_path.name if config_path else None,
        "config_sha256": hashlib.sha256(config_text.encode()).hexdigest() if config_text
        else None, "params": fixed, "fee_bps": fee_bps,
        "grid": {a.key: list(a.values) for a in axes}, "environ": environ,
        "walk_forward": spec.text if spec else None, "metric": metric if spec else None,
    }
    rerun: list[str] = []
    if not isinstance(datasets, Mapping):
        rerun = ["bot-core", "backtest", "--strategy", ",".join(strategies),
                 "--dataset", ",".join(p.id for p in payloads)]
        rerun += ["--config", str(config_path)] if config_path else \
            ["--preset", preset] if preset else []
        rerun += [f"--param={k}={shown(v)}" for k, v in fixed.items()]
        rerun += [f"--fee-bps={fee_bps:g}"] if fee_bps is not None else []
    return SweepPlan(context, payloads, axes, metric, base, spec, windows, requirements,
                     definition, rerun, list(base.warnings))


def make_executor(kind: Literal["local", "dask"] = "local", *, scheduler: str | None = None,
                  workers: int | None = None) -> Executor:
    """The executor of ``kind`` (``dask``: ``scheduler`` or ``BOT_CORE_DASK_SCHEDULER``, else a
    LocalCluster on loopback); checks the options before anything starts."""
    import os

    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers}: must be at least 1")
    if kind == "local":
        if scheduler:
            raise UsageError("--scheduler: only with --executor dask")
        from bot_core.sweep.executors import LocalExecutor

        return LocalExecutor(workers)
    if kind == "dask":
        from bot_core.sweep.dask_executor import SCHEDULER_ENV, DaskExecutor

        return DaskExecutor(scheduler or os.environ.get(SCHEDULER_ENV) or None, workers)
    raise UsageError(f"--executor {kind}: choose local or dask")


# -- running --------------------------------------------------------------------------------------


class _Progress:
    def __init__(self, total: int, done: int, callback: ProgressCallback | None) -> None:
        self.total, self.done, self.callback = total, done, callback
        self.tick(0)

    def tick(self, n: int = 1) -> None:
        self.done += n
        if self.callback is not None:
            self.callback(self.done, self.total)


class _Sweep:
    """The state of one execution: rows by key, the files written as runs finish."""

    def __init__(self, plan: SweepPlan, out: Path | None, resume: bool) -> None:
        self.plan = plan
        self.out = out
        self.header = columns(plan.grid_keys)
        self.rows: dict[str, dict[str, Any]] = {}
        self.file: ResultsFile | None = None
        if out is not None:
            check_definition(out, plan.definition, resume=resume)
            self.file = ResultsFile(out, self.header)
            for raw in self.file.read():
                self.rows[raw["key"]] = parse_row(raw)

    def finished(self, key: str) -> bool:
        row = self.rows.get(key)
        return row is not None and not row.get("error")

    def keep(self, record: RunRecord, period: tuple[str, str] = ("", "")) -> dict[str, Any]:
        spec = record.spec
        rerun = ""
        if spec.phase == "full" and self.plan.rerun:
            rerun = shlex.join(self.plan.rerun + [f"--param={k}={shown(v)}"
                                                  for k, v in spec.params.items()])
        row = record_row(record, self.plan.grid_keys, datasets=dict(self.plan.context.datasets),
                         rerun=rerun, period=period)
        self.rows[spec.key] = row
        if self.out is not None and self.file is not None:
            if record.error:
                with (self.out / ERRORS_LOG).open("a", encoding="utf-8") as fh:
                    fh.write(f"{spec.key}: {record.error}\n{record.traceback}")
            self.file.append(row)
        return row

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _window_period(w: Window, phase: str) -> tuple[str, str]:
    from bot_core.backtest.results import iso_utc

    if phase == "train":
        return iso_utc(w.train_start_ns), iso_utc(w.train_end_ns)
    return iso_utc(w.test_start_ns), iso_utc(w.test_end_ns)


def _run(state: _Sweep, executor: Executor, specs: Sequence[RunSpec], progress: _Progress,
         on_record: Callable[[RunRecord], None] | None = None) -> None:
    windows = {w.index: w for w in state.plan.windows}
    for record in executor.run(specs):
        window = windows.get(record.spec.window) if record.spec.window is not None else None
        if on_record is not None and record.ok:
            on_record(record)
        state.keep(record, _window_period(window, record.spec.phase) if window else ("", ""))
        progress.tick()


def execute_sweep(plan: SweepPlan, executor: Executor, *, out: Path | None = None,
                  resume: bool = False, progress: ProgressCallback | None = None,
                  on_note: Callable[[str], None] | None = None) -> SweepOutcome:
    """Run ``plan`` on ``executor``; write results into ``out`` as they come (and continue the
    sweep already there when ``resume``). ``on_note`` hears, as soon as they are known, the
    executor's notes (Dask workers left out and why); the outcome lists them too.

    :raises SweepInterrupted: on Ctrl-C, after the workers are stopped (finished runs kept).
    """
    started = time.perf_counter()
    state = _Sweep(plan, out, resume)
    first = plan.first_runs()
    todo = [s for s in first if not state.finished(s.key)]
    resumed = len(first) - len(todo)
    counter = _Progress(plan.total_runs, resumed, progress)
    notes: list[str] = []
    curves: dict[int, tuple[Any, Any]] = {}
    cancel = False
    try:
        notes += executor.start(plan.context, plan.payloads, len(todo) or 1, plan.requirements)
        if on_note is not None:
            for note in notes:
                on_note(note)
        _run(state, executor, todo, counter)
        if plan.windows:
            tests, reused = _test_runs(plan, state, curves, counter)
            resumed += reused
            _run(state, executor, tests, counter,
                 on_record=lambda r: _keep_curve(plan, out, r, curves))
    except KeyboardInterrupt:
        cancel = True
        raise SweepInterrupted(counter.done, plan.total_runs, out) from None
    finally:
        executor.close(cancel=cancel)
        state.close()
    return _outcome(plan, state, executor.description, notes, resumed, curves, out,
                    time.perf_counter() - started)


def _test_runs(plan: SweepPlan, state: _Sweep, curves: dict[int, tuple[Any, Any]],
               counter: _Progress) -> tuple[list[RunSpec], int]:
    """Each window's test run with its best training parameters, and how many of them a
    resume keeps (done before with the same parameters, their curve on disk)."""
    specs = []
    reused = 0
    for w in plan.windows:
        key = run_key("test", {}, w.index)
        best = best_params(_train_rows(plan, state, w), plan.metric)
        if best is None:
            continue  # nothing to test: every training run failed
        params = best[0]
        done = state.rows.get(key)
        if done is not None and not done.get("error") and json.loads(done["params"]) == params \
                and _load_curve(state.out, w.index, curves):
            reused += 1
            continue
        specs.append(RunSpec(key, "test", params, w.index, w.test_start_ns, w.test_end_ns,
                             keep_equity=True))
    counter.tick(len(plan.windows) - len(specs))
    return specs, reused


def _train_rows(plan: SweepPlan, state: _Sweep, window: Window) -> list[dict[str, Any]]:
    """A window's training rows, in grid order."""
    keys = (run_key("train", c, window.index) for c in combinations(plan.axes))
    return [state.rows[k] for k in keys if k in state.rows]


def _curve_path(out: Path, window: int) -> Path:
    return out / "oos" / f"w{window}.csv"


def _keep_curve(plan: SweepPlan, out: Path | None, record: RunRecord,
                curves: dict[int, tuple[Any, Any]]) -> None:
    """A test run's curve, kept (and written before its row, so a row implies its curve)."""
    assert record.spec.window is not None and record.ts_ns is not None
    curves[record.spec.window] = (record.ts_ns, record.equity)
    if out is not None:
        import numpy as np

        path = _curve_path(out, record.spec.window)
        path.parent.mkdir(exist_ok=True)
        np.savetxt(path.with_suffix(".tmp"), np.column_stack(
            [record.ts_ns.astype(np.float64), np.asarray(record.equity)]), delimiter=",",
            fmt=["%d", "%.17g"], header="ts_ns,equity", comments="")
        path.with_suffix(".tmp").replace(path)


def _load_curve(out: Path | None, window: int, curves: dict[int, tuple[Any, Any]]) -> bool:
    if out is None or not _curve_path(out, window).exists():
        return False
    import numpy as np

    data = np.loadtxt(_curve_path(out, window), delimiter=",", skiprows=1, dtype=np.float64,
                      ndmin=2)
    curves[window] = (data[:, 0].astype(np.int64), data[:, 1])
    return True


def _outcome(plan: SweepPlan, state: _Sweep, executor: str, notes: list[str], resumed: int,
             curves: Mapping[int, tuple[Any, Any]], out: Path | None,
             elapsed: float) -> SweepOutcome:
    order = [s.key for s in plan.first_runs()]
    if plan.windows:
        order += [run_key("test", {}, w.index) for w in plan.windows]
    frame = rows_frame([state.rows[k] for k in order if k in state.rows], state.header)
    outcome = SweepOutcome(plan, frame, executor, notes, resumed, elapsed_s=elapsed)
    if plan.windows:
        _walk_forward_outcome(plan, state, curves, outcome)
    if out is not None:
        _write_outputs(plan, outcome, out)
    return outcome


def _walk_forward_outcome(plan: SweepPlan, state: _Sweep, curves: Mapping[int, tuple[Any, Any]],
                          outcome: SweepOutcome) -> None:
    import pandas as pd

    from bot_core.backtest.metrics import compute_metrics
    from bot_core.backtest.results import iso_utc_array

    shown_metrics = list(dict.fromkeys([plan.metric, "total_return", "sharpe", "max_drawdown"]))
    rows = []
    used: list[tuple[Any, Any]] = []
    used_windows: list[int] = []
    starts = []
    for w in plan.windows:
        test = state.rows.get(run_key("test", {}, w.index))
        best = best_params(_train_rows(plan, state, w), plan.metric)
        row: dict[str, Any] = {"window": w.index, **dict(zip(
            ("train_start", "train_end"), _window_period(w, "train"), strict=True)), **dict(zip(
                ("test_start", "test_end"), _window_period(w, "test"), strict=True)),
            "params": json.dumps(best[0]) if best else ""}
        for m in shown_metrics:
            row[f"in_sample_{m}"] = best[1][m] if best else None
            row[f"out_of_sample_{m}"] = test[m] if test and not test.get("error") else None
        row["error"] = (test or {}).get("error", "") if best else "every training run failed"
        rows.append(row)
        if w.index in curves:
            used.append(curves[w.index])
            used_windows.append(w.index)
            starts.append(w.test_start_ns)
    outcome.windows = pd.DataFrame(rows)
    initial = plan.base.resolved.config.runtime.initial_equity
    ts, equity, which = stitch(used, initial)
    outcome.oos_equity = pd.DataFrame({
        "time": iso_utc_array(ts), "window": [used_windows[i] for i in which.tolist()],
        "equity": equity})
    if len(ts):
        stitched = compute_metrics(ts, equity, initial_equity=initial)
        outcome.oos_metrics = {k: float(getattr(stitched, k)) for k in
                               ("total_return", "cagr", "sharpe", "sortino", "max_drawdown")}
    outcome.oos_equity.attrs["ts_ns"] = ts
    outcome.oos_equity.attrs["starts_ns"] = starts


def _title(plan: SweepPlan) -> str:
    return (f"{', '.join(plan.context.strategies)} on "
            f"{', '.join(i for i, _ in plan.context.datasets)}")


def _write_outputs(plan: SweepPlan, outcome: SweepOutcome, out: Path) -> None:
    from bot_core.sweep import plots

    paths = outcome.paths
    paths["results_csv"] = out / "results.csv"
    parquet = write_parquet(outcome.results, out)
    if parquet is not None:
        paths["results_parquet"] = parquet
    metric = plan.metric
    if len(plan.axes) == 2 and not plan.windows:
        import numpy as np

        by_key = dict(zip(outcome.results["key"], outcome.results[metric], strict=True))
        rows, cols = (a.values for a in plan.axes)
        grid = np.array([[by_key.get(run_key("full", dict(zip(plan.grid_keys, (a, b),
                                                               strict=True))))
                          for b in cols] for a in rows], dtype=np.float64)
        paths["heatmap"] = plots.plot_heatmap(grid, plan.grid_keys, [rows, cols], metric,
                                              out / "heatmap.png", _title(plan),
                                              higher_is_better=METRICS[metric])
    if outcome.windows is not None:
        paths["walk_forward_csv"] = out / "walk_forward.csv"
        outcome.windows.to_csv(paths["walk_forward_csv"], index=False)
    if outcome.oos_equity is not None and len(outcome.oos_equity):
        paths["oos_equity_csv"] = out / "oos_equity.csv"
        outcome.oos_equity.to_csv(paths["oos_equity_csv"], index=False, float_format="%.17g")
        paths["oos_equity_png"] = plots.plot_oos_equity(
            outcome.oos_equity.attrs["ts_ns"], outcome.oos_equity["equity"].to_numpy(),
            outcome.oos_equity.attrs["starts_ns"], out / "oos_equity.png", _title(plan))


def run_sweep(
    strategies: Sequence[str] | str,
    datasets: Sequence[str] | str | Mapping[str, DataSpec],
    grid: Sequence[str] | Mapping[str, Sequence[Any]],
    *,
    preset: str | None = "balanced",
    config_path: Path | str | None = None,
    params: Mapping[str, Any] | None = None,
    fee_bps: float | None = None,
    walk_forward: str | None = None,
    metric: str = "sharpe",
    executor: Literal["local", "dask"] = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    out: Path | str | None = None,
    resume: bool = False,
    yes: bool = False,
    progress: ProgressCallback | None = None,
    host: PluginHost | None = None,
) -> pd.DataFrame:
    """Run a parameter sweep and return one row per run (for notebooks).

    The arguments are those of ``bot-core sweep`` (docs/sweeps.md); ``grid`` may be a mapping
    ``{"window_bars": [20, 40], "entry_z": [1.5, 2.0]}``. With ``out``, results are written
    there as they come (``resume=True`` continues the sweep there). For walk-forward
    summaries, use :func:`plan_sweep` and :func:`execute_sweep`, whose outcome holds them.
    """
    from bot_core.plugins import load_plugins

    runner = make_executor(executor, scheduler=scheduler, workers=workers)
    if host is None:
        host = load_plugins()
        host.check()
    plan = plan_sweep(
        host, strategies=[strategies] if isinstance(strategies, str) else strategies,
        datasets=[datasets] if isinstance(datasets, str) else datasets, grid=grid,
        preset=None if config_path is not None else preset,
        config_path=Path(config_path) if config_path is not None else None, params=params,
        fee_bps=fee_bps, walk_forward=walk_forward, metric=metric, yes=yes)
    outcome = execute_sweep(plan, runner, out=Path(out) if out is not None else None,
                            resume=resume, progress=progress)
    return outcome.results
