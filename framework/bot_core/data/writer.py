"""Writing normalized dataset files byte-for-byte reproducibly.

CSV cells are written with Python's shortest round-trip float repr and integer epoch ms, lines
end in ``\\n``; gzip files carry no name and a zero mtime, so the same table always produces the
same bytes (and the same sha256) with the same zlib.
"""

from __future__ import annotations

import gzip
import io
import os
import tempfile
from pathlib import Path

from bot_core.data.reader import Table
from bot_core.data.schema import TIMESTAMP, columns_of
from bot_core.errors import DataError

__all__ = ["table_csv_bytes", "write_table"]


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


def write_table(table: Table, path: Path) -> Path:
    """Write ``table`` to ``path`` (``.csv``, ``.csv.gz`` or ``.parquet``) via a temporary file."""
    name = path.name.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(fd)
    try:
        if name.endswith(".parquet"):
            _write_parquet(table, Path(tmp))
        elif name.endswith(".csv.gz"):
            with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                       compresslevel=9, mtime=0) as handle:
                handle.write(table_csv_bytes(table))
        elif name.endswith(".csv"):
            Path(tmp).write_bytes(table_csv_bytes(table))
        else:
            raise DataError(f"{path}: unsupported dataset file type; use .csv, .csv.gz or .parquet",
                            path=str(path))
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; datasets are not secrets
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _write_parquet(table: Table, path: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError("writing Parquet needs pyarrow (pip install 'bot-core[parquet]')") from None
    arrays = {TIMESTAMP: pa.array(table.ts_ms, pa.int64()),
              **{c: pa.array(table.values[c], pa.float64()) for c in columns_of(table.kind)}}
    pq.write_table(pa.table(arrays), path, compression="zstd")
