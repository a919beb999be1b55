"""Sweeps on a real Dask cluster: a ``dask scheduler`` and ``dask worker`` processes started
here on 127.0.0.1 (ports chosen by the OS, no dashboard), bounded in time and always stopped.

The same sweep gives identical results locally and on Dask; a worker without a plugin is
named and left out; a worker killed (SIGKILL) in the middle of a sweep loses no result.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import comparable, payload, read_results

pytest.importorskip("distributed", reason="the Dask tests need bot-core[dask]")

GRID = ("--grid", "window_bars=60,120,240", "--grid", "entry_z=2,2.5,3")
START_TIMEOUT_S = 90.0


@dataclass
class Cluster:
    directory: Path
    address: str = ""
    addresses: list[str] = field(default_factory=list)
    """The two workers every test shares."""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self, name: str, env: dict[str, str] | None = None, *,
                     nanny: bool = False) -> subprocess.Popen[bytes]:
        log = (self.directory / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "dask", "worker", self.address, "--host", "127.0.0.1",
             "--nthreads", "1", "--nanny" if nanny else "--no-nanny", "--no-dashboard",
             "--name", name,
             "--death-timeout", "60", "--local-directory", str(self.directory / name)],
            env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(proc)
        return proc

    def wait_for_workers(self, n: int) -> list[str]:
        """Addresses of the workers, once exactly ``n`` are connected."""
        from distributed import Client

        with Client(self.address, timeout=f"{START_TIMEOUT_S}s") as client:
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline:
                workers = client.scheduler_info(n_workers=-1)["workers"]
                if len(workers) == n:
                    return sorted(workers)
                time.sleep(0.2)
        pytest.fail(f"{n} Dask workers did not connect within {START_TIMEOUT_S} s")

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A scheduler and two workers on loopback, for every test of this module."""
    directory = tmp_path_factory.mktemp("dask")
    cluster = Cluster(directory)
    info = directory / "scheduler.json"
    log = (directory / "scheduler.log").open("wb")
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
         "--no-dashboard", "--scheduler-file", str(info)], stdout=log, stderr=subprocess.STDOUT)
    cluster.processes.append(scheduler)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not cluster.address:
            if scheduler.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the Dask scheduler did not start: "
                            + (directory / "scheduler.log").read_text(errors="replace"))
            if info.exists():
                with contextlib.suppress(json.JSONDecodeError, KeyError):
                    cluster.address = json.loads(info.read_text())["address"]
            time.sleep(0.1)
        assert cluster.address.startswith("tcp://127.0.0.1:")
        for n in (1, 2):
            cluster.start_worker(f"worker-{n}")
        cluster.addresses = cluster.wait_for_workers(2)
        yield cluster
    finally:
        for proc in reversed(cluster.processes):
            cluster.stop(proc)


@pytest.fixture(scope="module")
def local_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, ...]]:
    """The test grid run locally (by the CLI, in a subprocess)."""
    from .conftest import DEMO_CONFIG

    directory = tmp_path_factory.mktemp("local")
    config = directory / "bot.toml"
    config.write_text(DEMO_CONFIG, encoding="utf-8")
    out = directory / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "bot_core", "sweep", "--config", str(config), "--strategy",
         "mean_reversion", "--dataset", "demo-btc-usdt-1m", *GRID, "--workers", "2", "--out",
         str(out), "--json"],
        env={**os.environ, "BOT_CORE_HOME": str(directory / "home")}, capture_output=True,
        text=True, timeout=300, check=False)
    assert payload(proc)["failed"] == 0
    return comparable(read_results(out))


def test_the_same_sweep_locally_and_on_dask_gives_identical_results(
        cluster, local_results, sweep_cli, tmp_path) -> None:
    out = tmp_path / "dask"
    # the scheduler from BOT_CORE_DASK_SCHEDULER, as a user's environment would give it
    result = payload(sweep_cli(*GRID, "--executor", "dask", "--out", str(out), "--json",
                               env={"BOT_CORE_DASK_SCHEDULER": cluster.address}))
    assert result["failed"] == 0 and result["runs"] == 9
    assert result["executor"] == f"dask {cluster.address}, 2 workers"
    rows = read_results(out)
    assert comparable(rows) == local_results
    assert {r["worker"] for r in rows} <= set(cluster.wait_for_workers(2))


