"""Error-free summation shared by the kernels.

Every running sum in :mod:`bot_core.kernels` is a Neumaier-style pair ``(s, c)``: ``s`` is the
plain floating-point sum and ``c`` collects, exactly, the rounding error of every addition (the
TwoSum error term). ``s + c`` is then as accurate as a sum computed in about twice the working
precision, whatever the number of additions and removals, while the dependency chain on ``s``
stays one addition long, so a kernel using it runs at memory speed.
"""

from __future__ import annotations

from numba import njit

__all__ = ["two_sum_add"]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def two_sum_add(s: float, c: float, v: float) -> tuple[float, float]:
    """Add ``v`` to the compensated sum ``(s, c)``; return the new pair.

    Knuth's branch-free TwoSum: ``err`` is exactly ``(s + v) - fl(s + v)``.
    """
    t = s + v
    bp = t - s
    err = (s - (t - bp)) + (v - bp)
    return t, c + err
