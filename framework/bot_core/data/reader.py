"""Reading normalized dataset files fast, and explaining exactly why a file cannot be read.

The fast path parses the whole file with explicit dtypes (pyarrow's multi-threaded CSV reader
when pyarrow is installed, else pandas' C engine). Only when that fails does the slow, tolerant
path run: it re-reads the bytes cell by cell to name the first bad row, column and value. Every
failure is a :class:`~bot_core.errors.DataError`; size, emptiness, binary content and the wrong
delimiter are refused from the first 64 KiB before any parsing, so garbage never hangs.
"""

from __future__ import annotations

import gzip
import importlib.util
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from bot_core.data.schema import TIMESTAMP, columns_of, max_bytes
from bot_core.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["CellProblem", "Engine", "Table", "check_header", "check_size", "open_bytes", "read_head",
           "read_table", "read_table_fast", "read_table_tolerant", "resolve_engine"]

Engine = Literal["auto", "pyarrow", "c"]
HEAD_BYTES = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Table:
    """Columns of one dataset: epoch-ms timestamps and float64 values, in file order."""

    kind: str
    ts_ms: np.ndarray
    values: dict[str, np.ndarray]
    row_numbers: np.ndarray | None = None
    """1-based file data rows of each position, when lines were dropped (else position + 1)."""
    bad_cells: dict[str, np.ndarray] | None = None
    """Positions of unparsable cells per column (already reported; NaN in ``values``)."""

    def row_of(self, position: int) -> int:
        """The 1-based data row of array ``position``."""
        if self.row_numbers is None:
            return position + 1
        return int(self.row_numbers[position])

    @property
    def rows(self) -> int:
        return int(self.ts_ms.shape[0])

    def to_frame(self) -> pd.DataFrame:
        """DataFrame with a UTC ``DatetimeIndex`` (ns) named ``timestamp`` and float64 columns."""
        import pandas as pd

        index = pd.DatetimeIndex(self.ts_ms.astype("datetime64[ms]").astype("datetime64[ns]"),
                                 name=TIMESTAMP).tz_localize("UTC")
        return pd.DataFrame(self.values, index=index, copy=False)


@dataclass(frozen=True)
class CellProblem:
    """A cell (or a whole line) the tolerant reader could not parse."""

    row: int
    """1-based data row (the header is row 0, so the file line is ``row + 1``)."""
    column: str
    value: str
    message: str


@dataclass
class TolerantResult:
    table: Table
    problems: list[CellProblem] = field(default_factory=list)


def resolve_engine(engine: Engine) -> Literal["pyarrow", "c"]:
    """``auto`` picks pyarrow when it is installed, else pandas' C engine."""
    if engine == "auto":
        return "pyarrow" if importlib.util.find_spec("pyarrow") is not None else "c"
    if engine not in ("pyarrow", "c"):
        raise DataError(f"unknown CSV engine {engine!r}; expected auto, pyarrow or c")
    return engine


