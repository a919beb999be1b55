"""Error-free arithmetic shared by the kernels.

Every running sum in :mod:`bot_core.kernels` is a Neumaier-style pair ``(s, c)``: ``s`` is the
plain floating-point sum and ``c`` collects, exactly, the rounding error of every addition (the
TwoSum error term). ``s + c`` is then as accurate as a sum computed in about twice the working
precision, whatever the number of additions and removals.

A rolling window adds one value and removes another on every bar. :func:`exact_difference`
folds the two into one addend ``a`` plus its exact rounding error ``e``; it depends only on the
two values, not on the running sum, so batch kernels compute it for a whole block at once in
vector registers, and the sequential part is a single :func:`accumulate` per sum.

Nothing here is compiled with ``fastmath``: every operation is IEEE-rounded the same way in a
vector loop and in a scalar call, which is what keeps the batch kernels and the incremental
classes bit-for-bit equal.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

__all__ = ["accumulate", "exact_difference", "fma", "two_sum_add"]


@intrinsic
def _fma(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context: Any, builder: ir.IRBuilder, signature: Any, args: Any) -> Any:
        return builder.fma(*args)

    return sig, codegen


def fma(a: float, b: float, c: float) -> float:
    """``a * b + c`` rounded once.

    In compiled code this is LLVM's ``llvm.fma``: one instruction where the CPU has FMA, a
    correctly rounded library call where it does not, so the result is the same everywhere. A
    recurrence ``y = y * decay + x`` through ``fma`` has half the latency of a multiply followed
    by an add, which is what bounds an EWMA's speed. Called from Python (or with
    ``NUMBA_DISABLE_JIT=1``) it computes the same correctly rounded value with exact fractions.
    """
    if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(c)):
        return a * b + c
    return float(Fraction(a) * Fraction(b) + Fraction(c))


@overload(fma, inline="always")
def _fma_overload(a: Any, b: Any, c: Any) -> Any:
    # numba compares the two signatures, annotations included
    def compiled(a: Any, b: Any, c: Any) -> Any:
        return _fma(float(a), float(b), float(c))  # type: ignore[call-arg]

    return compiled


@njit(cache=True, nogil=True, error_model="numpy")
def two_sum_add(s: float, c: float, v: float) -> tuple[float, float]:
    """Add ``v`` to the compensated sum ``(s, c)``; return the new pair.

    Knuth's branch-free TwoSum: ``err`` is exactly ``(s + v) - fl(s + v)``.
    """
    t = s + v
    bp = t - s
    err = (s - (t - bp)) + (v - bp)
    return t, c + err


@njit(cache=True, nogil=True, error_model="numpy")
def exact_difference(p: float, q: float) -> tuple[float, float]:
    """``(a, e)`` with ``a = fl(p - q)`` and ``a + e == p - q`` exactly (TwoSum of p and -q)."""
    a = p - q
    bp = a - p
    return a, (p - (a - bp)) + (-q - bp)


@njit(cache=True, nogil=True, error_model="numpy")
def accumulate(s: float, c: float, a: float, e: float) -> tuple[float, float]:
    """Add ``a + e`` (an addend and its exact error term) to the compensated sum ``(s, c)``."""
    t = s + a
    bp = t - s
    return t, c + (((s - (t - bp)) + (a - bp)) + e)
