"""The journal's on-disk format: record fields, record types, file names, framing of a line.

A journal is a directory of JSONL files, one chain of records per bot. A record is one line::

    {"bot":"b","key_id":"k1","mode":"demo","payload":{...},"prev_mac":"<hex>","run_id":"r",
     "seq":7,"ts_ns":1717000000000000000,"type":"decision","mac":"<hex>"}

``mac`` is HMAC-SHA256 (hex) over the canonical JSON of the record without ``mac`` (sorted keys,
no insignificant whitespace, UTF-8), which is exactly the line with its ``,"mac":"..."`` member
and newline removed: the writer emits the canonical bytes and inserts ``mac`` last. ``prev_mac`` is
the previous record's ``mac`` (:data:`GENESIS_MAC` for the first record of the chain), ``seq``
counts from 1 without gaps across files, ``ts_ns`` is the wall-clock time the record was written
(UTC ns; the time of the event itself is in the payload).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CHECKPOINT_NAME",
    "FIELDS",
    "GENESIS_MAC",
    "LOCK_NAME",
    "MAC_MEMBER_BYTES",
    "MAX_LINE_BYTES",
    "MAX_RECORD_BYTES",
    "RECORD_TYPES",
    "JournalFile",
    "file_name",
    "journal_files",
    "parse_file_name",
    "signed_part",
    "valid_identifier",
]

GENESIS_MAC = "0" * 64
"""``prev_mac`` of the first record of a chain."""
FIELDS = ("bot", "key_id", "mac", "mode", "payload", "prev_mac", "run_id", "seq", "ts_ns", "type")
MAC_MEMBER_BYTES = len(b',"mac":"') + 64 + len(b'"}')
"""Length of the ``,"mac":"<hex>"}`` end of a line (the newline not counted)."""
MAX_RECORD_BYTES = 256 * 1024
"""A payload whose canonical JSON is longer is replaced by its size and SHA-256."""
MAX_LINE_BYTES = 1024 * 1024
"""The verifier reports a longer line as malformed without reading it whole."""
CHECKPOINT_NAME = "checkpoint.json"
LOCK_NAME = ".writer.lock"

RECORD_TYPES = {
    "journal_file": "first record of each file: carries the previous file's last MAC",
    "recovery": "the writer reopened a journal that was not closed cleanly (a torn last line "
                "is named with its SHA-256)",
    "start": "a run started (mode, config summary)",
    "stop": "a run ended (reason)",
    "decision": "a strategy's order intent with a summary of its inputs, before risk",
    "risk_verdict": "the risk engine's verdict on an intent, with its reason code",
    "order": "an order handed to a venue, or its status changed",
    "execution_report": "a venue's report about an order",
    "fill": "an execution booked into the portfolio",
    "trading_state": "the trading state changed (ACTIVE, REDUCING, HALTED)",
    "quarantine": "a strategy or venue was quarantined or released",
    "operator_action": "an operator acted (halt, clear, cancel...)",
    "promotion": "the bot was promoted between modes",
}
"""Every record type, with what it records (docs/journal.md has the payloads)."""

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.:-]{0,128}\Z")
_TYPE = re.compile(r"^[a-z_]{1,40}\Z")
_FILE_NAME = re.compile(r"^journal-(\d{8})-(\d{12,19})\.jsonl\Z")


def valid_identifier(value: str, *, kind: str = "identifier") -> bool:
    """Whether ``value`` may be a bot, run id, mode (``kind="identifier"``) or record type
    (``kind="type"``): plain ASCII that needs no escaping in JSON."""
    pattern = _TYPE if kind == "type" else _IDENTIFIER
    return bool(pattern.match(value))


def signed_part(line: bytes) -> bytes:
    """The bytes a line's MAC covers: the line without its ``mac`` member (and newline)."""
    return line[:-MAC_MEMBER_BYTES] + b"}"


def file_name(day: dt.date, first_seq: int) -> str:
    """``journal-YYYYMMDD-<first seq, 12 digits>.jsonl``: names sort in chain order."""
    return f"journal-{day:%Y%m%d}-{first_seq:012d}.jsonl"


@dataclass(frozen=True, slots=True)
class JournalFile:
    """A journal file found in a directory, by what its name says."""

    path: Path
    day: dt.date
    first_seq: int

    @property
    def day_end_ns(self) -> int:
        """UTC midnight after the file's day (records from then on go to a new file)."""
        end = dt.datetime(self.day.year, self.day.month, self.day.day, tzinfo=dt.UTC) \
            + dt.timedelta(days=1)
        return int(end.timestamp()) * 1_000_000_000


def parse_file_name(path: Path) -> JournalFile | None:
    match = _FILE_NAME.match(path.name)
    if match is None:
        return None
    try:
        day = dt.datetime.strptime(match.group(1), "%Y%m%d").date()
    except ValueError:
        return None
    return JournalFile(path, day, int(match.group(2)))


def journal_files(directory: Path) -> list[JournalFile]:
    """The journal files of a directory in chain order (by first sequence number)."""
    found = [parse_file_name(p) for p in directory.iterdir() if p.is_file()]
    return sorted((f for f in found if f is not None), key=lambda f: (f.first_seq, f.path.name))


def chain_directories(directory: Path, depth: int = 3) -> list[Path]:
    """Journal directories at or below ``directory``: a mode's chain, a bot's (one chain per
    mode), or the home's ``journal`` (every bot); ``depth`` bounds the walk.

    :raises OSError: a directory that cannot be listed.
    """
    if journal_files(directory) or (directory / CHECKPOINT_NAME).exists():
        return [directory]
    found: list[Path] = []
    if depth > 0:
        for child in sorted(p for p in directory.iterdir() if p.is_dir()):
            found += chain_directories(child, depth - 1)
    return found