def check_size(path: Path, limit_bytes: int | None = None, *, dataset: str | None = None) -> int:
    """Refuse a missing, empty or oversized file before reading it; return its size in bytes.

    For gzip files the uncompressed size recorded in the trailer is checked too, so a small
    archive that inflates to gigabytes is refused as well.
    """
    limit = max_bytes() if limit_bytes is None else limit_bytes
    label = f"dataset {dataset}: " if dataset else ""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise DataError(f"{label}{path}: no such file", dataset=dataset, path=str(path)) from None
    except OSError as exc:
        raise DataError(f"{label}{path}: cannot access file: {exc.strerror}", dataset=dataset,
                        path=str(path)) from None
    if not path.is_file():
        raise DataError(f"{label}{path}: not a regular file", dataset=dataset, path=str(path))
    size = stat.st_size
    if size == 0:
        raise DataError(f"{label}{path}: file is empty", dataset=dataset, path=str(path))
    if size > limit:
        raise DataError(
            f"{label}{path}: file is {size / 2**20:,.0f} MiB, above the {limit / 2**20:,.0f} MiB "
            f"limit for datasets (refused without reading; set BOT_CORE_DATA_MAX_MB to raise it)",
            dataset=dataset, path=str(path))
    if _is_gzip(path) and size >= 18:
        with open(path, "rb") as handle:
            handle.seek(-4, 2)
            inflated = struct.unpack("<I", handle.read(4))[0]
        if inflated > limit:
            raise DataError(
                f"{label}{path}: gzip file inflates to {inflated / 2**20:,.0f} MiB, above the "
                f"{limit / 2**20:,.0f} MiB limit (set BOT_CORE_DATA_MAX_MB to raise it)",
                dataset=dataset, path=str(path))
    return size


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def open_bytes(path: Path, size: int | None = None, *, dataset: str | None = None,
               limit_bytes: int | None = None) -> bytes:
    """The file's (decompressed) bytes, at most ``size`` of them.

    Reading a whole gzip file stops one byte past the size limit, so an archive whose trailer
    lies about its inflated size still cannot fill the memory.
    """
    label = f"dataset {dataset}: " if dataset else ""
    try:
        if _is_gzip(path):
            limit = max_bytes() if limit_bytes is None else limit_bytes
            with gzip.open(path, "rb") as handle:
                data = handle.read(limit + 1 if size is None else size)
            if size is None and len(data) > limit:
                raise DataError(f"{label}{path}: gzip file inflates beyond the "
                                f"{limit / 2**20:,.0f} MiB limit (set BOT_CORE_DATA_MAX_MB to "
                                f"raise it)", dataset=dataset, path=str(path))
            return data
        with open(path, "rb") as handle:
            return handle.read(-1 if size is None else size)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DataError(f"{label}{path}: not a readable gzip file ({exc})", dataset=dataset,
                        path=str(path)) from None


def read_head(path: Path, *, dataset: str | None = None) -> str:
    """The first 64 KiB as text; refuses binary content and non-UTF-8 bytes."""
    head = open_bytes(path, HEAD_BYTES, dataset=dataset)
    label = f"dataset {dataset}: " if dataset else ""
    if not head.strip():
        raise DataError(f"{label}{path}: file is empty (no header line)", dataset=dataset,
                        path=str(path))
    nul = head.find(b"\x00")
    if nul >= 0:
        raise DataError(f"{label}{path}: binary content (NUL byte at offset {nul}); expected a "
                        f"CSV text file", dataset=dataset, path=str(path))
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if len(head) < HEAD_BYTES or exc.start < len(head) - 4:  # a character cut at 64 KiB is fine
            raise DataError(f"{label}{path}: not UTF-8 text (invalid byte at offset {exc.start}); "
                            f"expected a CSV text file", dataset=dataset, path=str(path)) from None
        text = head[: exc.start].decode("utf-8-sig")
    return text


def check_header(path: Path, kind: str, head: str, dataset: str | None) -> None:
    """Refuse a header that is not the normalized one, naming a wrong delimiter if that is it."""
    expected = [TIMESTAMP, *columns_of(kind)]
    label = f"dataset {dataset}: " if dataset else ""
    lines = head.splitlines() or [""]
    header = lines[0].strip()
    got = [c.strip() for c in header.split(",")]
    if got != expected:
        for delimiter in (";", "\t", "|"):
            if [c.strip() for c in header.split(delimiter)] == expected:
                shown = "tab" if delimiter == "\t" else repr(delimiter)
                raise DataError(f"{label}{path}: uses {shown} as delimiter; normalized datasets "
                                f"are comma-separated", dataset=dataset, path=str(path))
        raise DataError(
            f"{label}{path}: header is {header[:120]!r}, expected {','.join(expected)!r} "
            f"(a normalized {kind} file; raw exports go through `bot-core data import`)",
            dataset=dataset, path=str(path))
    if not any(line.strip() for line in lines[1:]):
        raise DataError(f"{label}{path}: has a header but no data rows", dataset=dataset,
                        path=str(path))


