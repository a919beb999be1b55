"""Reading a journal for people (``bot-core journal show``): records in chain order, without
verifying them (that is ``verify``'s job) and without failing on a line that is not a record."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot_core.errors import UsageError
from bot_core.journal.record import MAX_LINE_BYTES, chain_directories, journal_files

__all__ = ["ReadLine", "read_records"]


@dataclass(frozen=True, slots=True)
class ReadLine:
    """One line: the record, or None with why it is not one."""

    file: Path
    line: int
    record: dict[str, Any] | None
    problem: str = ""


def _files(paths: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():  # a chain, or a bot's or the home's directory: every chain below it
            files = [f.path for chain in chain_directories(path) for f in journal_files(chain)]
            if not files:
                raise UsageError(f"{path}: no journal files here (journal-*.jsonl)")
            found.extend(files)
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or directory")
    return found


def read_records(paths: Sequence[Path]) -> Iterator[ReadLine]:
    """Every line of the journal files at ``paths`` (directories: their files in chain order).

    :raises UsageError: a path is missing or cannot be read.
    """
    try:
        yield from _read(paths)
    except OSError as exc:
        raise UsageError(f"{exc.filename or paths[0]}: cannot read ({exc.strerror or exc})") \
            from None


def _read(paths: Sequence[Path]) -> Iterator[ReadLine]:
    for path in _files(paths):
        with open(path, "rb") as handle:
            number = 0
            while raw := handle.readline(MAX_LINE_BYTES + 1):
                number += 1
                if len(raw) > MAX_LINE_BYTES:
                    while raw and not raw.endswith(b"\n"):  # skip the rest, never hold it whole
                        raw = handle.readline(MAX_LINE_BYTES)
                    yield ReadLine(path, number, None, "a line longer than the limit")
                    continue
                try:
                    value = json.loads(raw)
                except ValueError:  # not UTF-8 (binary) or not JSON
                    yield ReadLine(path, number, None, "not a JSON line")
                    continue
                if isinstance(value, dict) and isinstance(value.get("payload"), dict):
                    yield ReadLine(path, number, value)
                else:
                    yield ReadLine(path, number, None, "not a journal record")
