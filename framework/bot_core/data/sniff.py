"""Recognising the layout of an exchange or vendor export: delimiter, header, columns.

Known layouts without a header are recognised by shape: Binance klines (12 columns starting
with epoch ms/us), Kraken OHLCVT (7), MetaTrader history (date, time, OHLC, volume) and plain
``time,open,high,low,close[,volume]``. With a header, columns are matched by their common
spellings (``Date``, ``<DATE>``, ``Open time``, ``Volume BTC``, ``best_bid_price``, an unnamed
pandas index, ...), whatever their order.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field

from bot_core.errors import DataError

__all__ = ["Layout", "detect_layout", "normalize_name"]

DELIMITERS = (",", ";", "\t", "|")
TIME_NAMES = ("unix", "unix_timestamp", "timestamp", "datetime", "date_time", "time", "open_time",
              "opentime", "date", "timestamp_utc", "date_utc", "time_utc", "ts",
              "transaction_time", "event_time", "gmt_time", "local_time", "index", "unnamed_0", "")
DATE_ONLY = ("date", "day")
TIME_ONLY = ("time", "hour")
ALIASES: dict[str, tuple[str, ...]] = {
    "open": ("open", "o", "open_price", "first", "opening_price"),
    "high": ("high", "h", "high_price", "max"),
    "low": ("low", "l", "low_price", "min"),
    "close": ("close", "c", "close_price", "last", "closing_price", "price"),
    "volume": ("volume", "vol", "v", "base_volume", "volume_base", "real_volume", "tickvol",
               "tick_volume", "volume_from", "volumefrom"),
    "bid": ("bid", "bid_price", "best_bid", "best_bid_price", "bidprice", "b"),
    "ask": ("ask", "ask_price", "best_ask", "best_ask_price", "askprice", "offer", "a"),
    "bid_size": ("bid_size", "bidsize", "bid_qty", "bid_quantity", "bid_volume", "bid_amount",
                 "best_bid_qty", "best_bid_size", "bid_vol"),
    "ask_size": ("ask_size", "asksize", "ask_qty", "ask_quantity", "ask_volume", "ask_amount",
                 "best_ask_qty", "best_ask_size", "ask_vol", "offer_size"),
}


def normalize_name(name: str) -> str:
    """``<TICKVOL>`` -> ``tickvol``, ``Open time`` -> ``open_time``, ``Unnamed: 0`` -> ``unnamed_0``."""
    cleaned = name.strip().strip('"').strip("'").strip("<>").strip().lower()
    return re.sub(r"[^a-z0-9]+", "_", cleaned).strip("_")


@dataclass
class Layout:
    """Where each normalized field is in the export."""

    delimiter: str
    skip_lines: int
    """Preamble lines before the header (or the first data line)."""
    has_header: bool
    time_columns: list[int]
    """One column, or a date column and a time-of-day column to join."""
    value_columns: dict[str, int]
    notes: list[str] = field(default_factory=list)
    volume_fallback: int | None = None
    """Tick-volume column to use when the real volume column is all zero (MetaTrader forex)."""

    def describe(self) -> str:
        shown = "tab" if self.delimiter == "\t" else self.delimiter
        return (f"delimiter {shown!r}, {'header' if self.has_header else 'no header'}, "
                f"time in column(s) {[c + 1 for c in self.time_columns]}")


def split_fields(line: str, delimiter: str) -> list[str]:
    """The fields of one line, honouring double quotes (``"42,283.58"`` is one field)."""
    if '"' not in line:
        return line.split(delimiter)
    return next(csv.reader([line], delimiter=delimiter, quotechar='"'), [])


def _count_fields(line: str, delimiter: str) -> int:
    return len(split_fields(line, delimiter)) if delimiter in line else 1


def _pick_delimiter(lines: list[str], src: str) -> tuple[str, int]:
    """The delimiter splitting the last sample lines into the same number (>1) of fields."""
    best: tuple[int, str, int] | None = None
    tail = lines[-min(len(lines), 20):]
    for delimiter in DELIMITERS:
        counts = [_count_fields(line, delimiter) for line in tail]
        mode = max(set(counts), key=counts.count)
        agree = counts.count(mode)
        consistent = mode > 1 and agree >= max(1, len(tail) * 0.8)
        if consistent and (best is None or (agree, mode) > (best[0], best[2])):
            best = (agree, delimiter, mode)
    if best is None:
        raise DataError(f"{src}: cannot tell the delimiter: lines do not split into the same "
                        f"number of fields on ',', ';', tab or '|'", path=src)
    _, delimiter, fields = best
    skip = 0
    while skip < len(lines) and _count_fields(lines[skip], delimiter) < fields:
        skip += 1  # a preamble line such as a vendor's URL
    return delimiter, skip


def _is_number(cell: str) -> bool:
    try:
        float(cell.strip().replace(",", "."))
    except ValueError:
        return False
    return True


def _looks_like_date(cell: str) -> bool:
    return bool(re.match(r"^\s*\d{4}[-./]\d{1,2}[-./]\d{1,2}|^\s*\d{1,2}[-./]\d{1,2}[-./]\d{4}|"
                         r"^\s*\d{8}(\s|$)", cell))


def detect_layout(sample: str, kind: str, src: str) -> Layout:
    """Recognise ``sample`` (the first lines of the export) for a dataset of ``kind``."""
    lines = [line for line in sample.splitlines() if line.strip()]
    if not lines:
        raise DataError(f"{src}: file has no lines", path=src)
    if len(lines) > 1 and sample and not sample.endswith("\n"):
        lines = lines[:-1]  # the sample may cut the last line
    delimiter, skip = _pick_delimiter(lines[:50], src)
    first = [c.strip() for c in split_fields(lines[skip], delimiter)]
    names = [normalize_name(c) for c in first]
    known = {a for aliases in ALIASES.values() for a in aliases} | set(TIME_NAMES)
    matched = sum(1 for n in names if n and n in known and not _is_number(first[names.index(n)]))
    if matched >= 2 or (names and not _is_number(first[0]) and not _looks_like_date(first[0])):
        return _with_header(names, delimiter, skip, kind, src)
    return _without_header(first, delimiter, skip, kind, src)


def _with_header(names: list[str], delimiter: str, skip: int, kind: str, src: str) -> Layout:
    from bot_core.data.schema import columns_of

    wanted = columns_of(kind)
    values: dict[str, int] = {}
    notes: list[str] = []
    for target in wanted:
        for alias in ALIASES[target]:
            if alias in names and names.index(alias) not in values.values():
                values[target] = names.index(alias)
                break
    if "volume" in wanted and "volume" not in values:
        # CryptoDataDownload: "Volume BTC" and "Volume USDT"; take the base-asset one (first).
        for position, name in enumerate(names):
            if name.startswith("volume") and "usd" not in name and "quote" not in name:
                values["volume"] = position
                break
    time_columns: list[int] = []
    dates = [i for i, n in enumerate(names) if n in DATE_ONLY]
    times = [i for i, n in enumerate(names) if n in TIME_ONLY]
    if dates and times and dates[0] != times[0]:
        time_columns = [dates[0], times[0]]
    else:
        for alias in TIME_NAMES:
            if alias in names and names.index(alias) not in values.values():
                time_columns = [names.index(alias)]
                break
    if not time_columns and names and names[0] not in {a for al in ALIASES.values() for a in al}:
        time_columns = [0]
        notes.append(f"time taken from the first column ({names[0] or 'unnamed'})")
    missing = [c for c in wanted if c not in values and c != "volume"]
    if missing or not time_columns:
        need = ([] if time_columns else ["a time column"]) + missing
        raise DataError(f"{src}: header has no column for {', '.join(need)} (columns: "
                        f"{', '.join(n or '<unnamed>' for n in names)})", path=src)
    if "volume" in wanted and "volume" not in values:
        notes.append("no volume column: volume set to 0")
    fallback = next((i for i, n in enumerate(names) if n in ("tickvol", "tick_volume")
                     and i != values.get("volume")), None)
    return Layout(delimiter, skip, True, time_columns, values, notes, fallback)


def _without_header(first: list[str], delimiter: str, skip: int, kind: str,
                    src: str) -> Layout:
    from bot_core.data.schema import columns_of

    wanted = list(columns_of(kind))
    count = len(first)
    time_columns = [0]
    start = 1
    if count > 2 and _looks_like_date(first[0]) and re.match(r"^\d{1,2}:\d{2}(:\d{2})?$", first[1]):
        time_columns, start = [0, 1], 2  # MetaTrader: date, time, O, H, L, C, volume
    available = count - start
    notes: list[str] = []
    if kind == "ohlcv" and available == 4:
        wanted = wanted[:4]
        notes.append("no volume column: volume set to 0")
    if available < len(wanted):
        raise DataError(f"{src}: first line has {count} fields and no header; expected a time "
                        f"column and {', '.join(wanted)} (add a header naming the columns)",
                        path=src)
    if not (_is_number(first[0]) or _looks_like_date(first[0])):
        raise DataError(f"{src}: first field {first[0]!r} is neither a header nor a time",
                        path=src)
    values = {name: start + offset for offset, name in enumerate(wanted)}
    if count == 12 and start == 1:
        notes.append("Binance kline layout (open time, OHLCV, close time, ...)")
    elif count == 7 and start == 1:
        notes.append("Kraken OHLCVT layout (time, OHLCV, trades)")
    return Layout(delimiter, skip, False, time_columns, values, notes)
