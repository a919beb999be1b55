"""The end of a journal file: its last complete line and a torn line after it, if any.

Used by the writer when it reopens a journal (it continues after the last complete record and
names the torn line in a ``recovery`` record).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Tail", "read_tail"]

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Tail:
    path: Path
    size: int
    last_line: bytes | None
    """The last newline-terminated line (without its newline); None when there is none."""
    last_line_no: int
    torn: bytes | None
    """Bytes after the last newline (a write cut short); None when the file ends cleanly."""
    torn_offset: int

    @property
    def torn_line_no(self) -> int:
        return self.last_line_no + 1


def _count_newlines(fd: int, end: int) -> int:
    count, offset = 0, 0
    while offset < end:
        chunk = os.pread(fd, min(_CHUNK * 8, end - offset), offset)
        if not chunk:
            break
        count += chunk.count(b"\n")
        offset += len(chunk)
    return count


def _last_newline_before(fd: int, end: int) -> int:
    """Offset of the last newline before ``end``; -1 when there is none."""
    while end > 0:
        start = max(0, end - _CHUNK)
        at = os.pread(fd, end - start, start).rfind(b"\n")
        if at >= 0:
            return start + at
        end = start
    return -1


def read_tail(path: Path) -> Tail:
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        last_nl = _last_newline_before(fd, size)
        torn = os.pread(fd, size - last_nl - 1, last_nl + 1) if last_nl + 1 < size else None
        if last_nl < 0:
            return Tail(path, size, None, 0, torn, 0)
        previous_nl = _last_newline_before(fd, last_nl)
        line = os.pread(fd, last_nl - previous_nl - 1, previous_nl + 1)
        return Tail(path, size, line, _count_newlines(fd, last_nl + 1), torn, last_nl + 1)
    finally:
        os.close(fd)
