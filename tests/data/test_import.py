"""Importing real-looking exports: each vendor format round-trips into the library."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bot_core.data as data
from bot_core.data.importer import import_csv
from bot_core.errors import DataError, DataQualityError

UTC = "UTC"


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


# fixture, kind, timeframe, tz, rows, first timestamp (UTC), first open (or bid), last close (or ask)
VENDOR_FORMATS = [
    ("binance_btcusdt_1m.csv", "ohlcv", "1m", None, 60, "2024-01-02 00:00", 42283.58, None),
    ("binance_ethusdt_1m_us.csv", "ohlcv", "1m", None, 30, "2024-01-02 00:00", 3300.12, None),
    ("yahoo_spy_1d.csv", "ohlcv", "1d", "America/New_York", 24, "2024-01-02 05:00", 472.65, None),
    ("metatrader_eurusd_h1.csv", "ohlcv", "1h", "Etc/GMT-2", 48, "2024-01-01 22:00", 1.10391, None),
    ("mt5_gbpusd_m1.csv", "ohlcv", "1m", "UTC", 40, "2024-01-03 09:00", 1.27301, None),
    ("tradingview_btcusd_1h.csv", "ohlcv", "1h", None, 48, "2024-01-02 00:00", 43000.0, None),
    ("pandas_sol_5m.csv", "ohlcv", "5m", None, 30, "2024-01-02 00:00", 151.3, None),
    ("kraken_xbtusd_1m.csv", "ohlcv", "1m", None, 50, "2024-01-02 00:00", 42100.0, None),
    ("coinbase_btc_usd_1h.csv", "ohlcv", "1h", None, 24, "2024-01-02 00:00", None, None),
    ("iso_offset_eth_1m.csv", "ohlcv", "1m", None, 30, "2024-01-02 00:00", 2300.5, None),
    ("naive_ada_1m.csv", "ohlcv", "1m", "UTC", 30, "2024-01-02 10:00", 0.5812, None),
    ("cryptodatadownload_btcusdt_1h.csv", "ohlcv", "1h", None, 24, "2024-01-02 00:00", None, None),
    ("semicolon_eurusd_1h.csv", "ohlcv", "1h", "Europe/Berlin", 24, "2024-01-14 23:00", 1.09512, None),
    ("binance_bookticker_btcusdt.csv", "quotes", "1s", None, 60, "2024-01-02 00:00", 42300.0, None),
    ("dukascopy_eurusd_1m.csv", "ohlcv", "1m", "UTC", 30, "2024-01-02 08:00", None, None),
    ("histdata_gbpusd_m1.csv", "ohlcv", "1m", "Etc/GMT+5", 30, "2024-01-03 14:00", None, None),
    ("quoted_thousands_btc_1d.csv", "ohlcv", "1d", "UTC", 5, "2024-01-02 00:00", 42283.58, None),
]


@pytest.mark.parametrize(("name", "kind", "timeframe", "tz", "rows", "first", "first_price", "_"),
                         VENDOR_FORMATS, ids=[v[0] for v in VENDOR_FORMATS])
def test_vendor_export_round_trips(fixtures_dir: Path, name: str, kind: str, timeframe: str,
                                   tz: str | None, rows: int, first: str,
                                   first_price: float | None, _: None) -> None:
    result = import_csv(fixtures_dir / name, dataset_id="imported", venue="vendor",
                        instrument="BTC/USD", timeframe=timeframe, kind=kind, tz=tz)
    assert result.entry.rows == rows and result.entry.library == "user"
    frame = data.load_dataset("imported")
    assert len(frame) == rows and frame.index[0] == _ts(first)
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    if first_price is not None:
        assert frame.iloc[0, 0] == pytest.approx(first_price)
    assert not any(f.severity == "error" for f in data.validate_dataset("imported"))
    listed = [e.id for e in data.list_datasets()]
    assert listed[-1] == "imported"


def test_values_survive_exactly(fixtures_dir: Path) -> None:
    src = fixtures_dir / "kraken_xbtusd_1m.csv"
    import_csv(src, dataset_id="kraken", venue="kraken", instrument="BTC/USD", timeframe="1m")
    raw = pd.read_csv(src, header=None)
    frame = data.load_dataset("kraken")
    np.testing.assert_array_equal(frame["close"].to_numpy(), raw[4].to_numpy())
    np.testing.assert_array_equal(frame["volume"].to_numpy(), raw[5].to_numpy())
    assert (frame.index.asi8 // 10**9 == raw[0].to_numpy()).all()


def test_tz_is_not_applied_to_absolute_times(fixtures_dir: Path) -> None:
    result = import_csv(fixtures_dir / "iso_offset_eth_1m.csv", dataset_id="iso", venue="v",
                        instrument="ETH/USD", timeframe="1m", tz="Asia/Tokyo")
    assert any("--tz Asia/Tokyo not used" in note for note in result.notes)
    assert data.load_dataset("iso").index[0] == _ts("2024-01-02 00:00")


def test_newest_first_is_reversed(fixtures_dir: Path) -> None:
    result = import_csv(fixtures_dir / "coinbase_btc_usd_1h.csv", dataset_id="cb", venue="coinbase",
                        instrument="BTC/USD", timeframe="1h")
    assert "reversed" in " ".join(result.notes)
    frame = data.load_dataset("cb")
    raw = pd.read_csv(fixtures_dir / "coinbase_btc_usd_1h.csv")
    assert frame["open"].iloc[0] == raw["open"].iloc[-1]  # Coinbase column order: time,low,high,open


def test_yahoo_null_rows_dropped_and_adj_close_ignored(fixtures_dir: Path) -> None:
    result = import_csv(fixtures_dir / "yahoo_spy_1d.csv", dataset_id="spy", venue="nyse",
                        instrument="SPY/USD", timeframe="1d", tz="America/New_York")
    assert any("dropped 1 rows" in note for note in result.notes)
    raw = pd.read_csv(fixtures_dir / "yahoo_spy_1d.csv").dropna()
    assert data.load_dataset("spy")["close"].tolist() == raw["Close"].tolist()
    assert {f.check for f in result.warnings} == {"gap"}  # weekends


def test_gzipped_export_and_parquet_output(fixtures_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "k.csv.gz"
    src.write_bytes(gzip.compress((fixtures_dir / "kraken_xbtusd_1m.csv").read_bytes()))
    entry = import_csv(src, dataset_id="kz", venue="kraken", instrument="BTC/USD", timeframe="1m",
                       output_format="parquet").entry
    assert entry.file_format == "parquet" and len(data.load_dataset("kz")) == 50


def test_naive_timestamps_need_tz(fixtures_dir: Path) -> None:
    with pytest.raises(DataError, match="carry no timezone; pass --tz"):
        import_csv(fixtures_dir / "naive_ada_1m.csv", dataset_id="a", venue="v",
                   instrument="ADA/USDT", timeframe="1m")


def test_ambiguous_dates_need_a_format(fixtures_dir: Path) -> None:
    src = fixtures_dir / "ambiguous_dates_1d.csv"
    with pytest.raises(DataError, match="read both as %m/%d/%Y and %d/%m/%Y; pass --date-format"):
        import_csv(src, dataset_id="a", venue="v", instrument="X/USD", timeframe="1d", tz="UTC")
    with pytest.raises(DataError, match="rows are mostly"):  # day-first: a month apart
        import_csv(src, dataset_id="a", venue="v", instrument="X/USD", timeframe="1d", tz="UTC",
                   date_format="%d/%m/%Y")


def test_bad_date_format_names_the_row(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,3\n"
                   "yesterday,1,2,0.5,1.5,3\n")
    with pytest.raises(DataError, match="row 2: timestamp 'yesterday' is not a recognised date"):
        import_csv(src, dataset_id="a", venue="v", instrument="X/USD", timeframe="1d", tz="UTC")


def test_nonexistent_local_time_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "dst.csv"
    src.write_text("time,open,high,low,close,volume\n2024-03-31 02:30:00,1,2,0.5,1.5,3\n")
    with pytest.raises(DataError, match="cannot place timestamps in timezone 'Europe/Berlin'"):
        import_csv(src, dataset_id="a", venue="v", instrument="X/USD", timeframe="1d",
                   tz="Europe/Berlin")


def test_bad_cell_names_row_and_column(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text("time,open,high,low,close,volume\n1704153600,1,2,0.5,1.5,3\n"
                   "1704153660,1,2,0.5,abc,3\n")
    with pytest.raises(DataError, match="row 2, column close: 'abc' is not a number"):
        import_csv(src, dataset_id="a", venue="v", instrument="X/USD", timeframe="1m")


def test_error_findings_refuse_the_import(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text("time,open,high,low,close,volume\n1704153600,1,2,0.5,1.5,3\n"
                   "1704153660,1,2,0.5,1.5,-3\n1704153720,1,2,0.5,1.5,3\n")
    with pytest.raises(DataQualityError, match=r"1 error findings: a: row 2 .*negative_volume"):
        import_csv(src, dataset_id="a", venue="v", instrument="X/USD", timeframe="1m")
    assert not (Path(data.list_datasets()[0].path).parent / "a.csv").exists()
    assert [e.id for e in data.list_datasets() if e.library == "user"] == []


def test_existing_ids_and_force(fixtures_dir: Path) -> None:
    src = fixtures_dir / "kraken_xbtusd_1m.csv"
    kwargs = {"venue": "kraken", "instrument": "BTC/USD", "timeframe": "1m"}
    import_csv(src, dataset_id="k", **kwargs)
    with pytest.raises(DataError, match=r"already exists .* pass --force"):
        import_csv(src, dataset_id="k", **kwargs)
    entry = import_csv(src, dataset_id="k", force=True, output_format="csv.gz", **kwargs).entry
    assert entry.file_format == "csv.gz" and not entry.path.with_name("k.csv").exists()
    with pytest.raises(DataError, match="is a shipped dataset"):
        import_csv(src, dataset_id="demo-btc-usdt-1m", force=True, **kwargs)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"dataset_id": "Bad Id"}, "must be lower-case"),
    ({"instrument": "btcusdt"}, "not of the form BASE/QUOTE"),
    ({"timeframe": None}, "bars need --timeframe"),
    ({"timeframe": "7m"}, "unknown timeframe '7m'"),
    ({"timeframe": "1h"}, "rows are mostly 1m apart but --timeframe is 1h"),
    ({"kind": "trades"}, "unknown kind 'trades'"),
    ({"output_format": "xlsx"}, "unknown output format"),
])
def test_bad_arguments(fixtures_dir: Path, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"dataset_id": "ok", "venue": "v", "instrument": "BTC/USD",
                               "timeframe": "1m", **kwargs}
    with pytest.raises(DataError, match=message):
        import_csv(fixtures_dir / "kraken_xbtusd_1m.csv", **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(("content", "message"), [
    ("just one field per line\nand another\n", "cannot tell the delimiter"),
    ("a,b,c\n1,2,3\n", "header has no column for"),
    ("1704153600,1,2\n1704153660,1,2\n", "first line has 3 fields and no header"),
    ("time,open,high,low,close,volume\n", "no data rows"),
    ("time,open,high,low,close,volume\n" + "1704153600,1,2,0.5,1.5,3\n" * 4
     + "1704153600,1,2,0.5,1.5,3,9,9\n", "cannot split into columns: Expected 6 fields in line 6"),
    ("time,open,high,low,close,volume\n1704153600,,,,,\n", "no row has a price"),
])
def test_unusable_exports(tmp_path: Path, content: str, message: str) -> None:
    src = tmp_path / "x.csv"
    src.write_text(content)
    with pytest.raises(DataError, match=message):
        import_csv(src, dataset_id="a", venue="v", instrument="X/USD", timeframe="1m")


def test_quotes_without_timeframe(fixtures_dir: Path) -> None:
    entry = import_csv(fixtures_dir / "binance_bookticker_btcusdt.csv", dataset_id="bt",
                       venue="binance", instrument="BTC/USDT", timeframe=None, kind="quotes").entry
    assert entry.timeframe is None and entry.kind == "quotes"
    frame = data.load_dataset("bt")
    assert frame["bid_size"].iloc[0] == 2.402 and frame["ask"].iloc[0] == 42300.1


def test_concurrent_imports_keep_every_entry(fixtures_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    src = fixtures_dir / "kraken_xbtusd_1m.csv"

    def run(number: int) -> str:
        return import_csv(src, dataset_id=f"k{number}", venue="kraken", instrument="BTC/USD",
                          timeframe="1m").entry.id

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(run, range(8)))
    listed = {e.id for e in data.list_datasets() if e.library == "user"}
    assert listed == set(ids) == {f"k{n}" for n in range(8)}


def test_quoted_decimal_commas_in_a_comma_file_are_refused_not_guessed(fixtures_dir: Path) -> None:
    # "1,5" could be 1.5 or 15: refusing beats importing prices off by a factor of ten
    with pytest.raises(DataError, match=r"row 1, column open: '1,5' is not a number"):
        import_csv(fixtures_dir / "quoted_decimal_comma_ambiguous.csv", dataset_id="amb",
                   venue="v", instrument="BTC/USD", timeframe="1d", tz="UTC")
