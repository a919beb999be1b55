"""The verifier: is a journal exactly what its writer wrote?

``verify_paths`` checks each journal (a bot's directory, or files given one by one) line by
line: every record must be correctly signed by a key of the keyring, inside that key's window,
and continue the chain (``seq`` one more than the previous, ``prev_mac`` the previous record's
MAC), across files. Then the signed checkpoint says whether records are missing at the end.
It stops at the first bad line and names the file, the line and the cause
(:class:`~bot_core.journal.lines.Cause`); malformed input (binary, not JSON, huge lines) is a
finding like any other, never an exception.

The pass over intact lines is the fast path: it checks the writer's framing with two regular
expressions and recomputes one HMAC per line from a pre-keyed copy, without parsing the JSON;
anything unexpected goes to :mod:`bot_core.journal.diagnose` to find out why.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot_core.errors import UsageError
from bot_core.journal.checkpoint import Checkpoint, CheckpointProblem, read_checkpoint
from bot_core.journal.diagnose import Window, diagnose
from bot_core.journal.keys import Keyring
from bot_core.journal.lines import HEAD, TAIL, TAIL_START, Cause, Entry, check_line
from bot_core.journal.record import (
    CHECKPOINT_NAME,
    GENESIS_MAC,
    LOCK_NAME,
    MAC_MEMBER_BYTES,
    MAX_LINE_BYTES,
    JournalFile,
    journal_files,
    parse_file_name,
)
from bot_core.journal.times import format_ns

__all__ = ["ChainReport", "Finding", "verify_paths"]

_CHUNK_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Finding:
    """The first problem of a journal: where it is and why."""

    cause: Cause
    file: str
    line: int
    detail: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.cause.value}: {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        return {"cause": self.cause.value, "file": self.file, "line": self.line,
                "detail": self.detail}


@dataclass(slots=True)
class ChainReport:
    """What verifying one journal (one bot's chain) found."""

    target: str
    files: list[str] = field(default_factory=list)
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    bot: str | None = None
    key_ids: list[str] = field(default_factory=list)
    runs: int = 0
    checkpoint_seq: int | None = None
    finding: Finding | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.finding is None

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "ok": self.ok, "bot": self.bot, "files": self.files,
                "records": self.records, "first_seq": self.first_seq,
                "last_seq": self.last_seq, "key_ids": self.key_ids, "runs": self.runs,
                "checkpoint_seq": self.checkpoint_seq,
                "finding": None if self.finding is None else self.finding.as_dict(),
                "notes": self.notes}


class _Stop(Exception):
    """The first finding: verification of this chain ends."""

    def __init__(self, finding: Finding) -> None:
        self.finding = finding


