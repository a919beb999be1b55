"""Memory for the arrays a backtest run writes once: without numpy's huge-page advice.

numpy asks the OS for transparent huge pages (``madvise(MADV_HUGEPAGE)``) on every array of
4 MB or more. Where the kernel must compact memory to find one (the common ``defrag =
madvise`` setting, in a process whose heap earlier runs have fragmented), each 2 MB page's
first touch can cost milliseconds: 3 - 4 ms on the development VM, about 15 ms per
million-bar column (docs/performance.md, "Stop 17"). A run's equity curve, entry log and index
arrays are written once, front to back, which huge pages do not speed up: :func:`run_array`
allocates them through Numba's allocator (the C library's ``malloc``, no advice), on ordinary
pages. The signal kernels keep numpy's allocation: their outputs of tens of MB are mapped fresh
and were faster on huge pages in their benchmark (the same section).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

__all__ = ["run_array", "run_range"]

_ALIGN = 64
"""Bytes: a cache line (numpy's own arrays are at least 16-byte aligned)."""


@njit(cache=True, nogil=True)
def _raw(nbytes: int) -> np.ndarray:
    return np.empty(nbytes, np.uint8)


def run_array(shape: int | tuple[int, ...], dtype: Any = np.float64,
              fill: Any = None) -> np.ndarray:
    """A new C-contiguous, writable array of ``shape`` and ``dtype`` (filled with ``fill``
    when given, else uninitialised, as ``np.empty``), on ordinary pages."""
    dtype = np.dtype(dtype)
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    nbytes = math.prod(dims) * dtype.itemsize
    raw: np.ndarray = _raw(nbytes + _ALIGN)
    start = -raw.ctypes.data % _ALIGN
    out: np.ndarray = raw[start:start + nbytes].view(dtype).reshape(dims)
    if fill is not None:
        out.fill(fill)
    return out


@njit(cache=True, nogil=True)
def run_range(n: int) -> np.ndarray:
    """``np.arange(n)`` (int64) on ordinary pages."""
    out = np.empty(n, np.int64)
    for i in range(n):
        out[i] = i
    return out
