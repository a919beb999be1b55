"""bot_core.helpers: one pool of helper threads for the process, safe to use from its own
threads and after a fork."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys

import numpy as np
import pytest

from bot_core.helpers import helper_pool, in_helper
from bot_core.kernels import rolling_zscore
from bot_core.kernels._segments import ANCHOR

SERIES = np.cumsum(np.random.default_rng(3).normal(0.0, 1.0, 3 * ANCHOR + 17)) + 1e4


def test_the_pool_is_made_once_and_knows_its_threads() -> None:
    assert helper_pool() is helper_pool()
    assert not in_helper()
    assert helper_pool().submit(in_helper).result(timeout=30)


ON_HELPERS = """
import numpy as np
from bot_core import helpers
from bot_core.kernels import ewma_vol, rolling_zscore
series = np.cumsum(np.random.default_rng(3).normal(0.0, 1.0, 200_017)) + 1e4
expected = rolling_zscore(series, 50, workers=1), ewma_vol(series, 0.05, workers=1)
def on_helper():
    return (rolling_zscore(series, 50, workers=4), ewma_vol(series, 0.05, workers=2),
            helpers.in_helper())
# as many at once as the pool has threads: kernels that queued their segments would each hold
# a thread waiting on work that no free thread is left to run
futures = [helpers.helper_pool().submit(on_helper) for _ in range(helpers._MAX_THREADS)]
for future in futures:
    z, vol, inside = future.result()
    assert inside
    np.testing.assert_array_equal(z, expected[0])
    np.testing.assert_array_equal(vol, expected[1])
print("same on every helper")
"""


def test_kernels_called_on_a_helper_thread_run_there_with_the_same_result() -> None:
    # in a process of its own: a deadlocked pool would keep this one from exiting
    done = subprocess.run([sys.executable, "-c", ON_HELPERS], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "same on every helper"


def _child(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    z = rolling_zscore(SERIES, 50, workers=2)
    queue.put(bool(np.array_equal(z, rolling_zscore(SERIES, 50, workers=1), equal_nan=True)))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_a_forked_child_starts_a_pool_of_its_own() -> None:
    rolling_zscore(SERIES, 50, workers=2)  # the parent's pool is running
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(queue,))
    child.start()
    try:
        assert queue.get(timeout=30) is True  # the parent's pool object would queue forever
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
