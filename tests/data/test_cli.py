"""``bot-core data ...`` through the real CLI in a subprocess: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from bot_core.data.reader import Table
from bot_core.data.writer import write_table


def test_list_json(run_cli) -> None:
    result = run_cli("data", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 8 and rows[0]["id"] == "demo-ada-usdt-1m"
    assert rows[0]["library"] == "shipped" and rows[0]["rows"] == 43200


def test_list_table(run_cli) -> None:
    result = run_cli("data", "list", env={"COLUMNS": "200"})
    assert result.returncode == 0 and "demo-btc-usdt-quotes-venue_b" in result.stdout


def test_validate_everything_clean(run_cli) -> None:
    result = run_cli("data", "validate", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["errors"] == 0 and report["warnings"] == 0
    assert len(report["datasets"]) == 8
    text = run_cli("data", "validate", "demo-sol-usdt-1m")
    assert text.returncode == 0 and "1 dataset(s) checked: 0 error(s), 0 warning(s)" in text.stdout


def test_validate_file_with_errors_exits_1(run_cli, tmp_path: Path, clean_bars: Table) -> None:
    clean_bars.values["low"][10] = clean_bars.values["high"][10] * 2
    path = write_table(clean_bars, tmp_path / "bad.csv")
    result = run_cli("data", "validate", str(path), "--json")
    assert result.returncode == 1
    finding = json.loads(result.stdout)["findings"][0]
    assert (finding["check"], finding["row"], finding["timestamp"]) == (
        "ohlc_inconsistent", 11, "2024-01-01T00:10:00Z")
    table = run_cli("data", "validate", str(path), env={"COLUMNS": "200"})
    assert table.returncode == 1 and "ohlc_inconsistent" in table.stdout
    assert "1 error(s)" in table.stdout


def test_validate_usage_errors_exit_2(run_cli) -> None:
    unknown = run_cli("data", "validate", "no-such-dataset")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: 'no-such-dataset' is neither a dataset id")
    assert "Traceback" not in unknown.stderr
    assert run_cli("data", "validate", "--bogus").returncode == 2
    assert run_cli("data").returncode == 2


def test_import_then_list_and_validate(run_cli, fixtures_dir: Path) -> None:
    src = fixtures_dir / "binance_btcusdt_1m.csv"
    result = run_cli("data", "import", str(src), "--id", "binance-btc", "--venue", "binance",
                     "--instrument", "BTC/USDT", "--timeframe", "1m", "--source", "binance vision",
                     "--licence", "Binance terms")
    assert result.returncode == 0, result.stderr
    assert "imported binance-btc: 60 ohlcv rows" in result.stdout
    assert "Binance kline layout" in result.stdout
    listed = json.loads(run_cli("data", "list", "--json").stdout)
    mine = next(r for r in listed if r["id"] == "binance-btc")
    assert (mine["library"], mine["source"], mine["licence"]) == ("user", "binance vision",
                                                                  "Binance terms")
    assert run_cli("data", "validate", "binance-btc").returncode == 0
    again = run_cli("data", "import", str(src), "--id", "binance-btc", "--venue", "binance",
                    "--instrument", "BTC/USDT", "--timeframe", "1m", "--json", "--force")
    assert again.returncode == 0 and json.loads(again.stdout)["entry"]["rows"] == 60


def test_import_warnings_are_shown(run_cli, fixtures_dir: Path) -> None:
    result = run_cli("data", "import", str(fixtures_dir / "yahoo_spy_1d.csv"), "--id", "spy",
                     "--venue", "nyse", "--instrument", "SPY/USD", "--timeframe", "1d",
                     "--tz", "America/New_York", env={"COLUMNS": "300"})
    assert result.returncode == 0, result.stderr
    assert "note: dropped 1 rows" in result.stdout and "warning: spy: row" in result.stdout


def test_import_garbage_is_one_line(run_cli, tmp_path: Path) -> None:
    src = tmp_path / "photo.jpg"
    src.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 10)
    result = run_cli("data", "import", str(src), "--id", "x", "--venue", "v", "--instrument",
                     "BTC/USDT", "--timeframe", "1m")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "binary content" in result.stderr or "not UTF-8" in result.stderr


def test_import_missing_required_option_exits_2(run_cli, fixtures_dir: Path) -> None:
    result = run_cli("data", "import", str(fixtures_dir / "naive_ada_1m.csv"), "--id", "x")
    assert result.returncode == 2 and "--venue" in result.stderr


def test_commands_in_process(capsys, fixtures_dir: Path, tmp_path: Path) -> None:
    """The same handlers called in-process (keeps their coverage independent of subprocesses)."""
    from bot_core.cli import main

    assert main(["data", "list"]) == 0
    assert "demo-ada-usdt-1m" in capsys.readouterr().out
    assert main(["data", "import", str(fixtures_dir / "tradingview_btcusd_1h.csv"), "--id", "tv",
                 "--venue", "tradingview", "--instrument", "BTC/USD", "--timeframe", "1h"]) == 0
    assert "imported tv: 48 ohlcv rows" in capsys.readouterr().out
    assert main(["data", "validate", "tv", "demo-ada-usdt-1m"]) == 0
    assert "2 dataset(s) checked: 0 error(s)" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n1704067200000,1,2,0.5,1.5,-1\n")
    assert main(["data", "validate", str(bad), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["errors"] == 1
    assert main(["data", "validate", "nope"]) == 2
    assert "neither a dataset id" in capsys.readouterr().err
    many = tmp_path / "gaps.csv"
    rows = "".join(f"{1704067200000 + i * 120_000},1,2,0.5,1.5,1\n" for i in range(30))
    many.write_text("timestamp,open,high,low,close,volume\n" + rows)
    assert main(["data", "import", str(many), "--id", "gappy", "--venue", "v", "--instrument",
                 "BTC/USD", "--timeframe", "1m"]) == 1  # rows are 2m apart
    assert "rows are mostly 2m apart" in capsys.readouterr().err
