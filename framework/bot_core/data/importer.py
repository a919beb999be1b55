"""Importing a user's export into the library: recognise, normalize, validate, store.

``import_csv`` reads an exchange or vendor export as it is (see :mod:`bot_core.data.sniff` and
:mod:`bot_core.data.timestamps`), converts it to the normalized columns, runs the
:class:`~bot_core.data.quality.DataQualityValidator` and refuses data with error findings, then
stores the normalized file and its manifest entry in ``BOT_CORE_HOME/datasets`` all or nothing
(:mod:`bot_core.data.store`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bot_core.data.findings import Finding, format_duration
from bot_core.data.manifest import ID_PATTERN, DatasetEntry, schema_of, sha256_file
from bot_core.data.reader import Table, check_size, open_bytes, read_head
from bot_core.data.schema import (
    FILE_FORMATS,
    KINDS,
    PRICE_COLUMNS,
    TIMEFRAME_MS,
    FileFormat,
    columns_of,
    spacing_matches,
)
from bot_core.data.staging import staged
from bot_core.errors import DataError, DataQualityError
from bot_core.market import split_symbol

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from bot_core.data.quality import DataQualityValidator

__all__ = ["IMPORT_STAGES", "ImportProgress", "ImportResult", "import_csv", "parse_export"]

ImportProgress = Callable[[int, int, str], None]
"""``(stages done, stages in all, the stage now starting)``."""
IMPORT_STAGES = 3
"""Reading the export, checking its data quality, storing it."""
NULL_TOKENS = {"", "nan", "na", "n/a", "null", "none", "-"}
NA_VALUES = sorted(NULL_TOKENS | {t.upper() for t in NULL_TOKENS} | {"NaN", "Null", "None", "N/A"})


@dataclass
class ImportResult:
    """The stored entry plus what the importer noticed on the way."""

    entry: DatasetEntry
    layout: str
    """Delimiter, header and time format that were recognised."""
    notes: list[str] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)


def parse_export(src: Path, *, kind: str = "ohlcv", tz: str | None = None,
                 date_format: str | None = None) -> tuple[Table, str, list[str]]:
    """Normalize an export into a table (rows numbered as in the source file)."""
    import numpy as np
    import pandas as pd

    from bot_core.data.sniff import detect_layout
    from bot_core.data.timestamps import parse_timestamps

    label = str(src)
    columns_of(kind)
    check_size(src)
    head = read_head(src)
    layout = detect_layout(head, kind, label)
    raw = open_bytes(src)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{label}: not UTF-8 text (invalid byte at offset {exc.start})",
                        path=label) from None
    if "\x00" in text:
        raise DataError(f"{label}: binary content (NUL byte at offset {text.index(chr(0))})",
                        path=label)
    skip = layout.skip_lines + (1 if layout.has_header else 0)
    try:
        # Let the C parser infer numbers (fast); only columns it leaves as text go through the
        # slow path that handles decimal commas and names the first bad cell.
        cells = pd.read_csv(io.StringIO(text), sep=layout.delimiter, header=None,
                            skiprows=_skip_nonblank(text, skip), engine="c",
                            skip_blank_lines=True, quotechar='"', na_values=NA_VALUES,
                            keep_default_na=False, low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{label}: has a header but no data rows", path=label) from None
    except (ValueError, pd.errors.ParserError) as exc:
        message = str(exc).replace("Error tokenizing data. C error: ", "").strip()
        raise DataError(f"{label}: cannot split into columns: {message}", path=label) from None
    if len(cells) == 0:
        raise DataError(f"{label}: has a header but no data rows", path=label)
    rows = np.arange(1, len(cells) + 1)
    needed = max([*layout.time_columns, *layout.value_columns.values()])
    if cells.shape[1] <= needed:
        raise DataError(f"{label}: rows have {cells.shape[1]} fields, the layout needs "
                        f"{needed + 1}", path=label)
    notes = list(layout.notes)
    values: dict[str, np.ndarray] = {}
    for name in columns_of(kind):
        if name not in layout.value_columns:
            values[name] = np.zeros(len(cells))
            continue
        values[name] = _numbers(cells.iloc[:, layout.value_columns[name]], rows, name,
                                layout.delimiter, label)
    if "volume" in values and layout.volume_fallback is not None and not values["volume"].any():
        values["volume"] = _numbers(cells.iloc[:, layout.volume_fallback], rows, "volume",
                                    layout.delimiter, label)
        notes.append("volume column is all zero: tick volume used instead")
    prices = np.column_stack([values[c] for c in PRICE_COLUMNS[kind]])
    empty = np.isnan(prices).all(axis=1)
    if empty.any():
        notes.append(f"dropped {int(empty.sum())} rows without any price (first: row "
                     f"{int(rows[empty][0])})")
        keep = ~empty
        cells, rows = cells[keep], rows[keep]
        values = {k: v[keep] for k, v in values.items()}
        if len(rows) == 0:
            raise DataError(f"{label}: no row has a price", path=label)
    time_text = cells.iloc[:, layout.time_columns[0]]
    if len(layout.time_columns) == 2:
        time_text = time_text.astype(str)
        clock = cells.iloc[:, layout.time_columns[1]].astype(str).str.strip()
        time_text = time_text.str.strip() + " " + clock
    ts_ms, time_format = parse_timestamps(time_text.reset_index(drop=True), rows, src=label, tz=tz,
                                          date_format=date_format)
    if tz is not None and "--tz" not in time_format:
        notes.append(f"--tz {tz} not used: the timestamps are {time_format}, already absolute")
    if ts_ms.size > 1 and bool((np.diff(ts_ms) < 0).all()):
        ts_ms, rows = ts_ms[::-1].copy(), rows[::-1].copy()
        values = {k: v[::-1].copy() for k, v in values.items()}
        notes.append("rows were newest-first; reversed to oldest-first")
    table = Table(kind, ts_ms, values, row_numbers=rows)
    return table, f"{layout.describe()}, {time_format}", notes


def _skip_nonblank(text: str, count: int) -> list[int]:
    """Physical line numbers of the first ``count`` non-blank lines (preamble and header)."""
    skipped: list[int] = []
    number = 0
    start = 0
    while len(skipped) < count and start <= len(text):
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        if line.strip():
            skipped.append(number)
        if end < 0:
            break
        number, start = number + 1, end + 1
    return skipped


def _numbers(column: pd.Series, rows: np.ndarray, name: str, delimiter: str,
             label: str) -> np.ndarray:
    import numpy as np
    import pandas as pd

    if column.dtype.kind in "iuf":
        floats: np.ndarray = column.to_numpy(dtype="float64")
        return floats
    if column.dtype.kind == "b":
        raise DataError(f"{label}: row {int(rows[0])}, column {name}: "
                        f"{column.iat[0]!r} is not a number", path=label)
    text = column.astype(str).str.strip().str.strip('"')
    nulls = text.str.lower().isin(NULL_TOKENS).to_numpy()
    parsed = pd.to_numeric(text.where(~nulls, "nan"), errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan)
    bad = np.isnan(parsed) & ~nulls
    if bad.any() and delimiter == ",":
        # a comma inside a comma-separated field was quoted: a thousands separator ("42,283.58")
        # only where every comma groups three digits, never "1,5" (a decimal comma: ambiguous)
        with_comma = text.str.contains(",", regex=False)
        grouping_ok = ~with_comma | text.str.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d*)?")
        grouped = text.str.replace(",", "", regex=False)
        retry = pd.to_numeric(grouped.where(~nulls, "nan"), errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan)
        if grouping_ok.all() and not (np.isnan(retry) & ~nulls).any():
            parsed, bad = retry, np.zeros_like(bad)
    if bad.any() and delimiter != ",":
        comma = text.str.replace(",", ".", regex=False)  # decimal comma (European exports)
        retry = pd.to_numeric(comma.where(~nulls, "nan"), errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan)
        if not (np.isnan(retry) & ~nulls).any():
            parsed, bad = retry, np.zeros_like(bad)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(f"{label}: row {int(rows[first])}, column {name}: "
                        f"{text.iat[first]!r} is not a number", path=label)
    result: np.ndarray = parsed
    return result


def _check_timeframe(table: Table, timeframe: str | None, label: str) -> None:
    import numpy as np

    if timeframe is None or table.rows < 3:
        return
    step = int(np.median(np.diff(table.ts_ms)))
    if not spacing_matches(timeframe, step):
        shown = next((k for k in TIMEFRAME_MS if spacing_matches(k, step)),
                     format_duration(step))
        raise DataError(f"{label}: rows are mostly {shown} apart but --timeframe is {timeframe}",
                        path=label)


def import_csv(src: Path | str, *, dataset_id: str, venue: str, instrument: str,
               timeframe: str | None, kind: str = "ohlcv", tz: str | None = None,
               source: str | None = None, licence: str | None = None, force: bool = False,
               date_format: str | None = None, output_format: FileFormat = "csv",
               validator: DataQualityValidator | None = None,
               progress: ImportProgress | None = None) -> ImportResult:
    """Normalize ``src`` and store it as ``dataset_id`` in the user library.

    Every argument and the manifest entry are validated, and the id is checked to be free,
    before anything is written; the file and its entry then go into the library all or nothing
    (:mod:`bot_core.data.store`), so a refused import leaves the library as it was.
    ``progress`` is told each stage as it starts (:data:`IMPORT_STAGES` of them), and the end.

    Raises DataError for unusable input or arguments, DataQualityError when the normalized data
    has error-severity findings, HomeError when ``BOT_CORE_HOME`` cannot be written.
    """
    from bot_core.data.library import USER_SUBDIR
    from bot_core.data.quality import DataQualityValidator
    from bot_core.data.store import add_dataset, check_id_free
    from bot_core.data.writer import write_table_as
    from bot_core.home import ensure_home, writable_home

    src = Path(src)
    _check_arguments(dataset_id, kind, instrument, timeframe, output_format)
    library = writable_home(USER_SUBDIR)
    described = {"id": dataset_id, "kind": kind, "venue": venue, "instrument": instrument,
                 "timeframe": timeframe, "columns": schema_of(kind),
                 "source": source or f"imported from {src.name}", "licence": licence or "",
                 "path": library / f"{dataset_id}.{output_format}", "library": "user"}
    _entry({**described, "first_timestamp": _EPOCH, "last_timestamp": _EPOCH, "rows": 1,
            "sha256": _NO_SHA256})  # the arguments, before the slow part
    check_id_free(library, dataset_id, force=force)  # again under the lock when storing
    tell = progress or _silent
    tell(0, IMPORT_STAGES, f"reading {src.name}")
    table, layout, notes = parse_export(src, kind=kind, tz=tz, date_format=date_format)
    _check_timeframe(table, timeframe, str(src))
    tell(1, IMPORT_STAGES, f"checking {table.rows:,} rows")
    findings = (validator or DataQualityValidator()).validate_table(
        table, dataset=dataset_id, timeframe=timeframe)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        shown = "; ".join(str(f) for f in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise DataQualityError(f"{src}: not imported, {len(errors)} error findings: {shown}{more}",
                               dataset=dataset_id, path=str(src))
    draft = _entry({**described, "rows": table.rows,
                    "first_timestamp": datetime.fromtimestamp(int(table.ts_ms[0]) / 1000, tz=UTC),
                    "last_timestamp": datetime.fromtimestamp(int(table.ts_ms[-1]) / 1000, tz=UTC),
                    "sha256": _NO_SHA256})
    library = ensure_home(USER_SUBDIR)
    stored = Table(kind, table.ts_ms, table.values)
    tell(2, IMPORT_STAGES, f"storing {dataset_id}")
    try:
        with staged(draft.path) as tmp:
            write_table_as(stored, tmp, output_format)
            entry = draft.model_copy(update={"sha256": sha256_file(tmp)})
            add_dataset(library, entry, tmp, force=force)
    except OSError as exc:
        raise DataError(f"{library}: cannot store dataset {dataset_id}: {exc.strerror or exc}"
                        f"{f' ({exc.filename})' if exc.filename else ''}; the library is unchanged",
                        dataset=dataset_id, path=str(library)) from None
    tell(IMPORT_STAGES, IMPORT_STAGES, f"imported {dataset_id}")
    return ImportResult(entry, layout, notes, [f for f in findings if f.severity == "warning"])


def _silent(done: int, total: int, stage: str) -> None:
    """No progress to show."""


_EPOCH = datetime.fromtimestamp(0, tz=UTC)
_NO_SHA256 = "0" * 64


def _check_arguments(dataset_id: str, kind: str, instrument: str, timeframe: str | None,
                     output_format: str) -> None:
    if kind not in KINDS:
        raise DataError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not re.match(ID_PATTERN, dataset_id):
        raise DataError(f"dataset id {dataset_id!r} must be lower-case letters, digits, '.', "
                        f"'_' or '-' (at most 80, starting with a letter or digit)",
                        dataset=dataset_id)
    try:
        split_symbol(instrument)
    except ValueError as exc:
        raise DataError(str(exc), dataset=dataset_id) from None
    if timeframe is None and kind == "ohlcv":
        raise DataError("bars need --timeframe (e.g. 1m, 1h, 1d)", dataset=dataset_id)
    if timeframe is not None and timeframe not in TIMEFRAME_MS:
        raise DataError(f"unknown timeframe {timeframe!r}; expected one of "
                        f"{', '.join(TIMEFRAME_MS)}", dataset=dataset_id)
    if output_format not in FILE_FORMATS:
        raise DataError(f"unknown output format {output_format!r}; expected csv, csv.gz or parquet")


def _entry(fields: dict[str, Any]) -> DatasetEntry:
    """The manifest entry of ``fields``; a field the manifest would refuse is one DataError
    naming the field and its value."""
    try:
        return DatasetEntry.model_validate(fields)
    except ValidationError as exc:
        problem = exc.errors()[0]
        name = ".".join(str(p) for p in problem["loc"])
        value = fields.get(name, problem.get("input"))
        shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:37]}...'"
        size = f" ({len(value)} characters)" if isinstance(value, str) else ""
        raise DataError(f"dataset {fields['id']}: {name} {shown}{size}: "
                        f"{problem['msg'][:1].lower()}{problem['msg'][1:]}",
                        dataset=str(fields["id"])) from None
