"""Turning the timestamp column of an export into UTC epoch milliseconds.

Exports write time in many ways: epoch seconds (Kraken, TradingView), milliseconds (Binance
until 2024), microseconds (Binance spot files since 2025), ISO strings with or without an
offset, ``2024.01.02 13:05`` (MetaTrader), ``01/02/2024`` (spreadsheets). Numbers are told
apart by magnitude; strings are tried against unambiguous formats first, and a day/month order
that both parse is refused rather than guessed. Naive times need an explicit ``--tz``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot_core.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["parse_timestamps"]

STRING_FORMATS = (
    "ISO8601",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%Y.%m.%d",
    "%Y%m%d %H%M%S",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d",
    "%d.%m.%Y %H:%M:%S.%f",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
)
AMBIGUOUS_FORMATS = (
    ("%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S"),
    ("%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M"),
    ("%m/%d/%Y", "%d/%m/%Y"),
    ("%m-%d-%Y %H:%M", "%d-%m-%Y %H:%M"),
    ("%m-%d-%Y", "%d-%m-%Y"),
)
EPOCH_UNITS = ((1e11, "s", 1e3), (1e14, "ms", 1.0), (1e17, "us", 1e-3), (float("inf"), "ns", 1e-6))


def _fail(src: str, rows: np.ndarray, text: pd.Series, mask: np.ndarray, what: str) -> DataError:
    import numpy as np

    first = int(np.flatnonzero(mask)[0])
    return DataError(f"{src}: row {int(rows[first])}: timestamp {text.iat[first]!r} {what}",
                     path=src)


def parse_timestamps(text: pd.Series, rows: np.ndarray, *, src: str, tz: str | None,
                     date_format: str | None = None) -> tuple[np.ndarray, str]:
    """UTC epoch ms (int64) for each cell, and a description of the format found."""
    import numpy as np
    import pandas as pd

    if text.dtype.kind in "iuf" and date_format is None:
        numbers = text.to_numpy(dtype="float64", na_value=np.nan)
        text = text.astype(str)
        if np.isnan(numbers).any():
            raise _fail(src, rows, text, np.isnan(numbers), "is empty")
    else:
        text = text.astype(str).str.strip()
        empty = text.isin(["", "nan", "None"]).to_numpy()
        if empty.any():
            raise _fail(src, rows, text, empty, "is empty")
        numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    if date_format is None and np.isfinite(numbers).all():
        magnitude = float(np.median(np.abs(numbers)))
        for bound, unit, to_ms in EPOCH_UNITS:
            if magnitude < bound:
                ms = np.rint(numbers * to_ms)
                if np.abs(ms).max() > 4.1e12 * 3:  # beyond year 2400: mixed units in one column
                    raise _fail(src, rows, text, np.abs(ms) > 4.1e12 * 3,
                                f"is far from the other epoch-{unit} values")
                return ms.astype("int64"), f"epoch {unit}"
    formats = (date_format,) if date_format else STRING_FORMATS
    parsed = None
    for fmt in formats:
        parsed = _try_format(text, fmt)
        if parsed is not None:
            used = fmt
            break
    if parsed is None and not date_format:
        for first, second in AMBIGUOUS_FORMATS:
            a, b = _try_format(text, first), _try_format(text, second)
            if a is not None and b is not None and not a.equals(b):
                raise DataError(f"{src}: dates like {text.iat[0]!r} read both as {first} and "
                                f"{second}; pass --date-format to say which", path=src)
            parsed = a if a is not None else b
            if parsed is not None:
                used = first if a is not None else second
                break
    if parsed is None:
        probe = pd.to_datetime(text, format=date_format or "ISO8601", errors="coerce", utc=True)
        bad = probe.isna().to_numpy()
        if not bad.any():  # pragma: no cover - every cell parsed yet no single format did
            bad[0] = True
        hint = f"does not match --date-format {date_format!r}" if date_format else \
            "is not a recognised date/time (pass --date-format, e.g. '%d/%m/%Y %H:%M')"
        raise _fail(src, rows, text, bad, hint)
    if parsed.dt.tz is None:
        if tz is None:
            raise DataError(f"{src}: timestamps like {text.iat[0]!r} carry no timezone; pass --tz "
                            f"(e.g. --tz UTC or --tz America/New_York)", path=src)
        try:
            parsed = parsed.dt.tz_localize(tz, ambiguous="raise", nonexistent="raise")
        except Exception as exc:  # pytz/zoneinfo raise several types for bad zones and DST
            raise DataError(f"{src}: cannot place timestamps in timezone {tz!r}: {exc}",
                            path=src) from None
        used += f" naive, --tz {tz}"
    ms = parsed.dt.tz_convert("UTC").dt.as_unit("ms").astype("int64").to_numpy()
    return ms, used


def _try_format(text: pd.Series, fmt: str) -> pd.Series | None:
    import pandas as pd

    try:
        parsed = pd.to_datetime(text, format=fmt, errors="raise")
    except (ValueError, TypeError, OverflowError):
        try:  # mixed offsets (e.g. across a DST change) only parse straight to UTC
            parsed = pd.to_datetime(text, format=fmt, errors="raise", utc=True)
        except (ValueError, TypeError, OverflowError):
            return None
    if not isinstance(parsed, pd.Series) or parsed.dtype.kind != "M":
        return None
    return parsed