def _writer_active(directory: Path) -> bool:
    """Whether a writer holds the directory's lock (its last line may be half written)."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fd = os.open(directory / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


class _Chain:
    """One chain being verified: the state carried from line to line and file to file."""

    def __init__(self, report: ChainReport, files: list[JournalFile], keyring: Keyring, *,
                 whole: bool, checkpoint: Checkpoint | None) -> None:
        self.report = report
        self.files = files
        self.keyring = keyring
        self.whole = whole
        """The journal's whole directory: the chain must start at seq 1."""
        self.expected = 1
        self.last_mac = GENESIS_MAC.encode("ascii")
        self.started = whole
        self.first_seq = 1
        self.checkpoint = checkpoint
        self.checkpoint_mac: bytes | None = None
        self.runs: set[bytes] = set()
        self.keys: set[str] = set()
        # the fast path's cache: lines starting with this prefix are signed by this key
        self.prefix = b"\n"  # no line contains a newline: nothing matches before the first key
        self.sign: Any = None
        self.key_from, self.key_until = 0, 0

    # -- the fast pass --------------------------------------------------------------------------

    def _lines(self, path: Path) -> Iterator[tuple[list[bytes], int, bool]]:
        """The file's complete lines in chunks: (lines, number of the first, last chunk).
        A torn last line (no newline) is returned as the last line of the last chunk, flagged
        by the file not ending in a newline (see :meth:`scan_file`)."""
        number = 1
        carry = b""
        with open(path, "rb") as handle:
            while True:
                chunk = handle.read(_CHUNK_BYTES)
                if not chunk:
                    break
                pieces = (carry + chunk).split(b"\n")
                carry = pieces.pop()
                if len(carry) > MAX_LINE_BYTES:
                    yield pieces, number, False
                    number += len(pieces)
                    raise _Stop(Finding(Cause.MALFORMED, str(path), number,
                                        f"a line longer than the {MAX_LINE_BYTES:,}-byte limit"))
                yield pieces, number, False
                number += len(pieces)
        yield ([carry] if carry else []), number, True

    def _learn_line(self, line: bytes) -> bool:
        """A line the prefix cache does not cover: check it whole, cache its key if it fits."""
        checked = check_line(line, self.keyring)
        if not isinstance(checked, Entry) or checked.seq != self.expected \
                or checked.prev_mac != self.last_mac:
            return False
        head = HEAD.match(line)
        key = self.keyring.get(checked.key_id)
        if head is None or key is None:
            return False
        self.prefix = line[:head.end()]
        self.sign = key.new_mac
        self.key_from, end = self.keyring.window(key.key_id)
        self.key_until = (1 << 63) if end is None else end
        self.keys.add(key.key_id)
        if self.report.bot is None:
            self.report.bot = checked.bot
        return True

    def scan_file(self, index: int) -> int:
        """Check every line of one file; return its number of complete lines."""
        jfile = self.files[index]
        path = jfile.path
        self.report.files.append(str(path))
        cp_seq = self.checkpoint.head_seq if self.checkpoint is not None else -1
        runs_add, tail_match, cut = self.runs.add, TAIL.match, -MAC_MEMBER_BYTES
        for lines, first, last_chunk in self._lines(path):
            if last_chunk:
                if lines:
                    self._torn_end(index, first, lines[0])
                if jfile.path.stat().st_size == 0:
                    self.report.notes.append(f"{path.name} is empty (the writer stopped right "
                                             "after creating it)")
                return first - 1
            expected, last_mac, prefix = self.expected, self.last_mac, self.prefix
            sign, key_from, key_until = self.sign, self.key_from, self.key_until
            for offset, line in enumerate(lines):
                match = None
                if line.startswith(prefix):
                    at = line.rfind(TAIL_START)
                    match = tail_match(line, at) if at > 0 else None
                    if match is not None:
                        mac = sign()
                        mac.update(line[:cut] + b"}")
                        if match[1] != last_mac or int(match[3]) != expected \
                                or not key_from <= int(match[4]) < key_until \
                                or mac.hexdigest().encode("ascii") != match[6]:
                            match = None
                if match is None:  # not the common case: check the line whole, or explain it
                    self.expected, self.last_mac = expected, last_mac
                    if not self._slow_line(index, line, first + offset):
                        continue  # a torn line accounted for: the chain goes on after it
                    prefix, sign = self.prefix, self.sign
                    key_from, key_until = self.key_from, self.key_until
                    match = tail_match(line, line.rfind(TAIL_START))
                    assert match is not None
                runs_add(match[2])
                if expected == cp_seq:
                    self.checkpoint_mac = match[6]
                last_mac = match[6]
                expected += 1
            self.expected, self.last_mac = expected, last_mac
        return 0  # not reached: the last chunk returns

    def _slow_line(self, index: int, line: bytes, line_no: int) -> bool:
        """A line the fast path did not accept: True when it continues the chain after all
        (a new key, mode or run prefix); False for a torn line a recovery record accounts for.

        :raises _Stop: with the finding otherwise.
        """
        if not self.started:
            self._start_here(line, self.files[index].path, line_no)
            return True
        if self._learn_line(line):
            return True
        self._diagnose(index, line_no)
        return False

    def _start_here(self, line: bytes, path: Path, line_no: int) -> None:
        """Files given one by one: the chain starts at the first record, whatever its seq."""
        checked = check_line(line, self.keyring)
        if not isinstance(checked, Entry):
            raise _Stop(Finding(checked.cause, str(path), line_no, checked.detail))
        self.expected, self.last_mac, self.started = checked.seq, checked.prev_mac, True
        self.first_seq = checked.seq
        if checked.seq != 1:
            self.report.notes.append(f"the files begin at seq {checked.seq}: their link to "
                                     "earlier files was not checked")
        if not self._learn_line(line):
            raise _Stop(Finding(Cause.MODIFIED, str(path), line_no, "cannot start the chain here"))

    def _diagnose(self, index: int, line_no: int) -> None:
        neighbours = [f.path for f in self.files[max(0, index - 1):index + 2]]
        window = Window.of(neighbours, self.keyring)
        path = self.files[index].path
        bad = window.index(path, line_no)
        if bad is None:  # the file changed under us, or is too large to explain
            raise _Stop(Finding(Cause.MODIFIED, str(path), line_no,
                                "this line does not continue the chain"))
        chain_start = self.whole and index == 0 and line_no == 1 and \
            self.files[0].first_seq != 1
        verdict = diagnose(window, bad, self.expected, self.last_mac,
                           first_of_file=line_no == 1 and index > 0, chain_start=chain_start)
        if verdict.cause is not None:
            where, number = verdict.at or (path, line_no)
            raise _Stop(Finding(verdict.cause, str(where), number, verdict.detail))
        self.report.notes.append(verdict.detail)

    def _torn_end(self, index: int, line_no: int, piece: bytes) -> None:
        """The file does not end with a newline: its last line was cut short."""
        path = self.files[index].path
        last_file = index == len(self.files) - 1
        if last_file and _writer_active(path.parent):
            self.report.notes.append(f"{path.name}:{line_no}: being written by a running writer")
            return
        promised = self.checkpoint.head_seq if self.checkpoint is not None else 0
        if last_file and promised >= self.expected:
            raise _Stop(Finding(Cause.TRUNCATED_TAIL, str(path), line_no,
                                f"the file ends inside seq {self.expected}'s line, but the "
                                f"checkpoint says the chain reaches seq {promised}"))
        where = "the journal's last line" if last_file else "the last line of a file that is " \
            "not the journal's last"
        raise _Stop(Finding(Cause.TORN_TAIL, str(path), line_no,
                            f"{where} has no newline: a write cut short ({len(piece)} bytes; "
                            "a crash, or the file was truncated)"))

    # -- the end ------------------------------------------------------------------------------

    def check_checkpoint(self, last_line: tuple[str, int]) -> None:
        cp = self.checkpoint
        if cp is None:
            return
        last_seq = self.expected - 1
        if cp.bot != (self.report.bot or cp.bot):
            raise _Stop(Finding(Cause.CHECKPOINT, CHECKPOINT_NAME, 0,
                                f"the checkpoint belongs to bot {cp.bot!r}"))
        if cp.head_seq > last_seq:
            file, line = last_line
            raise _Stop(Finding(Cause.TRUNCATED_TAIL, file, line + 1,
                                f"the journal ends at seq {last_seq}, but the checkpoint (written "
                                f"{format_ns(cp.ts_ns)}) says it reaches seq {cp.head_seq} in "
                                f"{cp.head_file}: records {last_seq + 1}..{cp.head_seq} are "
                                "missing"))
        if self.checkpoint_mac is not None and self.checkpoint_mac.decode("ascii") != cp.head_mac:
            raise _Stop(Finding(Cause.CHECKPOINT, CHECKPOINT_NAME, 0,
                                f"the checkpoint names seq {cp.head_seq} with another MAC than "
                                "the journal's: the chain was rewritten from there"))
        self.report.checkpoint_seq = cp.head_seq
        if not cp.clean:
            self.report.notes.append(
                f"the writer has not closed cleanly since the checkpoint at seq {cp.head_seq} "
                "(still running, or stopped by a crash)")


