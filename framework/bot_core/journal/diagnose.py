"""Why the chain stops at a line: the cause the verifier reports for the first bad line.

Called only when the verifier's fast pass finds a line that does not continue the chain. It
looks at the lines around it (the file, the one before and the one after) to tell a modified
record from an inserted, deleted, reordered or duplicated one, and a crash's torn line (named
by the ``recovery`` record right after it) from a tampering.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from bot_core.journal.keys import Keyring
from bot_core.journal.lines import Cause, Entry, LineProblem, check_line
from bot_core.journal.record import GENESIS_MAC, parse_file_name

__all__ = ["DIAGNOSIS_MAX_BYTES", "Diagnosis", "Window", "diagnose"]

DIAGNOSIS_MAX_BYTES = 256 * 1024 * 1024
"""Files larger than this are not read whole to explain a failure (it is still reported)."""


@dataclass(slots=True)
class Window:
    """The lines of up to three neighbouring files, in chain order, checked on demand."""

    keyring: Keyring
    lines: list[tuple[Path, int, bytes]] = field(default_factory=list)
    """(file, line number, bytes without the newline)."""
    others: list[Path] = field(default_factory=list)
    """The chain's other files, searched only for copies of a line."""
    _checked: dict[int, Entry | LineProblem] = field(default_factory=dict)

    @classmethod
    def of(cls, files: list[Path], keyring: Keyring, others: list[Path] | None = None) -> Window:
        window = cls(keyring, others=list(others or []))
        for path in files:
            try:
                if path.stat().st_size > DIAGNOSIS_MAX_BYTES:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            pieces = data.split(b"\n")
            if pieces and pieces[-1] == b"":
                pieces.pop()
            window.lines.extend((path, number, line) for number, line in
                                enumerate(pieces, start=1))
        return window

    def index(self, path: Path, line_no: int) -> int | None:
        for i, (p, n, _) in enumerate(self.lines):
            if p == path and n == line_no:
                return i
        return None

    def checked(self, i: int) -> Entry | LineProblem:
        if i not in self._checked:
            self._checked[i] = check_line(self.lines[i][2], self.keyring)
        return self._checked[i]

    def entry(self, i: int) -> Entry | None:
        result = self.checked(i)
        if isinstance(result, Entry):
            return result
        return result.entry  # signed correctly, outside its key's window: still a record

    def copy_elsewhere(self, line: bytes) -> str | None:
        """``file:line`` of the same bytes as a whole line in one of the other files."""
        for path in self.others:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if data.startswith(line + b"\n"):
                return f"{path.name}:1"
            at = data.find(b"\n" + line + b"\n")
            if at >= 0:
                number = data.count(b"\n", 0, at + 1) + 1
                return f"{path.name}:{number}"
        return None

    def where(self, i: int) -> str:
        path, number, _ = self.lines[i]
        return f"{path.name}:{number}"


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """A finding (``cause`` set), or a torn line a recovery record accounts for (``note``)."""

    cause: Cause | None
    detail: str
    at: tuple[Path, int] | None = None
    """Where the finding is when not at the bad line itself: records deleted from the end of
    the previous file are missing after its last line."""


def _acknowledged_torn(window: Window, bad: int) -> bool:
    """Whether the line after ``bad`` is a recovery record naming ``bad`` as a torn line."""
    nxt = bad + 1
    entry = window.entry(nxt) if nxt < len(window.lines) else None
    if entry is None or entry.type != "recovery":
        return False
    try:
        torn = json.loads(window.lines[nxt][2])["payload"]["torn"]
        path, number, line = window.lines[bad]
        return (isinstance(torn, dict) and torn.get("line") == number
                and window.lines[nxt][0] == path
                and torn.get("sha256") == hashlib.sha256(line).hexdigest())
    except (ValueError, KeyError, TypeError):
        return False


def diagnose(window: Window, bad: int, expected_seq: int, expected_prev: bytes, *,
             first_of_file: bool, chain_start: bool) -> Diagnosis:
    """The cause of the chain stopping at ``window.lines[bad]``.

    :param expected_seq: the sequence number the line should hold.
    :param expected_prev: the MAC of the last good record (what its ``prev_mac`` should be).
    :param first_of_file: the line is the first of a file that follows another.
    :param chain_start: the line is the first of the whole journal.
    """
    nxt = bad + 1
    following = window.entry(nxt) if nxt < len(window.lines) else None
    next_continues = following is not None and following.seq == expected_seq \
        and following.prev_mac == expected_prev
    result = window.checked(bad)
    entry = result if isinstance(result, Entry) else result.entry
    if entry is None:
        assert isinstance(result, LineProblem)
        if next_continues:
            if _acknowledged_torn(window, bad):
                return Diagnosis(None, f"{window.where(bad)}: a line torn by a crash, accounted "
                                 f"for by the recovery record at {window.where(nxt)}")
            return Diagnosis(Cause.INSERTED, f"this line is not part of the chain ({result.detail}); "
                             f"{window.where(nxt)} continues it")
        return Diagnosis(result.cause, result.detail)
    if entry.seq == expected_seq and entry.prev_mac == expected_prev:
        assert isinstance(result, LineProblem)  # a correct link: only the key window is wrong
        return Diagnosis(result.cause, result.detail)
    return _misplaced(window, bad, entry, expected_seq, expected_prev,
                      first_of_file=first_of_file, chain_start=chain_start,
                      next_continues=next_continues)


