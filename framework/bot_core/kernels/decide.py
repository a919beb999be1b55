"""The compiled form of a bar strategy's decision rule (the batch contract, docs/plugins.md).

A strategy that offers the batch contract writes its per-bar decision once, as a Numba function
compiled with :data:`DECIDE_SIGNATURE`::

    @njit(DECIDE_SIGNATURE, cache=True, nogil=True)
    def decide(signal, close, position, equity, state, params):
        ...
        return target, reason

* ``signal``: this bar's row of the strategy's ``signal(frame)`` (float64, one or more columns);
* ``close``: the bar's close; ``position``: this strategy's position in the instrument at the
  venue (base units, signed); ``equity``: the bot's equity now (quote currency);
* ``state``: this strategy's float64 state for the instrument (zeros before the first bar; the
  rule updates it in place); ``params``: its settings as a float64 vector;
* returns the target position (NaN: no decision, nothing is traded) and a reason code (an
  index into the rule's ``reasons``: the tag of the order it causes; 0 for an order that only
  brings the position back to a target decided before, tagged ``resync``).

The host calls it from ``Strategy.on_bar`` (live trading, paper, the event path of a backtest)
and from the compiled replay of a backtest, bar by bar, with the same arguments: the two agree
by construction. :func:`decide_path` runs a rule over a whole series from flat, every target
reached at once, for tests and analysis.

Importing this module imports numba.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, types
from numba.core.typing.templates import Signature
from numba.typed import List

__all__ = ["DECIDE_SIGNATURE", "DECIDE_TYPE", "decide_list", "decide_path"]

_tuple: Any = types.Tuple  # numba's type constructors are untyped
DECIDE_SIGNATURE: Signature = _tuple((types.float64, types.int64))(
    types.float64[::1], types.float64, types.float64, types.float64, types.float64[::1],
    types.float64[::1])
"""``decide(signal, close, position, equity, state, params) -> (target, reason)``."""
DECIDE_TYPE = types.FunctionType(DECIDE_SIGNATURE)
"""The type of a compiled ``decide`` as the replay kernel receives it (a function pointer: the
kernel is compiled once for every rule)."""


_list_type: Any = types.ListType  # numba's type constructors are untyped
_LIST_TYPE = _list_type(DECIDE_TYPE)
_FIRST: Signature = _LIST_TYPE(DECIDE_TYPE)
_APPEND: Signature = types.none(_LIST_TYPE, DECIDE_TYPE)


@njit(_FIRST, cache=True, nogil=True)
def _first(decide: Any) -> Any:
    rules = List.empty_list(DECIDE_TYPE)
    rules.append(decide)
    return rules


@njit(_APPEND, cache=True, nogil=True)
def _append(rules: Any, decide: Any) -> None:
    rules.append(decide)


def decide_list(rules: list[Any]) -> Any:
    """Compiled rules as the typed list of function pointers the replay kernel reads (built by
    cached functions: ``numba.typed.List`` would compile its own methods in every process)."""
    out = _first(rules[0])
    for decide in rules[1:]:
        _append(out, decide)
    return out


def decide_path(decide: Any, signal: np.ndarray, close: np.ndarray, equity: float,
                state_size: int, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The position after every bar and the reason code of every decision, from flat, when
    each target is reached at once and equity stays ``equity``: what ``on_bar`` decides bar by
    bar with orders that fill at once (``bot_core.testing.run_bars``).

    :param decide: a rule compiled with :data:`DECIDE_SIGNATURE`.
    :param signal: (bars,) or (bars, columns) float64, the strategy's ``signal(frame)``.
    :param close: (bars,) closes.
    """
    rows = np.ascontiguousarray(np.asarray(signal, dtype=np.float64).reshape(len(close), -1))
    # through a typed list, as the replay kernel receives it: one compiled path for every rule
    targets, reasons = _run(decide_list([decide]), rows, np.ascontiguousarray(close, dtype=np.float64),
                            float(equity), np.zeros(state_size),
                            np.ascontiguousarray(params, dtype=np.float64))
    return targets, reasons


@njit(cache=True, nogil=True)
def _run(rules: Any, signal: np.ndarray, close: np.ndarray, equity: float, state: np.ndarray,
         params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    decide = rules[0]
    size = close.shape[0]
    targets = np.empty(size)
    reasons = np.empty(size, dtype=np.int64)
    position = 0.0
    for i in range(size):
        target, reason = decide(signal[i], close[i], position, equity, state, params)
        if target == target:  # a decision: reached at once
            position = target
        targets[i] = position
        reasons[i] = reason
    return targets, reasons