def _verify_chain(target: str, files: list[JournalFile], keyring: Keyring, *, whole: bool,
                  directory: Path | None) -> ChainReport:
    report = ChainReport(target)
    checkpoint = None
    untrusted: Finding | None = None
    """A checkpoint that cannot be trusted is reported after the lines, which come first."""
    if directory is not None:
        try:
            checkpoint = read_checkpoint(directory, keyring)
        except CheckpointProblem as exc:
            untrusted = Finding(Cause.CHECKPOINT, str(directory / CHECKPOINT_NAME), 0,
                                f"the checkpoint cannot be trusted: {exc}")
        if checkpoint is None and untrusted is None and whole and files:
            report.notes.append("no checkpoint: records missing at the end would not be noticed")
    if checkpoint is not None and not whole and checkpoint.head_file not in \
            {f.path.name for f in files}:
        checkpoint = None  # files given one by one, not up to the head: nothing to compare
    chain = _Chain(report, files, keyring, whole=whole, checkpoint=checkpoint)
    last_line = ("", 0)
    try:
        if not files:
            raise _Stop(Finding(Cause.TRUNCATED_TAIL if checkpoint is not None else
                                Cause.NO_JOURNAL, target, 0,
                                "no journal files (the checkpoint says the chain reached seq "
                                f"{checkpoint.head_seq})" if checkpoint is not None else
                                "no journal files here"))
        for index in range(len(files)):
            last_line = (str(files[index].path), chain.scan_file(index))
        chain.check_checkpoint(last_line)
        if untrusted is not None:
            raise _Stop(untrusted)
    except _Stop as stop:
        report.finding = stop.finding
    report.records = max(0, chain.expected - chain.first_seq)
    if report.records:
        report.first_seq, report.last_seq = chain.first_seq, chain.expected - 1
    report.key_ids = sorted(chain.keys)
    report.runs = len({r for r in chain.runs if r})
    return report


