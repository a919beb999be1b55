"""Benchmark of the data library: loading and validating one million 1-minute bars.

Run: ``python benchmarks/bench_data.py [--rows 1000000] [--repeat 3]``. Every figure is the best
of ``--repeat`` runs measured in this process, and ratios compare against baselines measured in
the same run: plain ``pd.read_csv(path)`` (default engine, no dtypes) of the same file, and the
common ``pd.read_csv(..., parse_dates=...)`` of the same data with ISO-8601 timestamps.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def best_of(repeat: int, action: Callable[[], object]) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return min(timings)


def make_table(rows: int):
    import numpy as np

    from bot_core.data.reader import Table

    rng = np.random.default_rng(1)
    close = np.round(60_000 * np.exp(np.cumsum(rng.normal(0, 6e-4, rows))), 2)
    open_ = np.r_[60_000.0, close[:-1]]
    high = np.round(np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 2e-4, rows))), 2)
    low = np.round(np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 2e-4, rows))), 2)
    volume = np.round(np.abs(rng.normal(12, 4, rows)) + 0.001, 4)
    ts_ms = 1_704_067_200_000 + np.arange(rows, dtype="int64") * 60_000
    return Table("ohlcv", ts_ms, {"open": open_, "high": high, "low": low, "close": close,
                                  "volume": volume})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import pandas as pd

    from bot_core.data.file_checks import validate_dataset
    from bot_core.data.manifest import sha256_file
    from bot_core.data.quality import DataQualityValidator
    from bot_core.data.reader import read_table, resolve_engine
    from bot_core.data.writer import write_table

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["BOT_CORE_HOME"] = str(work / "home")
        table = make_table(args.rows)
        csv = write_table(table, work / "bars.csv")
        gz = write_table(table, work / "bars.csv.gz")
        frame = table.to_frame()
        iso = work / "bars_iso.csv"
        frame.to_csv(iso, date_format="%Y-%m-%dT%H:%M:%SZ")
        has_arrow = resolve_engine("auto") == "pyarrow"
        parquet = write_table(table, work / "bars.parquet") if has_arrow else None
        size_mb = csv.stat().st_size / 2**20

        from bot_core.data.importer import import_csv

        import_start = time.perf_counter()
        import_csv(csv, dataset_id="bench", venue="bench", instrument="BTC/USDT", timeframe="1m")
        import_seconds = time.perf_counter() - import_start
        from bot_core.data.library import load_dataset

        rows: list[tuple[str, float]] = []
        baseline = best_of(args.repeat, lambda: pd.read_csv(csv))
        baseline_iso = best_of(args.repeat, lambda: pd.read_csv(iso, parse_dates=["timestamp"],
                                                              index_col="timestamp"))
        rows.append(("baseline: pd.read_csv(path), default engine, no dtypes", baseline))
        rows.append(("baseline: pd.read_csv(iso, parse_dates=...)", baseline_iso))
        rows.append(("read_table csv, pyarrow engine -> DataFrame",
                     best_of(args.repeat, lambda: read_table(csv, "ohlcv", engine="pyarrow").to_frame())
                     if resolve_engine("auto") == "pyarrow" else float("nan")))
        rows.append(("read_table csv, pandas C engine -> DataFrame",
                     best_of(args.repeat, lambda: read_table(csv, "ohlcv", engine="c").to_frame())))
        rows.append(("read_table csv.gz (auto engine) -> DataFrame",
                     best_of(args.repeat, lambda: read_table(gz, "ohlcv").to_frame())))
        if parquet is not None:
            rows.append(("read_table parquet -> DataFrame",
                         best_of(args.repeat, lambda: read_table(parquet, "ohlcv").to_frame())))
        rows.append(("sha256 of the csv", best_of(args.repeat, lambda: sha256_file(csv))))
        rows.append(("load_dataset(id): checksum + read + DataFrame",
                     best_of(args.repeat, lambda: load_dataset("bench"))))
        validator = DataQualityValidator()
        rows.append(("validate_table: all content checks",
                     best_of(args.repeat, lambda: validator.validate_table(table, dataset="b",
                                                                            timeframe="1m"))))
        rows.append(("validate_dataset(id): checksum + read + all checks",
                     best_of(args.repeat, lambda: validate_dataset("bench"))))
        broken = work / "broken.csv"
        broken.write_bytes(csv.read_bytes().replace(b"\n1704070800000,", b"\n1704070800000,x", 1))
        rows.append(("validate a file with one bad cell (tolerant re-read)",
                     best_of(args.repeat, lambda: validate_dataset(broken))))

    print(f"bot-core data library benchmark: {args.rows:,} rows of 1-minute bars ({size_mb:.0f} MiB "
          f"csv), best of {args.repeat}, pandas {pd.__version__}, engine "
          f"auto={resolve_engine('auto')}")
    print(f"{'operation':58} {'seconds':>8} {'vs read_csv':>12} {'vs iso':>8}")
    for name, seconds in rows:
        print(f"{name:58} {seconds:8.3f} {baseline / seconds:11.1f}x {baseline_iso / seconds:7.1f}x")
    print(f"{'import_csv of the same file (parse, validate, write csv)':58} {import_seconds:8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
