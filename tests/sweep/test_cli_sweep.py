"""``bot-core sweep`` end to end, in a subprocess: a sweep cell is the single ``bot-core
backtest`` with those parameters (its recorded command reruns it), the files it writes,
walk-forward without look-ahead, refusals before anything is written, Ctrl-C keeping the
finished runs, ``--resume``, and local workers killed mid-sweep."""

from __future__ import annotations

import itertools
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import comparable, payload, read_results

PNG = b"\x89PNG\r\n\x1a\n"
METRICS = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate", "exposure",
           "turnover", "fees", "n_trades", "final_equity")


def test_a_sweep_cell_is_the_single_backtest_with_those_parameters(sweep_cli, run_cli,
                                                                   demo_config, tmp_path) -> None:
    out = tmp_path / "sweep"
    result = payload(sweep_cli("--grid", "window_bars=60,120", "--grid", "entry_z=2,2.5",
                               "--param", "stop_loss_pct=3", "--fee-bps", "4", "--workers", "2",
                               "--out", str(out), "--json"))
    assert result["runs"] == 4 and result["failed"] == 0
    sharpes = [r["sharpe"] for r in result["top"]]
    assert sharpes == sorted(sharpes, reverse=True)  # ranked by --metric (sharpe)
    rows = {r["key"]: r for r in read_results(out)}  # in the order the runs finished
    assert set(rows) == {"window_bars=60 entry_z=2", "window_bars=60 entry_z=2.5",
                         "window_bars=120 entry_z=2", "window_bars=120 entry_z=2.5"}
    row = rows["window_bars=120 entry_z=2.5"]
    single = payload(run_cli("backtest", "--config", str(demo_config), "--strategy",
                             "mean_reversion", "--dataset", "demo-btc-usdt-1m",
                             "--param", "window_bars=120", "--param", "entry_z=2.5",
                             "--param", "stop_loss_pct=3", "--fee-bps", "4", "--json"))
    for name in METRICS:
        assert float(row[name]) == single[name], name
    assert int(row["n_fills"]) == single["n_fills"]
    assert int(row["approved"]) == single["risk"]["verdicts"].get("approve", 0)
    assert (row["start"], row["end"], row["path"]) == (single["start"], single["end"],
                                                       single["path"])
    # what the row records is enough to run it again alone
    words = shlex.split(row["rerun"])
    assert words[:2] == ["bot-core", "backtest"]
    again = payload(run_cli(*words[1:], "--json"))
    assert again["total_return"] == single["total_return"]
    assert again["sharpe"] == single["sharpe"]
    manifest = payload(run_cli("data", "list", "--json"))
    sha = next(d["sha256"] for d in (manifest if isinstance(manifest, list) else
                                     manifest["datasets"]) if d["id"] == "demo-btc-usdt-1m")
    assert json.loads(row["datasets"]) == {"demo-btc-usdt-1m": sha}
    plugins = json.loads(row["plugins"])
    assert {"bot-core", "bot-core-mean-reversion", "bot-core-paper",
            "bot-core-risk-checks"} <= set(plugins)
    assert (out / "heatmap.png").read_bytes().startswith(PNG)
    assert result["files"]["heatmap"] == str(out / "heatmap.png")
    import pandas as pd

    parquet = pd.read_parquet(out / "results.parquet")
    assert parquet["key"].tolist() == ["window_bars=60 entry_z=2", "window_bars=60 entry_z=2.5",
                                       "window_bars=120 entry_z=2",
                                       "window_bars=120 entry_z=2.5"]  # grid order
    assert parquet["sharpe"].tolist() == [float(rows[k]["sharpe"]) for k in parquet["key"]]


def test_walk_forward_chooses_in_sample_and_tests_on_unseen_data(sweep_cli, tmp_path) -> None:
    out = tmp_path / "wf"
    result = payload(sweep_cli("--grid", "window_bars=60,240", "--walk-forward", "10d:5d",
                               "--metric", "total_return", "--workers", "2", "--out", str(out),
                               "--json"))
    rows = read_results(out)
    windows = result["walk_forward"]
    assert [w["window"] for w in windows] == [0, 1, 2, 3]
    assert result["runs"] == 2 * 4 + 4 and result["failed"] == 0
    for w in windows:
        train = [r for r in rows if r["phase"] == "train" and r["window"] == str(w["window"])]
        test = [r for r in rows if r["phase"] == "test" and r["window"] == str(w["window"])]
        assert len(train) == 2 and len(test) == 1
        # no look-ahead: every training bar is before the test period, every test bar in it
        assert all(r["end"] < w["test_start"] and r["start"] >= w["train_start"]
                   for r in train)
        assert w["test_start"] <= test[0]["start"] and test[0]["end"] < w["test_end"]
        best = max(train, key=lambda r: float(r["total_return"]))
        assert json.loads(test[0]["params"]) == json.loads(best["params"])
        assert w["params"] == best["params"]
        assert w["in_sample_total_return"] == float(best["total_return"])
        assert w["out_of_sample_total_return"] == float(test[0]["total_return"])
    for a, b in itertools.pairwise(windows):
        assert a["test_end"] <= b["test_start"]
    import pandas as pd

    curve = pd.read_csv(out / "oos_equity.csv")
    assert curve["time"].is_monotonic_increasing and curve["time"].is_unique
    assert curve["time"].iloc[0] >= windows[0]["test_start"]
    returns = [1 + w["out_of_sample_total_return"] for w in windows]
    expected = 100_000.0
    for r in returns:
        expected *= r
    assert curve["equity"].iloc[-1] == pytest.approx(expected, rel=1e-12)
    assert result["out_of_sample"]["total_return"] == pytest.approx(expected / 1e5 - 1,
                                                                    rel=1e-9)
    assert (out / "oos_equity.png").read_bytes().startswith(PNG)


