"""The replay kernel compiled ahead in a helper process on a cold cache: the helper compiles
exactly the kernel a real run calls, the run then loads it from the cache, and a command that
ends early leaves no helper behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numba
import psutil
import pytest

import bot_core
from bot_core.backtest import ahead
from bot_core.backtest import kernel as kernel_module
from bot_core.backtest.driver import run_backtest
from bot_core.backtest.plan import plan_backtest

two_cpus = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2 if hasattr(os, "sched_getaffinity") else True,
    reason="the helper runs only where a second CPU can take it")


def test_the_helper_compiles_the_kernel_of_a_real_run(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    real = kernel_module.replay_bars

    def watched(*args: Any) -> Any:
        seen.append(tuple(numba.typeof(a) for a in args))
        return real(*args)

    monkeypatch.setattr(kernel_module, "replay_bars", watched)
    host = bot_core.load_plugins()
    # the shipped dataset as a user runs it (parquet from the library: read-only columns)
    plan = plan_backtest(host, strategies=["mean_reversion", "vol_target"],
                         datasets=["demo-btc-usdt-1m", "demo-eth-usdt-1m"], preset="balanced")
    result = run_backtest(plan, host)
    assert result.path == "compiled" and seen
    assert seen[0] == tuple(numba.typeof(a) for a in ahead.tiny_inputs())


@two_cpus
def test_a_cold_cache_gets_the_kernel_from_the_helper(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        from bot_core.backtest import ahead
        from bot_core.backtest.kernel import replay_bars
        assert not ahead.kernel_cached()
        assert not ahead.start(["ohlcv", "quotes"])  # a quotes strategy: never compiled
        assert ahead.start(["ohlcv"])
        assert ahead.running()  # compiling for seconds: the command warms its curve passes
        from bot_core.backtest.curve import warm
        warm()
        ahead.wait()
        assert not ahead.running()
        assert ahead.kernel_cached() and not ahead.start()  # cached now: no second helper
        replay_bars(*ahead.tiny_inputs())
        stats = replay_bars.stats
        print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=600, env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "0"]  # loaded from the helper's cache, not compiled


@two_cpus
def test_a_command_that_fails_after_starting_the_helper_leaves_none(
        tmp_path: Path, run_cli: Any) -> None:
    cache = tmp_path / "numba"
    result = run_cli("backtest", "--strategy", "mean_reversion", "--dataset", "no-such-data",
                     env={"NUMBA_CACHE_DIR": str(cache)})
    assert result.returncode == 2 and "no-such-data" in result.stderr
    left = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if "bot_core.backtest.ahead" in " ".join(proc.info["cmdline"] or []) and \
                    proc.environ().get("NUMBA_CACHE_DIR") == str(cache):
                left.append(proc)
        except psutil.Error:
            continue
    assert not left, "a helper outlived its command"
