"""One test per check: inject the defect into clean data and find it at the right row."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot_core.data.findings import CHECKS, Finding, has_errors
from bot_core.data.quality import DataQualityValidator, ValidatorSettings
from bot_core.data.reader import Table
from bot_core.data.writer import write_table

V = DataQualityValidator()


def _found(findings: list[Finding], check: str) -> list[Finding]:
    return [f for f in findings if f.check == check]


def _only(findings: list[Finding], check: str) -> Finding:
    hits = _found(findings, check)
    assert hits, f"{check} not reported; got {[str(f) for f in findings]}"
    return hits[0]


def test_clean_data_has_no_findings(clean_bars: Table, clean_quotes: Table) -> None:
    assert V.validate_table(clean_bars, dataset="bars", timeframe="1m") == []
    assert V.validate_table(clean_quotes, dataset="quotes", timeframe="1s") == []


def test_every_check_is_documented_with_a_severity() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "data.md").read_text()
    for name, (severity, _) in CHECKS.items():
        assert severity in ("error", "warning")
        assert f"`{name}`" in doc, f"check {name} missing from docs/data.md"


def test_nan_value(clean_bars: Table) -> None:
    clean_bars.values["volume"][41] = np.nan
    finding = _only(V.validate_table(clean_bars, dataset="d", timeframe="1m"), "nan_value")
    assert (finding.row, finding.severity, finding.dataset) == (42, "error", "d")
    assert "volume" in finding.message
    assert finding.timestamp == "2024-01-01T00:41:00Z"


def test_non_increasing_timestamp(clean_bars: Table) -> None:
    clean_bars.ts_ms[100] = clean_bars.ts_ms[98]
    findings = V.validate_table(clean_bars, dataset="d", timeframe="1m")
    back = _only(findings, "non_increasing_timestamp")
    assert back.row == 101 and "goes back" in back.message


def test_duplicate_timestamp(clean_bars: Table) -> None:
    clean_bars.ts_ms[500] = clean_bars.ts_ms[499]
    finding = _only(V.validate_table(clean_bars, dataset="d", timeframe="1m"), "duplicate_timestamp")
    assert finding.row == 501 and "row 500" in finding.message


def test_gap_counts_and_largest(clean_bars: Table) -> None:
    keep = np.ones(clean_bars.rows, bool)
    keep[200:205] = False  # 5 missing minutes before old row 206
    keep[900:901] = False
    table = Table("ohlcv", clean_bars.ts_ms[keep], {k: v[keep] for k, v in clean_bars.values.items()})
    gaps = _found(V.validate_table(table, dataset="d", timeframe="1m"), "gap")
    summary, first, second = gaps
    assert summary.severity == "warning"
    assert "2 gaps, 6 missing rows" in summary.message and summary.row == 201
    assert (first.row, second.row) == (201, 896)
    assert "5 missing" in first.message


def test_gap_not_checked_without_timeframe(clean_bars: Table) -> None:
    clean_bars.ts_ms[10:] += 3_600_000
    assert _found(V.validate_table(clean_bars, dataset="d", timeframe=None), "gap") == []


@pytest.mark.parametrize(("column", "factor"), [("low", 1.01), ("high", 0.99)])
def test_ohlc_inconsistent(clean_bars: Table, column: str, factor: float) -> None:
    clean_bars.values[column][777] *= factor
    finding = _only(V.validate_table(clean_bars, dataset="d", timeframe="1m"), "ohlc_inconsistent")
    assert finding.row == 778 and f"{column}=" in finding.message


def test_non_positive_price(clean_bars: Table) -> None:
    for column in ("open", "high", "low", "close"):
        clean_bars.values[column][1234] = 0.0 if column != "high" else 1.0
    finding = _only(V.validate_table(clean_bars, dataset="d", timeframe="1m"), "non_positive_price")
    assert finding.row == 1235 and finding.severity == "error"


def test_negative_volume(clean_bars: Table) -> None:
    clean_bars.values["volume"][9] = -1.0
    finding = _only(V.validate_table(clean_bars, dataset="d", timeframe="1m"), "negative_volume")
    assert finding.row == 10 and "-1" in finding.message


def test_outlier_return(clean_bars: Table) -> None:
    for column in ("open", "high", "low", "close"):
        clean_bars.values[column][2000] *= 1.05  # one bad tick, 5 % above its neighbours
    findings = V.validate_table(clean_bars, dataset="d", timeframe="1m")
    rows = [f.row for f in _found(findings, "outlier_return")]
    assert rows == [2001, 2002]  # the jump up and the jump back down
    assert not has_errors(findings) or _found(findings, "ohlc_inconsistent")


def test_outlier_return_on_quote_mid(clean_quotes: Table) -> None:
    clean_quotes.values["bid"][1500] *= 1.03
    clean_quotes.values["ask"][1500] *= 1.03
    rows = [f.row for f in _found(V.validate_table(clean_quotes, dataset="q"), "outlier_return")]
    assert 1501 in rows


def test_stale_run_bars(clean_bars: Table) -> None:
    price = clean_bars.values["close"][599]
    for column in ("open", "high", "low", "close"):
        clean_bars.values[column][600:640] = price
    finding = _only(V.validate_table(clean_bars, dataset="d", timeframe="1m"), "stale_run")
    assert finding.row == 601 and "40 consecutive rows" in finding.message


def test_stale_run_quotes(clean_quotes: Table) -> None:
    clean_quotes.values["bid"][100:800] = clean_quotes.values["bid"][100]
    clean_quotes.values["ask"][100:800] = clean_quotes.values["ask"][100]
    finding = _only(V.validate_table(clean_quotes, dataset="q"), "stale_run")
    assert finding.row == 101 and "700 consecutive" in finding.message


def test_bid_above_ask(clean_quotes: Table) -> None:
    clean_quotes.values["bid"][66] = clean_quotes.values["ask"][66] + 1.0
    finding = _only(V.validate_table(clean_quotes, dataset="q"), "bid_above_ask")
    assert finding.row == 67 and finding.severity == "error"


@pytest.mark.parametrize("column", ["bid_size", "ask_size"])
def test_non_positive_size(clean_quotes: Table, column: str) -> None:
    clean_quotes.values[column][2999] = 0.0
    finding = _only(V.validate_table(clean_quotes, dataset="q"), "non_positive_size")
    assert finding.row == 3000 and column in finding.message


def _write(table: Table, path: Path) -> Path:
    return write_table(table, path)


def test_unparsable_cell(clean_bars: Table, tmp_path: Path) -> None:
    path = _write(clean_bars, tmp_path / "bars.csv")
    lines = path.read_text().splitlines()
    parts = lines[51].split(",")
    parts[2] = "12x.5"
    lines[51] = ",".join(parts)
    path.write_text("\n".join(lines) + "\n")
    findings = V.validate_file(path, dataset="f")
    finding = _only(findings, "unparsable_cell")
    assert finding.row == 51 and "high" in finding.message and "12x.5" in finding.message
    assert finding.timestamp == "2024-01-01T00:50:00Z"
    assert _found(findings, "nan_value") == []  # reported once, as unparsable


def test_truncated_line_is_found(clean_bars: Table, tmp_path: Path) -> None:
    path = _write(clean_bars, tmp_path / "bars.csv")
    lines = path.read_text().splitlines()
    lines[300] = lines[300][:20]
    path.write_text("\n".join(lines) + "\n")
    finding = _only(V.validate_file(path), "unparsable_cell")
    assert finding.row == 300 and "fields" in finding.message


def test_schema_wrong_header(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("time,o,h,l,c\n1,2,3,4,5\n")
    finding = _only(V.validate_file(path), "schema")
    assert finding.row == 0 and "time,o,h,l,c" in finding.message


def test_schema_of_a_frame(clean_bars: Table) -> None:
    frame = clean_bars.to_frame()
    assert V.validate_frame(frame, kind="ohlcv", timeframe="1m") == []
    broken = frame.astype({"volume": "int64"})
    assert _only(V.validate_frame(broken, kind="ohlcv"), "schema").severity == "error"
    naive = frame.tz_localize(None)
    assert "index" in _only(V.validate_frame(naive, kind="ohlcv"), "schema").message


def test_findings_are_capped_with_a_summary(clean_bars: Table) -> None:
    clean_bars.values["volume"][:100] = -1.0
    hits = _found(V.validate_table(clean_bars, dataset="d"), "negative_volume")
    assert len(hits) == 21
    assert hits[-1].row == 21 and "80 more rows" in hits[-1].message


def test_thresholds_are_settings(clean_bars: Table) -> None:
    strict = DataQualityValidator(replace(ValidatorSettings(), outlier_sigmas=1.0))
    assert _found(strict.validate_table(clean_bars, dataset="d"), "outlier_return")
