"""A sweep's results: one row per run, written as each run finishes, read back to resume.

``results.csv`` gets one line per finished run, appended and flushed at once, so that an
interrupted sweep (Ctrl-C, a killed process) keeps every run that finished; ``--resume DIR``
reads it back and skips those runs. A run that failed is written with its error and runs again
on resume; the last row of a key is the one that counts. ``sweep.json`` holds what defines the
sweep (strategies, datasets and their checksums, config, fixed parameters, grid, walk-forward),
and a resume of a different sweep is refused. Floats are written with Python's shortest
round-trip repr and read back exactly.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot_core.config.validation import shown
from bot_core.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from bot_core.sweep.runs import RunRecord

__all__ = ["METRICS", "METRIC_COLUMNS", "RESULTS_CSV", "SWEEP_JSON", "ResultsFile", "columns",
           "param_column", "record_row", "rows_frame", "run_key"]

RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
SWEEP_JSON = "sweep.json"
ERRORS_LOG = "errors.log"

METRIC_COLUMNS = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate",
                  "exposure", "turnover", "fees", "n_trades", "initial_equity", "final_equity")
"""The backtest's metrics (``bot_core.backtest.metrics.Metrics``), one column each."""

METRICS: Mapping[str, bool] = {
    "sharpe": True, "sortino": True, "total_return": True, "cagr": True,
    "max_drawdown": False, "win_rate": True, "final_equity": True,
}
"""Metrics a sweep can rank and optimise by, and whether higher is better."""

_RUN_COLUMNS = ("key", "phase", "window", "period_start", "period_end")
_INFO_COLUMNS = ("bars", "n_fills", "approved", "reduced", "rejected", "final_state", "path",
                 "start", "end", "error", "elapsed_s", "worker", "params", "datasets", "plugins",
                 "rerun")


def run_key(phase: str, params: Mapping[str, Any], window: int | None = None) -> str:
    """A run's identity in its sweep: ``window_bars=20 entry_z=1.5``, ``w3/train/...``,
    ``w3/test``: the same run has the same key in every resume."""
    values = " ".join(f"{k}={shown(v)}" for k, v in params.items())
    if phase == "full":
        return values
    return f"w{window}/{phase}" + (f"/{values}" if phase == "train" else "")


_RESERVED = frozenset((*_RUN_COLUMNS, *METRIC_COLUMNS, *_INFO_COLUMNS))


def param_column(key: str) -> str:
    """The column of a grid parameter: its key, or ``param.<key>`` for a key that is also the
    name of a results column (a strategy parameter called ``window`` or ``fees``)."""
    return f"param.{key}" if key in _RESERVED else key


def columns(grid_keys: Sequence[str]) -> list[str]:
    """The columns of ``results.csv`` for a grid over ``grid_keys``."""
    return [*_RUN_COLUMNS, *(param_column(k) for k in grid_keys), *METRIC_COLUMNS,
            *_INFO_COLUMNS]


def record_row(record: RunRecord, grid_keys: Sequence[str], *, datasets: Mapping[str, str],
               rerun: str = "", period: tuple[str, str] = ("", "")) -> dict[str, Any]:
    """One row of results for a finished run."""
    spec = record.spec
    row: dict[str, Any] = {
        "key": spec.key, "phase": spec.phase, "window": spec.window,
        "period_start": period[0], "period_end": period[1],
        **{param_column(k): spec.params.get(k) for k in grid_keys},
        **{k: record.metrics.get(k) for k in METRIC_COLUMNS},
        **{k: record.info.get(k) for k in _INFO_COLUMNS if k in record.info},
        "error": record.error, "worker": record.worker,
        "params": json.dumps(spec.params), "datasets": json.dumps(dict(datasets)),
        "plugins": json.dumps(record.plugins), "rerun": rerun if record.ok else "",
    }
    return row


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest round-trip form
    if isinstance(value, bool | list | dict):
        return json.dumps(value)
    return str(value)


