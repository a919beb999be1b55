"""The normalized dataset format: kinds, columns, timeframes and limits.

A normalized file has a ``timestamp`` column of integer milliseconds since the Unix epoch (UTC,
unambiguous and about twenty times faster to parse than ISO strings) followed by the float
columns of its kind, in this order. Everything that reads or writes datasets takes the column
names from here so the format has one definition.
"""

from __future__ import annotations

import os
from typing import Literal

from bot_core.errors import DataError

__all__ = [
    "COLUMNS",
    "DEFAULT_MAX_BYTES",
    "FILE_FORMATS",
    "KINDS",
    "MAX_BYTES_ENV",
    "PRICE_COLUMNS",
    "TIMEFRAME_MS",
    "TIMESTAMP",
    "FileFormat",
    "Kind",
    "columns_of",
    "max_bytes",
    "timeframe_ms",
]

Kind = Literal["ohlcv", "quotes"]
KINDS: tuple[Kind, ...] = ("ohlcv", "quotes")

FileFormat = Literal["csv", "csv.gz", "parquet"]
FILE_FORMATS: tuple[FileFormat, ...] = ("csv", "csv.gz", "parquet")
"""Storage formats of normalized files, named by their file suffix."""

TIMESTAMP = "timestamp"
"""Name of the time column: integer epoch milliseconds in files, a UTC DatetimeIndex in frames."""

COLUMNS: dict[str, tuple[str, ...]] = {
    "ohlcv": ("open", "high", "low", "close", "volume"),
    "quotes": ("bid", "ask", "bid_size", "ask_size"),
}
"""Value columns of each kind, in file order (all float64)."""

PRICE_COLUMNS: dict[str, tuple[str, ...]] = {
    "ohlcv": ("open", "high", "low", "close"),
    "quotes": ("bid", "ask"),
}

TIMEFRAME_MS: dict[str, int] = {
    "1s": 1_000,
    "5s": 5_000,
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}
"""Supported bar (or quote sampling) intervals and their length in milliseconds."""

MAX_BYTES_ENV = "BOT_CORE_DATA_MAX_MB"
DEFAULT_MAX_BYTES = 1024 * 1024 * 1024
"""Files larger than this (1 GiB, about 18M bar rows) are refused before reading: a file that big
is almost always handed over by mistake. Override with ``BOT_CORE_DATA_MAX_MB``."""


def columns_of(kind: str) -> tuple[str, ...]:
    """Value columns of ``kind``; ``ValueError`` naming the allowed kinds otherwise."""
    try:
        return COLUMNS[kind]
    except KeyError:
        raise ValueError(f"unknown dataset kind {kind!r}; expected one of {', '.join(KINDS)}") from None


def timeframe_ms(timeframe: str | None) -> int | None:
    """Length of ``timeframe`` in ms (``None`` for irregular quote data)."""
    if timeframe is None:
        return None
    try:
        return TIMEFRAME_MS[timeframe]
    except KeyError:
        raise ValueError(
            f"unknown timeframe {timeframe!r}; expected one of {', '.join(TIMEFRAME_MS)}"
        ) from None


def max_bytes(environ: dict[str, str] | None = None) -> int:
    """The configured size limit in bytes (``BOT_CORE_DATA_MAX_MB`` or 1 GiB)."""
    env = os.environ if environ is None else environ
    raw = env.get(MAX_BYTES_ENV)
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        mb = float(raw)
    except ValueError:
        raise DataError(f"{MAX_BYTES_ENV}={raw!r} is not a number of megabytes") from None
    if mb <= 0:
        raise DataError(f"{MAX_BYTES_ENV}={raw!r} must be positive")
    return int(mb * 1024 * 1024)
