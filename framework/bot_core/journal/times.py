"""Timestamps as the journal shows and reads them: UTC nanoseconds <-> ISO 8601."""

from __future__ import annotations

import datetime as dt

__all__ = ["format_ns", "parse_timestamp"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def format_ns(ts_ns: int) -> str:
    """``2024-01-01T00:00:00.123456Z`` (microseconds; the record keeps the nanoseconds)."""
    moment = _EPOCH + dt.timedelta(microseconds=ts_ns // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> int:
    """UTC nanoseconds of an ISO 8601 time with an explicit offset (``2024-06-01T00:00:00Z``,
    ``2024-06-01T02:00+02:00``), or of a date (``2024-06-01``, midnight UTC).

    :raises ValueError: with a message saying what is accepted.
    """
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        else:
            moment = dt.datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time (e.g. 2024-06-01T00:00:00Z "
                         "or 2024-06-01)") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no timezone: add Z for UTC or an offset like +02:00")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
