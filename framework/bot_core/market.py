"""Market data events and instrument symbols.

These are the per-event types of the live path. Backtests hold the same data as columns of
arrays (see :mod:`bot_core.data`); a strategy sees one ``Bar`` or ``Quote`` at a time either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SYMBOL_PATTERN", "Bar", "Quote", "split_symbol"]

SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$")
"""Instrument symbols are ``BASE/QUOTE`` in upper case, e.g. ``BTC/USDT``."""


def split_symbol(symbol: str) -> tuple[str, str]:
    """Split ``BASE/QUOTE`` into its two assets; raise ``ValueError`` naming the symbol if malformed."""
    if not SYMBOL_PATTERN.match(symbol):
        raise ValueError(
            f"instrument {symbol!r} is not of the form BASE/QUOTE (upper-case letters and digits)"
        )
    base, quote = symbol.split("/")
    if base == quote:
        raise ValueError(f"instrument {symbol!r} has the same base and quote asset")
    return base, quote


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar. ``ts_ns`` is the bar's open time in UTC nanoseconds since the epoch."""

    venue: str
    instrument: str
    ts_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book on one venue at ``ts_ns`` (UTC nanoseconds)."""

    venue: str
    instrument: str
    ts_ns: int
    bid: float
    ask: float
    bid_size: float
    ask_size: float
