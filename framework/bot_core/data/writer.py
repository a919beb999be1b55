"""Writing normalized dataset files byte-for-byte reproducibly.

CSV cells are written with Python's shortest round-trip float repr and integer epoch ms, lines
end in ``\\n``; gzip files carry no name and a zero mtime, so the same table always produces the
same bytes (and the same sha256) with the same zlib.
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

from bot_core.data.reader import Table
from bot_core.data.schema import FILE_FORMATS, TIMESTAMP, FileFormat, columns_of
from bot_core.data.staging import staged
from bot_core.errors import DataError

__all__ = ["file_format", "table_csv_bytes", "write_table", "write_table_as"]


def _floats(values: object) -> list[str]:
    """Shortest round-trip repr of each float; NaN as an empty cell (as pandas writes it)."""
    text = list(map(repr, values.tolist()))  # type: ignore[attr-defined]
    if "nan" in text:
        text = ["" if cell == "nan" else cell for cell in text]
    return text


def table_csv_bytes(table: Table) -> bytes:
    """The normalized CSV text of ``table`` as bytes.

    Formatting with ``repr`` in one pass is about four times faster than ``DataFrame.to_csv``
    and writes the same bytes.
    """
    names = columns_of(table.kind)
    columns = [list(map(str, table.ts_ms.tolist()))] + [_floats(table.values[c]) for c in names]
    buffer = io.StringIO()
    buffer.write(",".join((TIMESTAMP, *names)) + "\n")
    if table.rows:
        buffer.write("\n".join(map(",".join, zip(*columns, strict=True))))
        buffer.write("\n")
    return buffer.getvalue().encode("ascii")


def file_format(path: Path) -> FileFormat:
    """Storage format of a dataset file, from its name (``.csv``, ``.csv.gz``, ``.parquet``)."""
    name = path.name.lower()
    for fmt in sorted(FILE_FORMATS, key=len, reverse=True):  # .csv.gz before .csv
        if name.endswith(f".{fmt}"):
            return fmt
    raise DataError(f"{path}: unsupported dataset file type; use .csv, .csv.gz or .parquet",
                    path=str(path))


def write_table(table: Table, path: Path) -> Path:
    """Write ``table`` to ``path`` (``.csv``, ``.csv.gz`` or ``.parquet``) via a temporary file
    beside it, renamed into place once complete."""
    fmt = file_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with staged(path) as tmp:
        write_table_as(table, tmp, fmt)
        os.replace(tmp, path)
    return path


def write_table_as(table: Table, path: Path, fmt: FileFormat) -> None:
    """Write ``table`` to ``path`` in ``fmt`` directly (the caller renames it into place)."""
    if fmt == "parquet":
        _write_parquet(table, path)
    elif fmt == "csv.gz":
        with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                    compresslevel=9, mtime=0) as handle:
            handle.write(table_csv_bytes(table))
    else:
        path.write_bytes(table_csv_bytes(table))


def _write_parquet(table: Table, path: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError("writing Parquet needs pyarrow (pip install 'bot-core[parquet]')") from None
    arrays = {TIMESTAMP: pa.array(table.ts_ms, pa.int64()),
              **{c: pa.array(table.values[c], pa.float64()) for c in columns_of(table.kind)}}
    pq.write_table(pa.table(arrays), path, compression="zstd")