def read_table(path: Path, kind: str, *, engine: Engine = "auto", limit_bytes: int | None = None,
               dataset: str | None = None) -> Table:
    """Read a normalized file strictly; any defect is a DataError naming row, column and value."""
    check_size(path, limit_bytes, dataset=dataset)
    if path.name.lower().endswith(".parquet"):
        return _read_parquet(path, kind, dataset)
    check_header(path, kind, read_head(path, dataset=dataset), dataset)
    table = read_table_fast(path, kind, engine=engine)
    if table is None:
        result = read_table_tolerant(path, kind, limit_bytes=limit_bytes, dataset=dataset)
        label = f"dataset {dataset}: " if dataset else ""
        if result.problems:
            first = result.problems[0]
            more = len(result.problems) - 1
            raise DataError(
                f"{label}{path}: row {first.row}, column {first.column}: {first.message}"
                + (f" (and {more} more bad cells; run `bot-core data validate {path}`)" if more else ""),
                dataset=dataset, path=str(path))
        if result.table.rows == 0:
            raise DataError(f"{label}{path}: has a header but no data rows", dataset=dataset,
                            path=str(path))
        table = result.table  # the fast engine failed on something the tolerant one accepts
    return table


def read_table_fast(path: Path, kind: str, *, engine: Engine = "auto") -> Table | None:
    """The fast parse alone: the table, or None when the file needs the tolerant reader."""
    chosen = resolve_engine(engine)
    try:
        table = _read_pyarrow(path, kind) if chosen == "pyarrow" else _read_c(path, kind)
    except (ValueError, TypeError, OSError, EOFError, UnicodeDecodeError, IndexError):
        # pyarrow.ArrowInvalid and pandas' ParserError are ValueErrors.
        return None
    return table if table.rows else None


def _read_pyarrow(path: Path, kind: str) -> Table:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    names = columns_of(kind)
    types = {TIMESTAMP: pa.int64(), **{c: pa.float64() for c in names}}
    arrow = pcsv.read_csv(
        path,
        parse_options=pcsv.ParseOptions(delimiter=","),
        convert_options=pcsv.ConvertOptions(column_types=types, include_columns=list(types),
                                            strings_can_be_null=False),
    )
    if arrow.column(TIMESTAMP).null_count:
        raise ValueError("empty timestamp")
    arrow = arrow.combine_chunks()
    ts = arrow.column(TIMESTAMP).to_numpy()
    values = {c: arrow.column(c).to_numpy(zero_copy_only=False).astype("float64", copy=False)
              for c in names}
    return Table(kind, ts, values)


def _read_c(path: Path, kind: str) -> Table:
    import numpy as np
    import pandas as pd

    names = columns_of(kind)
    frame = pd.read_csv(path, engine="c", dtype={TIMESTAMP: "int64", **dict.fromkeys(names, "float64")},
                        usecols=[TIMESTAMP, *names])
    if list(frame.columns) != [TIMESTAMP, *names]:
        raise ValueError("unexpected columns")
    values = {c: frame[c].to_numpy() for c in names}
    if any(np.isnan(v).any() for v in values.values()):
        # The C engine fills the missing fields of a short line with NaN; let the tolerant
        # reader tell a truncated line from an empty cell.
        raise ValueError("NaN cells")
    return Table(kind, frame[TIMESTAMP].to_numpy(), values)


def _read_parquet(path: Path, kind: str, dataset: str | None) -> Table:
    label = f"dataset {dataset}: " if dataset else ""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{label}{path}: reading Parquet needs pyarrow "
                        f"(pip install 'bot-core[parquet]')", dataset=dataset, path=str(path)) from None
    import numpy as np

    names = columns_of(kind)
    try:
        arrow = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise DataError(f"{label}{path}: not a readable Parquet file ({exc})", dataset=dataset,
                        path=str(path)) from None
    if arrow.column_names != [TIMESTAMP, *names]:
        raise DataError(f"{label}{path}: columns are {arrow.column_names}, expected "
                        f"{[TIMESTAMP, *names]}", dataset=dataset, path=str(path))
    if arrow.num_rows == 0:
        raise DataError(f"{label}{path}: has no data rows", dataset=dataset, path=str(path))
    ts = arrow.column(TIMESTAMP).to_numpy()
    if ts.dtype != np.int64:
        raise DataError(f"{label}{path}: column timestamp is {ts.dtype}, expected int64 epoch ms",
                        dataset=dataset, path=str(path))
    values = {}
    for c in names:
        column = arrow.column(c).to_numpy(zero_copy_only=False)
        if column.dtype.kind not in "fiu":
            raise DataError(f"{label}{path}: column {c} is {column.dtype}, expected float64",
                            dataset=dataset, path=str(path))
        values[c] = column.astype("float64")
    return Table(kind, ts, values)


