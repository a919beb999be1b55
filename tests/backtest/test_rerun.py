"""Run manifests and ``bot-core rerun``: every result records how to repeat it, and a re-run is
held to the record bit for bit, through the real CLI in a subprocess."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from bot_core.config.models import BotConfig
from bot_core.runtime.history import config_hash

DEMO = "demo-btc-usdt-1m"


def _backtest(run_cli: Any, *args: str, out: Path) -> dict[str, Any]:
    proc = run_cli("backtest", "--strategy", "mean_reversion", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    out.write_text(proc.stdout, encoding="utf-8")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _import(run_cli: Any, frame: Any, path: Path, *extra: str) -> None:
    frame.to_csv(path)
    proc = run_cli("data", "import", str(path), "--id", "slice", "--venue", "venue_a",
                   "--instrument", "BTC/USDT", "--timeframe", "1m", *extra)
    assert proc.returncode == 0, proc.stderr


def test_a_rerun_of_the_demo_is_identical_from_the_json_and_from_the_report(
        run_cli, tmp_path: Path) -> None:
    report = tmp_path / "report"
    out = _backtest(run_cli, "--dataset", DEMO, "--fee-bps", "7", "--report", str(report),
                    out=tmp_path / "result.json")
    manifest = out["manifest"]
    # the manifest: versions, the resolved config and its hash, datasets and checksums, ...
    assert set(manifest["versions"]) >= {"bot-core", "python", "numpy", "numba"}
    assert manifest["plugins"]["bot-core-mean-reversion"] == \
        metadata.version("bot-core-mean-reversion")
    assert manifest["components"]["strategy mean_reversion"] == "bot-core-mean-reversion"
    assert manifest["config_hash"] == config_hash(BotConfig.model_validate(manifest["config"]))
    listed = json.loads(run_cli("data", "list", "--json").stdout)
    sha = {d["id"]: d["sha256"] for d in listed}
    assert [(d["id"], d["sha256"], d["rows"]) for d in manifest["datasets"]] == \
        [(DEMO, sha[DEMO], 43_200)]
    assert manifest["strategies"] == ["mean_reversion"]
    assert "window_bars" in manifest["parameters"]["mean_reversion"]
    settings = manifest["venues"]["venue_a"]["settings"]
    assert settings["taker_fee_bps"] == settings["maker_fee_bps"] == 7
    assert "PYTHONHASHSEED" in manifest["random_seeds"]
    assert manifest["replay"] == {"requested": "compiled", "path": out["path"], "note": ""}
    assert manifest["outcome"]["fills"] == out["n_fills"] and manifest["outcome"]["steps"] == 43_200
    assert json.loads((report / "manifest.json").read_text(encoding="utf-8")) == manifest

    for source in (tmp_path / "result.json", report):
        proc = run_cli("rerun", str(source))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[1] == (f"identical: {len(out['trades'])} trades, {out['n_fills']} fills "
                            f"and 43,200 equity points, bit for bit (path {out['path']})")
        assert len(lines) == 2 and proc.stderr == ""
    as_json = run_cli("rerun", str(report), "--json")
    assert as_json.returncode == 0
    payload = json.loads(as_json.stdout)
    assert payload["identical"] is True and payload["differences"] == payload["changes"] == []
    assert payload["rerun"]["outcome"] == manifest["outcome"]


def test_a_rerun_on_a_changed_dataset_says_what_differs_and_names_its_checksum(
        run_cli, tmp_path: Path) -> None:
    from bot_core.data.library import load_dataset

    frame = load_dataset(DEMO).head(3000)
    _import(run_cli, frame, tmp_path / "slice.csv")
    report = tmp_path / "report"
    recorded = _backtest(run_cli, "--dataset", "slice", "--report", str(report),
                         out=tmp_path / "result.json")
    before = recorded["manifest"]["datasets"][0]["sha256"]
    assert run_cli("rerun", str(report)).returncode == 0

    changed = frame.copy()
    row = 1500
    changed.iloc[row, changed.columns.get_loc("close")] *= 1.01
    changed.iloc[row, changed.columns.get_loc("high")] = max(changed["high"].iloc[row],
                                                             changed["close"].iloc[row])
    _import(run_cli, changed, tmp_path / "slice-2.csv", "--force")
    after = {d["id"]: d["sha256"] for d in json.loads(run_cli("data", "list", "--json").stdout)}
    assert after["slice"] != before

    proc = run_cli("rerun", str(report))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    text = proc.stdout
    assert "\ndiffers:\n" in text
    assert (f"  dataset slice: checksum changed (sha256 {before[:16]}... recorded, "
            f"{after['slice'][:16]}... now)") in text.splitlines()
    assert text.index("differs:") < text.index("changed since the recorded run (why it may "
                                               "differ):") < text.index("dataset slice")
    # what differs, down to the first row that parts from the report's CSVs
    lines = {line.strip().split(":")[0]: line for line in text.splitlines()
             if line.startswith("  ")}
    assert "the first to differ is trade" in lines["trades"]
    assert "the first to differ is fill" in lines["fills"]
    assert "points differ, the first at point" in lines["equity curve"]
    # --json: the same, as data
    payload = json.loads(run_cli("rerun", str(tmp_path / "result.json"), "--json").stdout)
    assert payload["identical"] is False
    assert [c for c in payload["changes"] if c.startswith("dataset slice: checksum changed")]
    assert [d.split(":")[0] for d in payload["differences"]][-1] == "equity curve"


def test_a_changed_plugin_version_is_named_and_the_first_differing_trade_shown(
        run_cli, tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    out = _backtest(run_cli, "--dataset", DEMO, out=path)
    installed = metadata.version("bot-core-mean-reversion")
    # the record as an older plugin version wrote it, with a different third trade
    out["manifest"]["plugins"]["bot-core-mean-reversion"] = "0.0.1"
    out["manifest"]["outcome"]["trades_sha256"] = "0" * 64
    recorded_pnl = out["trades"][2]["pnl"]
    out["trades"][2]["pnl"] = recorded_pnl + 1.0
    path.write_text(json.dumps(out), encoding="utf-8")
    proc = run_cli("rerun", str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    trade = out["trades"][2]
    n = len(out["trades"])
    assert (f"  trades: {n} recorded, {n} now; the first to differ is trade 3 "
            f"({trade['strategy']} {trade['instrument']} {trade['side']}, entered "
            f"{trade['entry_time']}): pnl {recorded_pnl + 1.0} -> {recorded_pnl}") \
        in proc.stdout.splitlines()
    assert (f"  plugin bot-core-mean-reversion 0.0.1 -> {installed} (provides strategy "
            "mean_reversion)") in proc.stdout.splitlines()
    # only the trades' digest was changed: fills and equity are still identical
    assert "  fills:" not in proc.stdout and "  equity curve:" not in proc.stdout


@pytest.mark.parametrize("case", ["missing", "not_json", "no_manifest", "empty_dir", "version",
                                  "field", "unknown_dataset"])
def test_bad_input_is_one_line_and_exit_2(run_cli, tmp_path: Path, case: str) -> None:
    manifest = {"manifest_version": 1, "strategies": ["mean_reversion"]}
    target = tmp_path / "result.json"
    expected = ""
    if case == "missing":
        expected = f"{target}: no such file"
    elif case == "not_json":
        target.write_text("{ not json", encoding="utf-8")
        expected = f"{target}: not JSON (line 1, column 3: Expecting property name"
    elif case == "no_manifest":
        target.write_text(json.dumps({"trades": []}), encoding="utf-8")
        expected = f"{target}: no run manifest"
    elif case == "empty_dir":
        target = tmp_path / "report"
        target.mkdir()
        expected = f"{target / 'manifest.json'}: no such file"
    elif case == "version":
        target.write_text(json.dumps({"manifest": {**manifest, "manifest_version": 7}}),
                          encoding="utf-8")
        expected = f"{target}: manifest_version 7 is not one this bot-core reads (1)"
    else:
        good = _backtest(run_cli, "--dataset", DEMO, out=target)
        if case == "field":
            good["manifest"]["outcome"]["steps"] = "many"
            expected = f"{target}: manifest field outcome.steps: Input should be a valid integer"
        else:
            good["manifest"]["datasets"][0]["id"] = "gone"
            expected = f"{target}: dataset gone of the recorded run: unknown dataset 'gone'"
        target.write_text(json.dumps(good), encoding="utf-8")
    proc = run_cli("rerun", str(target))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {expected}"), lines
    assert proc.stdout == "" and "Traceback" not in proc.stderr
