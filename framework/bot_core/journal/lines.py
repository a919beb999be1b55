"""One journal line, checked on its own: is it a well-formed record, signed by a known key, in
that key's window? Shared by the verifier and by the writer when it reopens a journal.

The check works on the bytes as found: the MAC covers the line without its ``mac`` member, so a
line is authentic exactly when its bytes are the ones the key holder wrote. A line that does not
have the writer's framing is parsed as JSON to say what it is (not JSON, binary, not a record,
re-encoded), never to accept it.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Any

from bot_core.journal.canonical import canonical_bytes
from bot_core.journal.keys import Keyring
from bot_core.journal.record import FIELDS, MAX_LINE_BYTES, signed_part

__all__ = ["HEAD", "TAIL", "TAIL_START", "Cause", "Entry", "LineProblem", "check_line"]


class Cause(enum.StrEnum):
    """Why a journal does not verify (the first bad line's cause)."""

    MODIFIED = "modified"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    DUPLICATED = "duplicated"
    TRUNCATED_TAIL = "truncated_tail"
    UNKNOWN_KEY = "unknown_key"
    KEY_OUTSIDE_WINDOW = "key_outside_window"
    TORN_TAIL = "torn_tail"
    CHAIN_BROKEN_BETWEEN_FILES = "chain_broken_between_files"
    MALFORMED = "malformed"
    CHECKPOINT = "checkpoint"
    NO_JOURNAL = "no_journal"
    UNREADABLE = "unreadable"


HEAD = re.compile(rb'\{"bot":"([A-Za-z0-9_.:-]{1,128})","key_id":"([A-Za-z0-9_.-]{1,32})",'
                  rb'"mode":"([A-Za-z0-9_.:-]{0,128})","payload":\{')
"""The start of a line as the writer frames it (bot, key id, mode)."""
TAIL_START = b',"prev_mac":"'
TAIL = re.compile(rb',"prev_mac":"([0-9a-f]{64})","run_id":"([A-Za-z0-9_.:-]{0,128})",'
                  rb'"seq":([1-9][0-9]{0,18}),"ts_ns":([0-9]{1,20}),"type":"([a-z_]{1,40})",'
                  rb'"mac":"([0-9a-f]{64})"\}\Z')
"""The end of a line from its last ``,"prev_mac":"`` (after the payload, which may hold that
text only before it: keys are sorted and ``prev_mac`` follows ``payload``)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A line that is a correctly signed record, with the fields the chain is checked by."""

    seq: int
    prev_mac: bytes
    mac: bytes
    key_id: str
    ts_ns: int
    bot: str
    run_id: str
    mode: str
    type: str


@dataclass(frozen=True, slots=True)
class LineProblem:
    """A line that is not a correctly signed record (or is, outside its key's window)."""

    cause: Cause
    detail: str
    entry: Entry | None = None
    """Set for a record signed correctly but outside its key's window."""


def _describe_bad_bytes(line: bytes) -> str | None:
    if len(line) > MAX_LINE_BYTES:
        return f"a line of {len(line):,} bytes, longer than the {MAX_LINE_BYTES:,}-byte limit"
    if b"\x00" in line:
        return "binary data (NUL bytes), not a JSON line"
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"binary data (invalid UTF-8 at byte {exc.start}), not a JSON line"
    if not line.strip():
        return "an empty line"
    return None


def _window_problem(entry: Entry, keyring: Keyring) -> LineProblem | None:
    start, end = keyring.window(entry.key_id)
    if start <= entry.ts_ns and (end is None or entry.ts_ns < end):
        return None
    from bot_core.journal.times import format_ns

    until = "now" if end is None else format_ns(end)
    return LineProblem(Cause.KEY_OUTSIDE_WINDOW,
                       f"signed with key {entry.key_id} at {format_ns(entry.ts_ns)}, outside its "
                       f"window {format_ns(start)} - {until}", entry)


def check_line(line: bytes, keyring: Keyring) -> Entry | LineProblem:
    """Check one line (without its newline) on its own; the chain is the caller's."""
    head = HEAD.match(line)
    tail_at = line.rfind(TAIL_START)
    tail = TAIL.match(line, tail_at) if head is not None and tail_at > 0 else None
    if head is None or tail is None:
        return _unframed(line, keyring)
    bot, key_id, mode = (g.decode("ascii") for g in head.groups())
    prev, run_id, seq, ts, rtype, mac = tail.groups()
    entry = Entry(int(seq), prev, mac, key_id, int(ts), bot, run_id.decode("ascii"), mode,
                  rtype.decode("ascii"))
    key = keyring.get(key_id)
    signed = signed_part(line)
    if key is None:
        other = next((k for k in keyring.keys if k.sign(signed) == mac.decode("ascii")), None)
        if other is not None:
            return LineProblem(Cause.MODIFIED, f"its key id was changed from {other.key_id} "
                               f"to {key_id}")
        return LineProblem(Cause.UNKNOWN_KEY, f"signed with key id {key_id!r}, which the "
                           f"keyring ({keyring.source}) does not hold (it holds "
                           f"{', '.join(keyring.ids)})")
    if key.sign(signed) != mac.decode("ascii"):
        return LineProblem(Cause.MODIFIED, f"its MAC does not match its content (seq "
                           f"{entry.seq}, key {key_id})")
    return _window_problem(entry, keyring) or entry


def _unframed(line: bytes, keyring: Keyring) -> LineProblem:
    """Say what a line without the writer's framing is (it never verifies as it is)."""
    bad = _describe_bad_bytes(line)
    if bad:
        return LineProblem(Cause.MALFORMED, bad)
    try:
        doc: Any = json.loads(line)
    except ValueError as exc:
        why = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) \
            else str(exc)
        shaped = line.startswith(b'{"bot":') and line.rstrip().endswith(b'"}')
        if shaped:  # a record whose bytes were changed into something that is not JSON
            return LineProblem(Cause.MODIFIED, f"the record is no longer JSON ({why})")
        return LineProblem(Cause.MALFORMED, f"not JSON ({why})")
    if not isinstance(doc, dict):
        return LineProblem(Cause.MALFORMED, f"a JSON {type(doc).__name__}, not a record")
    present = [f for f in FIELDS if f in doc]
    if len(present) < len(FIELDS) // 2:
        return LineProblem(Cause.MALFORMED, "a JSON object that is not a journal record "
                           f"(fields {', '.join(sorted(doc)[:6]) or 'none'})")
    missing = [f for f in FIELDS if f not in doc]
    extra = sorted(set(doc) - set(FIELDS))
    if missing or extra:
        what = "; ".join([f"missing {', '.join(missing)}"] * bool(missing)
                         + [f"unexpected {', '.join(extra)}"] * bool(extra))
        return LineProblem(Cause.MODIFIED, f"the record's fields were changed ({what})")
    mac = doc.pop("mac")
    key = keyring.get(doc["key_id"]) if isinstance(doc["key_id"], str) else None
    try:
        intact = key is not None and key.sign(canonical_bytes(doc)) == mac
    except (TypeError, ValueError):
        intact = False
    if intact:
        return LineProblem(Cause.MODIFIED, "the line was re-encoded: its content is intact but "
                           "its bytes are not the ones written")
    return LineProblem(Cause.MODIFIED, "its MAC does not match its content (the record's "
                       "framing was changed too)")

