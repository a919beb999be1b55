"""Findings of the data-quality validator and the catalogue of checks."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["CHECKS", "Finding", "Severity", "format_duration", "has_errors", "iso_ms"]

Severity = Literal["error", "warning"]

CHECKS: dict[str, tuple[Severity, str]] = {
    "unreadable": ("error", "the file cannot be read at all (missing, empty, binary, too big)"),
    "schema": ("error", "header, column names, order and dtypes match the normalized schema"),
    "unparsable_cell": ("error", "every cell parses as a number (timestamps as integer epoch ms)"),
    "nan_value": ("error", "no NaN or empty values"),
    "non_increasing_timestamp": ("error", "timestamps strictly increase"),
    "duplicate_timestamp": ("error", "no timestamp appears twice"),
    "gap": ("warning", "consecutive timestamps are one timeframe apart"),
    "ohlc_inconsistent": ("error", "low <= min(open, close) and high >= max(open, close)"),
    "non_positive_price": ("error", "prices are > 0"),
    "negative_volume": ("error", "volume is >= 0"),
    "outlier_return": ("warning", "no return beyond N robust sigmas (block MAD)"),
    "stale_run": ("warning", "prices do not stay identical for a long run of rows"),
    "bid_above_ask": ("error", "bid <= ask"),
    "non_positive_size": ("error", "bid_size and ask_size are > 0"),
    "checksum_mismatch": ("error", "the file's sha256 matches its manifest entry"),
    "manifest_mismatch": ("error", "rows, first/last timestamp and schema match the manifest"),
    "user_library": ("error", "BOT_CORE_HOME/datasets and its manifest.json can be read"),
}
"""Every check: name -> (severity, what a clean dataset satisfies)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in one dataset, with where it is and what was expected there."""

    dataset: str
    """Dataset id (or file path when validating a file outside the library)."""
    check: str
    """Name of the check, a key of :data:`CHECKS`."""
    severity: Severity
    row: int | None
    """1-based data row (the header line is row 0); ``None`` for whole-file findings."""
    timestamp: str | None
    """ISO-8601 UTC timestamp of that row, when it has a valid one."""
    message: str
    """What was found."""
    expected: str
    """What a clean dataset has there."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = f" row {self.row}" if self.row is not None else ""
        when = f" ({self.timestamp})" if self.timestamp else ""
        return (f"{self.dataset}:{where}{when} [{self.severity} {self.check}] {self.message}; "
                f"expected {self.expected}")


def has_errors(findings: list[Finding]) -> bool:
    """True when any finding has error severity."""
    return any(f.severity == "error" for f in findings)


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as ``YYYY-MM-DDTHH:MM:SS[.mmm]Z``."""
    from datetime import UTC, datetime

    try:
        moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return f"{ms} ms (out of range)"
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if ms % 1000:
        text += f".{ms % 1000:03d}"
    return text + "Z"


def format_duration(ms: int) -> str:
    """``90000`` -> ``90s``, ``120000`` -> ``2m``, ``7200000`` -> ``2h``, days as ``d``."""
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:g}s"
    if seconds < 7200:
        return f"{seconds / 60:g}m"
    if seconds < 172800:
        return f"{seconds / 3600:g}h"
    return f"{seconds / 86400:g}d"
