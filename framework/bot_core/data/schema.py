"""The normalized dataset format: kinds, columns, timeframes and limits.

A normalized file has a ``timestamp`` column of integer milliseconds since the Unix epoch (UTC,
unambiguous and about twenty times faster to parse than ISO strings) followed by the float
columns of its kind, in this order. Everything that reads or writes datasets takes the column
names from here so the format has one definition.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal

from bot_core.errors import DataError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "CALENDAR_MONTH",
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
    "spacing_matches",
    "step_gaps",
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
    "1w": 604_800_000,
    "1M": 2_629_746_000,
}
"""Supported bar (or quote sampling) intervals and their length in milliseconds. ``1M`` is a
calendar month: its length here is the mean Gregorian month (30.436875 days), a nominal figure
for rates and spans; rows one month apart are 28 to 31 days apart, and the spacing and gap
checks count calendar months (:func:`step_gaps`)."""
CALENDAR_MONTH = "1M"
_MONTH_SPACING_MS = (28 * 86_400_000, 31 * 86_400_000)

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


def spacing_matches(timeframe: str, step_ms: int) -> bool:
    """Whether rows ``step_ms`` apart are one bar of ``timeframe`` apart (28 to 31 days for a
    calendar month)."""
    if timeframe == CALENDAR_MONTH:
        return _MONTH_SPACING_MS[0] <= step_ms <= _MONTH_SPACING_MS[1]
    return step_ms == TIMEFRAME_MS[timeframe]


def step_gaps(timeframe: str, ts_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each step between consecutive timestamps: whether it is longer than one bar of
    ``timeframe``, and how many whole bars are missing in it (calendar months for ``1M``)."""
    import numpy as np

    if timeframe == CALENDAR_MONTH:
        months = ts_ms.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
        steps = np.diff(months)
        return steps > 1, np.maximum(steps - 1, 0)
    step = TIMEFRAME_MS[timeframe]
    delta = np.diff(ts_ms)
    return delta > step, np.maximum(delta // step - 1, 0)


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
