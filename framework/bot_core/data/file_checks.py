"""File- and manifest-level validation: readability, schema, cells, checksum, manifest fields.

These wrap the content checks of :mod:`bot_core.data.quality` so that any path or library entry
can be validated without raising: whatever is wrong with the file becomes a finding.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot_core.data.findings import Finding, iso_ms
from bot_core.data.reader import (
    Table,
    check_header,
    check_size,
    read_head,
    read_table,
    read_table_fast,
    read_table_tolerant,
)
from bot_core.data.schema import COLUMNS, TIMEFRAME_MS, TIMESTAMP
from bot_core.errors import DataError

if TYPE_CHECKING:
    from bot_core.data.manifest import DatasetEntry
    from bot_core.data.quality import DataQualityValidator

__all__ = ["read_for_validation", "validate_dataset", "validate_entry"]


def _kind_from_header(head: str) -> str | None:
    header = [c.strip() for c in head.splitlines()[0].split(",")] if head else []
    for kind, names in COLUMNS.items():
        if header == [TIMESTAMP, *names]:
            return kind
    return None


def _parquet_header(path: Path) -> str:
    """The column names of a Parquet file as a CSV header line."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow "
                        f"(pip install 'bot-core[parquet]')", path=str(path)) from None
    try:
        return ",".join(pq.read_schema(path).names) + "\n"
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise DataError(f"{path}: not a readable Parquet file ({exc})", path=str(path)) from None


def _infer_timeframe(table: Table) -> str | None:
    import numpy as np

    ts = table.ts_ms[table.ts_ms != np.iinfo(np.int64).min]
    if ts.size < 3:
        return None
    step = int(np.median(np.diff(ts[:10_000])))
    for name, ms in TIMEFRAME_MS.items():
        if ms == step:
            return name
    return None


def read_for_validation(path: Path, kind: str | None, timeframe: str | None,
                        name: str) -> tuple[Table | None, list[Finding], str | None, str | None]:
    """Parse ``path`` as far as possible; returns (table, findings, kind, timeframe)."""
    is_parquet = path.name.lower().endswith(".parquet")
    try:
        check_size(path)
        head = _parquet_header(path) if is_parquet else read_head(path)
    except DataError as exc:
        return None, [Finding(name, "unreadable", "error", None, None, str(exc),
                              "a readable normalized CSV, CSV.gz or Parquet file")], kind, timeframe
    if kind is None:
        kind = _kind_from_header(head)
        if kind is None:
            first = head.splitlines()[0][:120] if head else ""
            return None, [Finding(name, "schema", "error", 0, None, f"header is {first!r}",
                                  "timestamp,open,high,low,close,volume or "
                                  "timestamp,bid,ask,bid_size,ask_size")], kind, timeframe
    findings: list[Finding] = []
    table: Table | None = None
    if not is_parquet:
        try:
            check_header(path, kind, head, None)
        except DataError as exc:
            return None, [Finding(name, "schema", "error", 0, None, str(exc),
                                  f"the normalized {kind} header")], kind, timeframe
    try:
        table = read_table(path, kind) if is_parquet else read_table_fast(path, kind)
    except DataError as exc:
        return None, [Finding(name, "schema", "error", None, None, str(exc),
                              f"a Parquet file with the normalized {kind} columns")], \
            kind, timeframe
    if table is None:
        try:
            result = read_table_tolerant(path, kind)
        except DataError as unreadable:
            return None, [Finding(name, "unreadable", "error", None, None, str(unreadable),
                                  "a readable normalized file")], kind, timeframe
        table = result.table
        for problem in result.problems:
            position = None
            if table.row_numbers is not None:
                import numpy as np

                hit = np.searchsorted(table.row_numbers, problem.row)
                if hit < table.rows and table.row_numbers[hit] == problem.row:
                    position = int(hit)
            stamp = None
            if position is not None and table.ts_ms[position] != np.iinfo(np.int64).min:
                stamp = iso_ms(int(table.ts_ms[position]))
            findings.append(Finding(name, "unparsable_cell", "error", problem.row, stamp,
                                    f"column {problem.column}: {problem.message}",
                                    "one number per column, comma-separated"))
    if timeframe is None and table is not None and kind == "ohlcv":
        timeframe = _infer_timeframe(table)
    return table, findings, kind, timeframe


def validate_entry(entry: DatasetEntry, validator: DataQualityValidator) -> list[Finding]:
    """Checksum, file and content checks, and the manifest fields against the file."""
    from bot_core.data.manifest import schema_of, sha256_file

    findings: list[Finding] = []
    try:
        check_size(entry.path, dataset=entry.id)
        actual = sha256_file(entry.path)
        if actual != entry.sha256:
            findings.append(Finding(entry.id, "checksum_mismatch", "error", None, None,
                                    f"{entry.path} has sha256 {actual}",
                                    f"sha256 {entry.sha256} from the manifest"))
    except DataError as exc:
        return [Finding(entry.id, "unreadable", "error", None, None, str(exc),
                        "the file named in the manifest")]
    table, more, _, _ = read_for_validation(entry.path, entry.kind, entry.timeframe, entry.id)
    findings += more
    if entry.columns != schema_of(entry.kind):
        findings.append(Finding(entry.id, "manifest_mismatch", "error", None, None,
                                f"manifest columns {entry.columns}",
                                f"columns {schema_of(entry.kind)}"))
    if table is None or table.rows == 0:
        return findings
    findings += validator.validate_table(table, dataset=entry.id, timeframe=entry.timeframe)
    rows = table.rows if table.row_numbers is None else int(table.row_numbers[-1])
    if rows != entry.rows:
        findings.append(Finding(entry.id, "manifest_mismatch", "error", None, None,
                                f"file has {rows} rows", f"{entry.rows} rows as in the manifest"))
    for label, position, recorded in (("first", 0, entry.first_timestamp),
                                      ("last", table.rows - 1, entry.last_timestamp)):
        recorded_ms = int(recorded.timestamp() * 1000)
        actual_ms = int(table.ts_ms[position])
        if actual_ms != recorded_ms:
            findings.append(Finding(entry.id, "manifest_mismatch", "error", table.row_of(position),
                                    iso_ms(actual_ms), f"{label} timestamp is {iso_ms(actual_ms)}",
                                    f"{label}_timestamp {iso_ms(recorded_ms)} as in the manifest"))
    return findings


def validate_dataset(target: str | Path | DatasetEntry,
                     validator: DataQualityValidator | None = None) -> list[Finding]:
    """Validate a library dataset (by id or entry) or a normalized file (by path).

    Never raises for a bad file: every problem is a finding. An id that is neither a known
    dataset nor an existing file is a :class:`DataError` listing the known ids (or, when the
    user library cannot be read, that library's error).
    """
    from bot_core.data.library import get_dataset
    from bot_core.data.manifest import DatasetEntry
    from bot_core.data.quality import DataQualityValidator

    checker = validator or DataQualityValidator()
    if isinstance(target, DatasetEntry):
        return validate_entry(target, checker)
    if isinstance(target, str):
        from bot_core.data.library import catalogue

        found = catalogue()
        known = {e.id: e for e in found.entries}
        if target in known:
            return validate_entry(known[target], checker)
        if not Path(target).exists():
            # unknown: the user library's problem, or the list of the known ids
            return validate_entry(get_dataset(target), checker)
    return checker.validate_file(Path(target))