def _misplaced(window: Window, bad: int, entry: Entry, expected_seq: int, expected_prev: bytes,
               *, first_of_file: bool, chain_start: bool, next_continues: bool) -> Diagnosis:
    """A correctly signed record in the wrong place: which tampering put it there."""
    line = window.lines[bad][2]
    copy = next((i for i, (_, _, other) in enumerate(window.lines) if other == line and i != bad),
                None)
    if copy is not None:
        return Diagnosis(Cause.DUPLICATED, f"repeats {window.where(copy)} (seq {entry.seq})")
    far = window.copy_elsewhere(line)
    if far is not None:
        return Diagnosis(Cause.DUPLICATED, f"repeats {far} (seq {entry.seq})")
    macs = {e.mac for i in range(len(window.lines)) if (e := window.entry(i)) is not None}
    macs.add(GENESIS_MAC.encode("ascii"))
    gap = (f"records {expected_seq}..{entry.seq - 1} are missing" if entry.seq > expected_seq + 1
           else f"record {expected_seq} is missing")
    if chain_start:
        return Diagnosis(Cause.CHAIN_BROKEN_BETWEEN_FILES,
                         f"the journal begins at seq {entry.seq}, not 1: earlier files are "
                         f"missing ({gap})" if entry.seq > 1 else
                         "the journal's first record does not start the chain")
    known_predecessor = entry.prev_mac in macs
    # a record moved (not copied) is missing where it belongs: its successor still names it
    entries = [e for i in range(len(window.lines)) if (e := window.entry(i)) is not None]
    successor = any(e.prev_mac == entry.mac for e in entries) or \
        entry.seq >= max(e.seq for e in entries)
    if entry.seq > expected_seq and known_predecessor and successor:
        moved = next((i for i in range(len(window.lines))
                      if (e := window.entry(i)) is not None and e.seq == expected_seq
                      and e.prev_mac == expected_prev), None)
        if moved is not None:
            return Diagnosis(Cause.REORDERED, f"holds seq {entry.seq} where seq {expected_seq} "
                             f"belongs; seq {expected_seq} is at {window.where(moved)}")
    if next_continues:
        return Diagnosis(Cause.INSERTED, f"a record (seq {entry.seq}, run {entry.run_id or '-'}) "
                         f"that does not belong here; {window.where(bad + 1)} continues the "
                         "chain")
    if not known_predecessor and entry.seq <= expected_seq:
        if first_of_file:
            return Diagnosis(Cause.CHAIN_BROKEN_BETWEEN_FILES,
                             f"this file does not continue the previous one (it begins with seq "
                             f"{entry.seq}, whose predecessor is not the previous file's last "
                             f"record, seq {expected_seq - 1})")
        return Diagnosis(Cause.INSERTED, f"a record (seq {entry.seq}, run {entry.run_id or '-'}) "
                         "that does not belong here: the chain does not pass through it")
    if entry.seq > expected_seq:
        if first_of_file:
            return _gap_between_files(window, bad, entry, expected_seq, gap)
        return Diagnosis(Cause.DELETED, f"{gap} before this line (it holds seq {entry.seq})")
    return Diagnosis(Cause.INSERTED, f"seq {entry.seq} again after seq {expected_seq - 1}: a "
                     "record replayed from elsewhere in the chain")


def _gap_between_files(window: Window, bad: int, entry: Entry, expected_seq: int,
                       gap: str) -> Diagnosis:
    """Records missing where one file meets the next: at the start of this file (its name says
    it begins earlier), at the end of the previous one (this file's first record names it as
    its predecessor), or in whole files that are gone."""
    path = window.lines[bad][0]
    named = parse_file_name(path)
    if named is not None and named.first_seq == expected_seq:
        return Diagnosis(Cause.DELETED, f"{gap} at the start of this file (it begins with seq "
                         f"{entry.seq})")
    previous = window.lines[bad - 1][0] if bad > 0 else None
    claimed = None
    if entry.type == "journal_file":
        with contextlib.suppress(ValueError, KeyError, TypeError):
            claimed = json.loads(window.lines[bad][2])["payload"]["previous_file"]
    if previous is not None and claimed == previous.name:
        last_line = window.lines[bad - 1][1]
        return Diagnosis(Cause.DELETED, f"{gap} at the end of {previous.name} (the next file "
                         f"begins with seq {entry.seq})", at=(previous, last_line + 1))
    return Diagnosis(Cause.CHAIN_BROKEN_BETWEEN_FILES,
                     f"the previous file ends at seq {expected_seq - 1}, this one begins at seq "
                     f"{entry.seq} after {claimed or 'an unknown file'}: {gap} (a whole file is "
                     "missing)")
