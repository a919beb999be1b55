"""The library: listing, loading, checksums, manifests and the user library."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bot_core.data as data
from bot_core.data.file_checks import validate_dataset
from bot_core.data.library import load_table, shipped_dir, user_dir
from bot_core.data.manifest import read_manifest
from bot_core.data.reader import read_table
from bot_core.errors import DataError

DEMO_IDS = {
    "demo-btc-usdt-1m", "demo-eth-usdt-1m", "demo-sol-usdt-1m", "demo-ada-usdt-1m",
    "demo-btc-usdt-quotes-venue_a", "demo-btc-usdt-quotes-venue_b",
    "demo-eth-usdt-quotes-venue_a", "demo-eth-usdt-quotes-venue_b",
}


def test_list_shows_every_shipped_dataset() -> None:
    entries = data.list_datasets()
    assert {e.id for e in entries} == DEMO_IDS
    assert all(e.library == "shipped" and e.path.is_file() for e in entries)
    btc = data.get_dataset("demo-btc-usdt-1m")
    assert (btc.kind, btc.venue, btc.instrument, btc.timeframe) == ("ohlcv", "venue_a", "BTC/USDT", "1m")
    assert btc.columns == {"timestamp": "int64 epoch ms UTC", "open": "float64", "high": "float64",
                           "low": "float64", "close": "float64", "volume": "float64"}
    assert btc.file_format == "csv.gz"


def test_unknown_id_lists_the_known_ones() -> None:
    with pytest.raises(DataError, match="unknown dataset 'nope'; known datasets: demo-ada-usdt-1m"):
        data.get_dataset("nope")


def test_load_bars_shape_and_types() -> None:
    frame = data.load_dataset("demo-eth-usdt-1m")
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "timestamp"
    assert str(frame.index.tz) == "UTC" and frame.index.is_monotonic_increasing
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    assert len(frame) == 43_200 and frame.index[0] == pd.Timestamp("2024-01-01", tz="UTC")


def test_load_quotes_columns() -> None:
    frame = data.load_dataset("demo-btc-usdt-quotes-venue_a")
    assert list(frame.columns) == ["bid", "ask", "bid_size", "ask_size"]
    assert (frame["bid"] < frame["ask"]).all()


def test_both_engines_read_the_same(tmp_path: Path) -> None:
    entry = data.get_dataset("demo-sol-usdt-1m")
    fast = read_table(entry.path, "ohlcv", engine="pyarrow").to_frame()
    plain = read_table(entry.path, "ohlcv", engine="c").to_frame()
    pd.testing.assert_frame_equal(fast, plain)
    with pytest.raises(DataError, match="unknown CSV engine"):
        read_table(entry.path, "ohlcv", engine="fast")  # type: ignore[arg-type]


def _user_copy(dataset: str, new_id: str, *, suffix: str = ".csv.gz") -> Path:
    """Copy a shipped dataset into the user library under another id."""
    entry = data.get_dataset(dataset)
    library = user_dir()
    library.mkdir(parents=True, exist_ok=True)
    target = library / f"{new_id}{suffix}"
    shutil.copyfile(entry.path, target)
    record = entry.model_copy(update={"id": new_id, "path": target, "library": "user"})
    (library / "manifest.json").write_text(json.dumps(
        {"manifest_version": 1, "datasets": [record.manifest_record(library)]}))
    return target


def test_user_dataset_is_listed_beside_shipped_ones() -> None:
    _user_copy("demo-ada-usdt-1m", "my-ada")
    entries = data.list_datasets()
    assert entries[-1].id == "my-ada" and entries[-1].library == "user"
    assert len(data.load_dataset("my-ada")) == 43_200


def test_checksum_mismatch_is_refused() -> None:
    target = _user_copy("demo-ada-usdt-1m", "my-ada")
    raw = bytearray(target.read_bytes())
    raw[-10] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"dataset my-ada: checksum mismatch for .*my-ada\.csv\.gz"):
        data.load_dataset("my-ada")
    findings = validate_dataset("my-ada")
    assert findings[0].check == "checksum_mismatch" and findings[0].severity == "error"


def test_manifest_fields_that_disagree_with_the_file() -> None:
    target = _user_copy("demo-ada-usdt-1m", "my-ada")
    manifest = user_dir() / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["datasets"][0]["rows"] = 43_199
    doc["datasets"][0]["last_timestamp"] = "2024-01-30T23:58:00.000Z"
    manifest.write_text(json.dumps(doc))
    assert target.exists()
    found = {(f.check, f.message) for f in validate_dataset("my-ada")}
    assert ("manifest_mismatch", "file has 43200 rows") in found
    assert ("manifest_mismatch", "last timestamp is 2024-01-30T23:59:00Z") in found


def test_user_id_colliding_with_a_shipped_one() -> None:
    _user_copy("demo-ada-usdt-1m", "demo-btc-usdt-1m")
    with pytest.raises(DataError, match="collides with a shipped dataset"):
        data.list_datasets()


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "cannot read dataset manifest"),
    ('{"manifest_version": 9, "datasets": []}', "manifest_version 9 is not supported"),
    ('{"manifest_version": 1}', "not a dataset manifest"),
    ('{"manifest_version": 1, "datasets": [3]}', r"datasets\[0\] is not an object"),
    ('{"manifest_version": 1, "datasets": [{"id": "x"}]}', "missing field 'path'"),
    ('{"manifest_version": 1, "datasets": [{"id": "x", "path": "../x.csv"}]}', "must stay inside"),
    ('{"manifest_version": 1, "datasets": [{"id": "x", "path": "x.csv", "kind": "bars"}]}',
     "dataset x: kind"),
])
def test_broken_user_manifest(content: str, message: str) -> None:
    user_dir().mkdir(parents=True)
    (user_dir() / "manifest.json").write_text(content)
    with pytest.raises(DataError, match=message):
        data.list_datasets()


def test_duplicate_ids_in_a_manifest(tmp_path: Path) -> None:
    doc = json.loads((shipped_dir() / "manifest.json").read_text())
    doc["datasets"].append(doc["datasets"][0])
    (tmp_path / "manifest.json").write_text(json.dumps(doc))
    with pytest.raises(DataError, match="appears twice"):
        read_manifest(tmp_path, "user")


def test_parquet_round_trip(tmp_path: Path) -> None:
    from bot_core.data.writer import write_table

    table = load_table("demo-btc-usdt-quotes-venue_b")
    path = write_table(table, tmp_path / "q.parquet")
    back = read_table(path, "quotes")
    np.testing.assert_array_equal(back.ts_ms, table.ts_ms)
    np.testing.assert_array_equal(back.values["ask"], table.values["ask"])
    with pytest.raises(DataError, match="columns are"):
        read_table(path, "ohlcv")
    assert validate_dataset(path) == []
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    assert validate_dataset(tmp_path / "bad.parquet")[0].check == "unreadable"


def test_writer_refuses_unknown_suffix(tmp_path: Path) -> None:
    from bot_core.data.writer import write_table

    with pytest.raises(DataError, match="unsupported dataset file type"):
        write_table(load_table("demo-ada-usdt-1m"), tmp_path / "x.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_package_import_stays_light() -> None:
    import subprocess
    import sys

    code = "import sys, bot_core.data; print('pandas' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_without_pyarrow(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util
    import sys

    from bot_core.data.reader import resolve_engine
    from bot_core.data.writer import write_table

    table = load_table("demo-ada-usdt-1m")
    parquet = write_table(table, tmp_path / "a.parquet")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyarrow" else real_find_spec(name, *a))
    assert resolve_engine("auto") == "c"
    assert len(data.load_dataset("demo-ada-usdt-1m")) == 43_200
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DataError, match=r"reading Parquet needs pyarrow"):
        read_table(parquet, "ohlcv")
    with pytest.raises(DataError, match=r"writing Parquet needs pyarrow"):
        write_table(table, tmp_path / "b.parquet")
    assert validate_dataset(parquet)[0].check == "unreadable"