@pytest.mark.parametrize(("args", "message"), [
    (["--grid", "window_bars=1,60"],
     "error: --grid window_bars=1: mean_reversion: Input should be greater than or equal to 2"),
    (["--grid", "lookback=5"], "error: --grid lookback: no selected strategy has this parameter"),
    (["--grid", "window_bars=abc"], "error: --grid window_bars=abc: mean_reversion: Input "
                                    "should be a valid integer"),
    (["--grid", "window_bars=90:30:10"], "error: --grid window_bars=90:30:10: empty range"),
    (["--grid", "window_bars=2:1001:1", "--grid", "entry_z=0.1:10.1:0.1"],
     "error: --grid: 101,000 runs (1000 x 101 grid); more than 100,000 needs --yes"),
    (["--grid", "window_bars=60", "--walk-forward", "20d:5d:2d"],
     "error: --walk-forward 20d:5d:2d: STEP (2d) is shorter than TEST (5d)"),
    (["--grid", "window_bars=60", "--metric", "luck"], "error: --metric luck: choose one of"),
    (["--grid", "window_bars=60", "--executor", "dask", "--scheduler", "localhost"],
     "error: --scheduler localhost: expected an address such as tcp://HOST:PORT"),
])
def test_bad_sweeps_are_refused_before_anything_is_written(sweep_cli, tmp_path, args,
                                                           message) -> None:
    out = tmp_path / "never"
    proc = sweep_cli(*args, "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(message), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def _wait_for_rows(path: Path, rows: int, proc: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text(encoding="utf-8").count("\n") > rows:
            return
        if proc.poll() is not None:
            pytest.fail(f"sweep ended early: {proc.communicate()}")
        time.sleep(0.02)
    pytest.fail(f"no {rows} result rows within {timeout} s")


def test_ctrl_c_keeps_finished_runs_and_resume_finishes_the_rest(sweep_cli, demo_config,
                                                                 bot_core_home, tmp_path) -> None:
    out = tmp_path / "ctrl-c"
    grid = ["--grid", "window_bars=30:240:30", "--grid", "entry_z=1.5,2,2.5"]  # 24 runs
    datasets = "demo-btc-usdt-1m,demo-eth-usdt-1m,demo-sol-usdt-1m"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot_core", "sweep", "--config", str(demo_config), "--strategy",
         "mean_reversion", "--dataset", datasets, *grid, "--workers", "2", "--out", str(out)],
        env={**os.environ, "BOT_CORE_HOME": str(bot_core_home)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_rows(out / "results.csv", 2, proc, timeout=120)
        proc.send_signal(signal.SIGINT)
        _stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert f"runs finished and kept in {out}" in stderr
    assert f"--resume {out}` continues" in stderr
    assert "Traceback" not in stderr
    kept = read_results(out)
    assert 2 <= len(kept) < 24
    text = (out / "results.csv").read_text(encoding="utf-8")
    assert text.endswith("\n")
    resumed = sweep_cli(*grid, "--workers", "2", "--resume", str(out), "--json",
                        dataset=datasets)
    result = payload(resumed)
    assert result["resumed"] == len(kept)
    assert result["runs"] == 24 and result["failed"] == 0
    final = comparable(read_results(out))
    assert len(final) == 24
    assert all(final[r["key"]] == comparable([r])[r["key"]] for r in kept)


def test_local_workers_killed_mid_sweep_lose_nothing(sweep_cli, tmp_path) -> None:
    # every worker process kills itself (SIGKILL) on its third run: the pool breaks, is started
    # again, and the runs that had not finished run on the new one
    grid = ["--grid", "window_bars=60,120", "--grid", "entry_z=2,2.5"]
    killed = tmp_path / "killed"
    proc = sweep_cli(*grid, "--workers", "1", "--out", str(killed), "--json",
                     env={"BOT_CORE_FAULT_POINT": "mid_sweep_run:3"})
    result = payload(proc)
    assert result["failed"] == 0 and result["runs"] == 4
    calm = tmp_path / "calm"
    payload(sweep_cli(*grid, "--workers", "1", "--out", str(calm), "--json"))
    assert comparable(read_results(killed)) == comparable(read_results(calm))
    workers = {r["worker"] for r in read_results(killed)}
    assert len(workers) == 2  # a first process did two runs, a second one the other two


def test_a_killed_sweep_leaves_no_worker_behind_and_resumes(sweep_cli, demo_config,
                                                            bot_core_home, tmp_path) -> None:
    import psutil

    out = tmp_path / "kill-9"
    grid = ["--grid", "window_bars=30:240:30", "--grid", "entry_z=1.5,2,2.5"]  # 24 runs
    datasets = "demo-btc-usdt-1m"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot_core", "sweep", "--config", str(demo_config), "--strategy",
         "mean_reversion", "--dataset", datasets, *grid, "--workers", "2", "--out", str(out)],
        env={**os.environ, "BOT_CORE_HOME": str(bot_core_home)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        _wait_for_rows(out / "results.csv", 1, proc, timeout=120)  # type: ignore[arg-type]
        workers = psutil.Process(proc.pid).children(recursive=True)
        assert workers
        proc.kill()
        proc.wait(timeout=30)
        _, alive = psutil.wait_procs(workers, timeout=15)
        assert not alive, f"workers left running: {[p.pid for p in alive]}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    kept = read_results(out)
    result = payload(sweep_cli(*grid, "--workers", "2", "--resume", str(out), "--json",
                               dataset=datasets))
    assert result["resumed"] == len(kept) and result["runs"] == 24 and result["failed"] == 0
