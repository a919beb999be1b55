"""bot_core.memory: arrays on ordinary pages behave as numpy's own."""

from __future__ import annotations

import numpy as np
import pytest

from bot_core.backtest.kernel import ENTRY, MARKS
from bot_core.memory import run_array, run_range


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.bool_, ENTRY, MARKS])
@pytest.mark.parametrize("shape", [0, 1, 7, (5, 3), (0, 2)])
def test_run_array_is_a_writable_aligned_c_array_of_the_asked_shape(shape, dtype) -> None:
    out = run_array(shape, dtype)
    assert out.shape == ((shape,) if isinstance(shape, int) else shape)
    assert out.dtype == np.dtype(dtype)
    assert out.flags.c_contiguous and out.flags.writeable and out.flags.aligned
    assert out.size == 0 or out.ctypes.data % 64 == 0  # (an empty array points anywhere)
    out[...] = np.zeros((), dtype=dtype)  # every byte of it is writable
    assert out.nbytes == np.zeros(shape, dtype=dtype).nbytes


def test_run_array_fills_when_asked_and_owns_separate_memory() -> None:
    first = run_array(1000, np.float64, np.nan)
    second = run_array(1000, np.float64, 2.5)
    assert np.isnan(first).all() and (second == 2.5).all()
    assert not np.shares_memory(first, second)
    assert (run_array(3, np.bool_, False) == np.zeros(3, dtype=bool)).all()


def test_run_range_is_arange() -> None:
    for n in (0, 1, 1000):
        out = run_range(n)
        assert out.dtype == np.int64
        np.testing.assert_array_equal(out, np.arange(n))