class ResultsFile:
    """``results.csv`` of a sweep directory: appended one complete line per run."""

    def __init__(self, directory: Path, header: Sequence[str]) -> None:
        self.path = directory / RESULTS_CSV
        self.header = list(header)
        self._fh: io.TextIOWrapper | None = None

    def read(self) -> list[dict[str, str]]:
        """The rows already written (a torn last line, from a killed process, is dropped and
        cut off the file so that the next line starts clean).

        :raises UsageError: the file's header is not this sweep's."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with self.path.open("r+b") as fh:
                fh.truncate(keep)
            data = data[:keep]
        reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
        if data and list(reader.fieldnames or []) != self.header:
            raise UsageError(f"{self.path}: its columns are not this sweep's; resume it with the "
                             f"same --grid keys or choose another directory")
        return list(reader)

    def append(self, row: Mapping[str, Any]) -> None:
        if self._fh is None:
            new = not self.path.exists() or self.path.stat().st_size == 0
            self._fh = self.path.open("a", newline="", encoding="utf-8")
            if new:
                self._write([self.header])
        self._write([[_cell(row.get(c)) for c in self.header]])

    def _write(self, rows: Iterable[Sequence[str]]) -> None:
        assert self._fh is not None
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        self._fh.write(buffer.getvalue())  # one write per line: a kill leaves at most one torn
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def parse_row(row: Mapping[str, str]) -> dict[str, Any]:
    """A row read back from ``results.csv`` with its values typed as written."""
    out: dict[str, Any] = dict(row)
    out["window"] = int(row["window"]) if row.get("window") else None
    params = json.loads(row["params"]) if row.get("params") else {}
    for key, value in params.items():
        if param_column(key) in row:
            out[param_column(key)] = value
    for name in (*METRIC_COLUMNS, "elapsed_s"):
        text = row.get(name, "")
        out[name] = (int(text) if name == "n_trades" else float(text)) if text else None
    for name in ("bars", "n_fills", "approved", "reduced", "rejected"):
        text = row.get(name, "")
        out[name] = int(text) if text else None
    return out


def rows_frame(rows: Sequence[Mapping[str, Any]], header: Sequence[str]) -> pd.DataFrame:
    """The results as a DataFrame, columns in ``header`` order."""
    import pandas as pd

    return pd.DataFrame([{c: r.get(c) for c in header} for r in rows], columns=list(header))


def write_parquet(frame: pd.DataFrame, directory: Path) -> Path | None:
    """``results.parquet`` when pyarrow is installed (None otherwise)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return None
    path = directory / RESULTS_PARQUET
    tmp = path.with_suffix(".parquet.tmp")
    table = frame.copy()
    for column in table.columns:  # parameters may mix types (1, 1.5, "none"): keep them as text
        if table[column].dtype == object:
            table[column] = [None if v is None else _cell(v) for v in table[column]]
    table.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def check_definition(directory: Path, definition: Mapping[str, Any], *, resume: bool) -> None:
    """Refuse a directory that holds another sweep (resume) or any sweep (a new one); write
    ``sweep.json`` for a new sweep.

    :raises UsageError: naming the directory and, on resume, the settings that differ."""
    path = directory / SWEEP_JSON
    if resume:
        if not path.exists():
            raise UsageError(f"--resume {directory}: no sweep there ({SWEEP_JSON} is missing)")
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"--resume {directory}: {path} is unreadable ({exc})") from None
        differ = [k for k in sorted(set(stored) | set(definition))
                  if stored.get(k) != definition.get(k)]
        if differ:
            raise UsageError(f"--resume {directory}: that sweep was started with other "
                             f"settings ({', '.join(differ)} differ); give the same options or "
                             f"choose another --out")
        return
    if path.exists() or (directory / RESULTS_CSV).exists():
        raise UsageError(f"--out {directory}: already holds a sweep; --resume {directory} "
                         f"continues it, or choose another directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(definition, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"--out {directory}: cannot write there ({exc.strerror or exc})") \
            from None
