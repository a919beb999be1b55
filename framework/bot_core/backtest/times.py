"""The one time format of every backtest CSV and JSON field."""

from __future__ import annotations

import numpy as np

__all__ = ["iso_utc", "iso_utc_array"]


def iso_utc_array(ts_ns: np.ndarray) -> np.ndarray:
    """``2024-01-02T03:04:05Z`` for each UTC ns time: the one time format of every backtest CSV
    and JSON field (second resolution, ``Z`` for UTC)."""
    times = np.asarray(ts_ns, dtype=np.int64).astype("datetime64[ns]")
    return np.datetime_as_string(times, unit="s", timezone="UTC")


def iso_utc(ts_ns: int) -> str:
    """One time in the format of :func:`iso_utc_array`."""
    return str(iso_utc_array(np.array([ts_ns], dtype=np.int64))[0])