def read_table_tolerant(path: Path, kind: str, *, limit_bytes: int | None = None,
                        dataset: str | None = None) -> TolerantResult:
    """Read what can be read; every bad line or cell becomes a :class:`CellProblem`.

    Lines with the wrong number of fields are found with numpy over the raw bytes and left out;
    the rest is parsed by pandas' C engine, and only columns it cannot make numeric are looked
    at cell by cell. Bad cells become NaN (bad timestamps the int64 minimum) so the validator can
    still run its other checks on the rest of the file.
    """
    import io

    import numpy as np
    import pandas as pd

    check_size(path, limit_bytes, dataset=dataset)
    read_head(path, dataset=dataset)
    raw = open_bytes(path, dataset=dataset, limit_bytes=limit_bytes)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    names = [TIMESTAMP, *columns_of(kind)]
    buf = np.frombuffer(raw, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [buf.size]))
    if starts[-1] >= buf.size:  # the file ends with a newline: no last line
        starts, ends = starts[:-1], ends[:-1]
    commas = np.flatnonzero(buf == 44)
    fields = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
    ok = fields == len(names)
    ok[0] = False  # the header
    problems: list[CellProblem] = []
    for line in np.flatnonzero(~ok[1:])[:1000] + 1:
        shown = raw[starts[line]:min(ends[line], starts[line] + 60)].decode("utf-8", "replace")
        problems.append(CellProblem(int(line), "*", shown.rstrip("\r"),
                                    f"line has {int(fields[line])} fields, expected {len(names)} "
                                    f"(truncated or wrong delimiter?)"))
    row_numbers = np.flatnonzero(ok)
    if row_numbers.size == 0:
        empty = {c: np.empty(0, "float64") for c in names[1:]}
        return TolerantResult(Table(kind, np.empty(0, "int64"), empty), problems)
    spans = np.concatenate((starts[1:], [buf.size])) - starts
    clean = buf[np.repeat(ok, spans)].tobytes() if not ok[1:].all() else raw[int(starts[1]):]
    cells = pd.read_csv(io.BytesIO(clean), header=None, names=names, engine="c", quoting=3,
                        na_values=["", "nan", "NaN", "NA", "null", "None"], keep_default_na=False,
                        low_memory=False)
    values: dict[str, np.ndarray] = {}
    bad_cells: dict[str, np.ndarray] = {}
    ts_ms = np.full(row_numbers.size, np.iinfo(np.int64).min, dtype="int64")
    for column in names:
        series = cells[column]
        if series.dtype.kind in "iuf":
            numbers = series.to_numpy(dtype="float64", na_value=np.nan)
            text = None
            bad = np.zeros(numbers.size, dtype=bool)
        else:
            text = series.astype(str).str.strip()
            numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64",
                                                                    na_value=np.nan)
            nulls = series.isna().to_numpy() | text.str.lower().isin(
                ["", "nan", "na", "null", "none"]).to_numpy()
            bad = np.isnan(numbers) & ~nulls
        if column == TIMESTAMP:
            if series.dtype.kind in "iu":
                ts_ms = series.to_numpy(dtype="int64")
            else:
                finite = np.isfinite(numbers)
                bad |= ~finite | (finite & (np.floor(numbers) != numbers))
                good = finite & ~bad
                ts_ms[good] = numbers[good].astype("int64")
        else:
            values[column] = numbers
        bad_cells[column] = np.flatnonzero(bad)
        for position in bad_cells[column][:1000]:
            value = str(text.iat[position]) if text is not None else repr(float(numbers[position]))
            message = (f"timestamp {value!r} is not an integer epoch-ms value"
                       if column == TIMESTAMP else f"{value!r} is not a number")
            problems.append(CellProblem(int(row_numbers[position]), column, value[:60], message))
    problems.sort(key=lambda p: p.row)
    table = Table(kind, ts_ms, values, row_numbers=row_numbers, bad_cells=bad_cells)
    return TolerantResult(table, problems)
