"""Garbage in gives one clear DataError (or findings), never a traceback or a hang."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot_core.data.file_checks import validate_dataset
from bot_core.data.importer import import_csv
from bot_core.data.reader import Table, check_size, open_bytes, read_table, read_table_tolerant
from bot_core.data.schema import max_bytes
from bot_core.data.writer import write_table
from bot_core.errors import DataError, DataQualityError

HEADER = "timestamp,open,high,low,close,volume\n"


def _garbage(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(("content", "message"), [
    (b"", "file is empty"),
    (b"\n\n  \n", "file is empty"),
    (bytes(range(256)) * 4, "binary content"),
    (b"\xff\xfe\xfa" + b"a" * 100, "not UTF-8 text"),
    (b"timestamp;open;high;low;close;volume\n1;2;3;1;2;3\n", "uses ';' as delimiter"),
    (b"timestamp\topen\thigh\tlow\tclose\tvolume\n1\t2\t3\t1\t2\t3\n", "uses tab as delimiter"),
    (HEADER.encode(), "has a header but no data rows"),
    (b"date,price\n2024-01-01,3\n", "header is 'date,price'"),
    ((HEADER + "1704067200000,1,2,0.5,1.5,3\n1704067260000,1,2").encode(),
     "row 2, column \\*: line has 3 fields"),
    ((HEADER + "1704067200000,1,2,0.5,1.5,3\n1704067260000.5,1,2,0.5,1.5,3\n").encode(),
     "row 2, column timestamp: timestamp '1704067260000.5' is not an integer"),
    ((HEADER + "1704067200000,1,2,0.5,x,3\n1704067260000,1,2,0.5,y,3\n").encode(),
     "row 1, column close: 'x' is not a number \\(and 1 more bad cells"),
    (b"\x1f\x8b\x08\x00garbage-not-gzip-but-long-enough" + struct.pack("<I", 100),
     "not a readable gzip file"),
])
def test_bad_files_give_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = _garbage(tmp_path, "x.csv", content)
    for engine in ("pyarrow", "c"):
        with pytest.raises(DataError, match=message):
            read_table(path, "ohlcv", engine=engine)  # type: ignore[arg-type]
    findings = validate_dataset(path)
    assert findings and findings[0].severity == "error"


def test_windows_line_ends_and_bom_are_fine(tmp_path: Path, clean_bars: Table) -> None:
    text = write_table(clean_bars, tmp_path / "a.csv").read_bytes().replace(b"\n", b"\r\n")
    path = _garbage(tmp_path, "crlf.csv", b"\xef\xbb\xbf" + text)
    for engine in ("pyarrow", "c"):
        table = read_table(path, "ohlcv", engine=engine)  # type: ignore[arg-type]
        assert table.rows == clean_bars.rows
        assert (table.values["close"] == clean_bars.values["close"]).all()
    assert validate_dataset(path) == []


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_table(tmp_path / "nope.csv", "ohlcv")
    with pytest.raises(DataError, match="not a regular file"):
        read_table(tmp_path, "ohlcv")
    assert validate_dataset(tmp_path)[0].check == "unreadable"


def test_two_gigabytes_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with open(path, "wb") as handle:
        handle.truncate(2 * 1024**3)  # sparse: no disk used, and never read
    with pytest.raises(DataError, match=r"file is 2,048 MiB, above the 1,024 MiB limit"):
        read_table(path, "ohlcv")
    with pytest.raises(DataError, match="above the 1,024 MiB limit"):
        import_csv(path, dataset_id="huge", venue="v", instrument="BTC/USDT", timeframe="1m")
    assert "limit" in validate_dataset(path)[0].message


def test_limit_is_configurable(tmp_path: Path, clean_bars: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_table(clean_bars, tmp_path / "bars.csv")
    monkeypatch.setenv("BOT_CORE_DATA_MAX_MB", "0.01")
    assert max_bytes() == 10485
    with pytest.raises(DataError, match="set BOT_CORE_DATA_MAX_MB to raise it"):
        read_table(path, "ohlcv")
    monkeypatch.setenv("BOT_CORE_DATA_MAX_MB", "lots")
    with pytest.raises(DataError, match="is not a number of megabytes"):
        max_bytes()
    monkeypatch.setenv("BOT_CORE_DATA_MAX_MB", "-1")
    with pytest.raises(DataError, match="must be positive"):
        max_bytes()


def test_gzip_bomb_refused_by_its_trailer(tmp_path: Path) -> None:
    path = tmp_path / "bomb.csv.gz"
    payload = gzip.compress(HEADER.encode())
    path.write_bytes(payload[:-4] + struct.pack("<I", 2**32 - 1))
    with pytest.raises(DataError, match="gzip file inflates to 4,096 MiB"):
        check_size(path)


def test_gzip_bomb_with_a_lying_trailer_stops_at_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "bomb.csv.gz"
    payload = gzip.compress((HEADER + "1704067200000,1,2,0.5,1.5,3\n" * 200_000).encode())
    path.write_bytes(payload[:-4] + struct.pack("<I", 10))  # claims 10 bytes
    with pytest.raises(DataError, match="inflates beyond the 0 MiB limit"):
        read_table_tolerant(path, "ohlcv", limit_bytes=50_000)
    with pytest.raises(DataError, match="inflates beyond"):
        open_bytes(path, limit_bytes=50_000)


ROW = st.tuples(
    st.integers(min_value=-(2**62), max_value=2**62),
    *[st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(""),
                st.text(alphabet="0123456789.-eE,x ", max_size=6)) for _ in range(5)],
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, max_size=30),
       header=st.sampled_from([HEADER, "timestamp,bid,ask,bid_size,ask_size\n", "", "x,y\n"]),
       tail=st.binary(max_size=40))
def test_fuzzed_csv_never_crashes_the_validator(tmp_path: Path, rows: list[tuple[object, ...]],
                                                header: str, tail: bytes) -> None:
    body = "".join(",".join(str(c) for c in row) + "\n" for row in rows)
    path = tmp_path / "fuzz.csv"
    path.write_bytes((header + body).encode() + tail)
    findings = validate_dataset(path)
    assert all(f.check and f.severity in ("error", "warning") for f in findings)
    try:
        read_table(path, "ohlcv")
    except DataError as exc:
        assert str(exc)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(
    st.binary(max_size=300),
    st.lists(st.lists(st.text(alphabet="0123456789.:-/ TZ+abcnul", max_size=12), min_size=1,
                      max_size=8), max_size=12).map(
        lambda rows: "\n".join(",".join(r) for r in rows).encode()),
))
def test_fuzzed_exports_never_crash_the_importer(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    try:
        import_csv(path, dataset_id="fuzz", venue="v", instrument="BTC/USDT", timeframe="1m",
                   tz="UTC", force=True)
    except (DataError, DataQualityError) as exc:
        assert str(exc)


def test_sparse_file_was_not_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with open(path, "wb") as handle:
        handle.truncate(3 * 1024**3)
    before = os.stat(path).st_atime_ns
    with pytest.raises(DataError):
        check_size(path)
    assert os.stat(path).st_atime_ns == before


def test_empty_cells_load_as_nan_with_either_engine(tmp_path: Path) -> None:
    path = _garbage(tmp_path, "x.csv", (HEADER + "1704067200000,1,2,0.5,1.5,\n").encode())
    for engine in ("pyarrow", "c"):
        table = read_table(path, "ohlcv", engine=engine)  # type: ignore[arg-type]
        assert table.rows == 1 and table.values["close"][0] == 1.5
        assert table.values["volume"][0] != table.values["volume"][0]  # NaN
    assert [f.check for f in validate_dataset(path)] == ["nan_value"]