def _chains_in(directory: Path) -> list[Path]:
    """Journal directories at or below ``directory`` (a bot's, or the home's ``journal``)."""
    if journal_files(directory) or (directory / CHECKPOINT_NAME).exists():
        return [directory]
    with contextlib.suppress(OSError):
        return sorted(p for p in directory.iterdir() if p.is_dir()
                      and (journal_files(p) or (p / CHECKPOINT_NAME).exists()))
    return []


def verify_paths(paths: Sequence[Path], keyring: Keyring) -> list[ChainReport]:
    """Verify journals: each directory is one bot's chain (or holds bots' directories); files
    given directly are verified as one chain per directory, in chain order.

    :raises UsageError: a path does not exist or is neither a file nor a directory.
    """
    reports: list[ChainReport] = []
    loose: dict[Path, list[JournalFile]] = {}
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or directory")
        if path.is_dir():
            chains = _chains_in(path)
            if not chains:
                reports.append(ChainReport(str(path), finding=Finding(
                    Cause.NO_JOURNAL, str(path), 0, "no journal files here")))
            for directory in chains:
                reports.append(_verify_chain(str(directory), journal_files(directory), keyring,
                                             whole=True, directory=directory))
        elif path.is_file():
            jfile = parse_file_name(path) or JournalFile(path, dt.date(1970, 1, 1), 0)
            loose.setdefault(path.resolve().parent, []).append(jfile)
        else:
            raise UsageError(f"{path}: not a file or directory")
    for directory, files in loose.items():
        files.sort(key=lambda f: (f.first_seq, f.path.name))
        target = ", ".join(str(f.path) for f in files)
        reports.append(_verify_chain(target, files, keyring, whole=False, directory=directory))
    return reports