def test_a_worker_without_a_plugin_is_named_and_left_out(cluster, local_results, sweep_cli,
                                                         tmp_path) -> None:
    lacking = cluster.start_worker("without-mean-reversion",
                                   env={"BOT_CORE_DISABLE_PLUGINS": "mean_reversion"})
    try:
        before = set(cluster.wait_for_workers(2 + 1))
        out = tmp_path / "partial"
        proc = sweep_cli(*GRID, "--executor", "dask", "--scheduler", cluster.address,
                         "--workers", "3", "--out", str(out), "--json")
        result = payload(proc)
        notes = [line for line in proc.stderr.splitlines() if "without-mean-reversion" in line]
        assert len(notes) == 1, proc.stderr
        assert notes[0].startswith("warning: worker tcp://127.0.0.1:")
        assert notes[0].endswith("(without-mean-reversion): strategy mean_reversion: "
                                 "bot-core-mean-reversion 0.1.0 is blocked: listed in "
                                 "BOT_CORE_DISABLE_PLUGINS; left out")
        assert result["notes"] == [notes[0].removeprefix("warning: ")]
        assert result["executor"].endswith(", 2 workers")
        rows = read_results(out)
        assert comparable(rows) == local_results
        lacking_address = notes[0].split()[2]
        assert lacking_address in before
        assert lacking_address not in {r["worker"] for r in rows}
    finally:
        cluster.stop(lacking)
    cluster.wait_for_workers(2)


def test_a_worker_killed_mid_sweep_loses_nothing(cluster, local_results, sweep_cli,
                                                 tmp_path) -> None:
    # this worker kills itself (SIGKILL) when it starts replaying its first run
    doomed = cluster.start_worker("doomed", env={"BOT_CORE_FAULT_POINT": "mid_sweep_run"})
    try:
        cluster.wait_for_workers(2 + 1)
        out = tmp_path / "killed"
        result = payload(sweep_cli(*GRID, "--executor", "dask", "--scheduler", cluster.address,
                                   "--workers", "3", "--out", str(out), "--json"))
        assert doomed.wait(timeout=60) == -9  # it did die, mid-run, by SIGKILL
        errors = {r["key"]: r["error"] for r in read_results(out) if r["error"]}
        assert result["failed"] == 0 and result["runs"] == 9, errors
        assert comparable(read_results(out)) == local_results
    finally:
        cluster.stop(doomed)
    cluster.wait_for_workers(2)


ONE_RUN = ("--grid", "window_bars=60", "--grid", "entry_z=2")


def test_a_worker_under_a_nanny_is_named_for_its_malloc_trim_threshold(
        cluster, sweep_cli, tmp_path) -> None:
    # a default `dask worker` (with its nanny) runs with MALLOC_TRIM_THRESHOLD_ set
    nannied = cluster.start_worker("with-nanny", nanny=True)
    try:
        added = set(cluster.wait_for_workers(2 + 1)) - set(cluster.addresses)
        result = payload(sweep_cli(*ONE_RUN, "--executor", "dask", "--scheduler",
                                   cluster.address, "--workers", "3", "--out",
                                   str(tmp_path / "out"), "--json"))
        assert result["failed"] == 0
        assert [n for n in result["notes"] if "MALLOC_TRIM_THRESHOLD_" in n] == [
            "1 of 3 workers run with MALLOC_TRIM_THRESHOLD_ set (the Dask nanny's default), "
            "which makes every run about 25 % slower; unset it in their Dask config "
            f"(docs/sweeps.md, 'Worker memory'): {added.pop()}"]
    finally:
        cluster.stop(nannied)
    cluster.wait_for_workers(2)


def test_the_local_cluster_runs_its_workers_without_the_malloc_trim_threshold(
        sweep_cli, tmp_path) -> None:
    result = payload(sweep_cli(*ONE_RUN, "--executor", "dask", "--workers", "1", "--out",
                               str(tmp_path / "out"), "--json"))
    assert result["failed"] == 0 and result["runs"] == 1
    assert result["executor"] == "dask local cluster on 127.0.0.1, 1 worker"
    assert result["notes"] == []
