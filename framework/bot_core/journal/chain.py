"""Walking one chain, line by line and file by file: the verifier's fast pass.

Intact lines are checked without parsing their JSON: the writer's framing (the bot, key and
mode prefix, the ``mac`` member), one HMAC per line from a pre-keyed copy, and the link fields at
the places an authentic line has them. Anything else goes to :meth:`ChainScan._slow_line`, which
checks the line whole (a new key, mode or run) or asks :mod:`bot_core.journal.diagnose` why the
chain stops there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot_core.journal.checkpoint import Checkpoint
from bot_core.journal.diagnose import Window, diagnose
from bot_core.journal.keys import Keyring
from bot_core.journal.lines import HEAD, TAIL_START, Cause, Entry, check_line
from bot_core.journal.record import (
    CHECKPOINT_NAME,
    GENESIS_MAC,
    LOCK_NAME,
    MAC_MEMBER_BYTES,
    MAX_LINE_BYTES,
    JournalFile,
)
from bot_core.journal.report import ChainReport, Finding
from bot_core.journal.times import format_ns

__all__ = ["ChainScan", "Stop"]

_CHUNK_BYTES = 16 * 1024 * 1024
_FOREVER = 1 << 63


class Stop(Exception):
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


class ChainScan:
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
        self.first_prev = self.last_mac
        self.note_start = True
        """Say when files given one by one do not begin the chain (not for a single file
        checked alone by a worker, see :mod:`bot_core.journal.parallel`)."""
        self.checkpoint = checkpoint
        self.cp_seq = checkpoint.head_seq if checkpoint is not None else -1
        """The sequence number whose MAC the checkpoint names (kept in ``checkpoint_mac``)."""
        self.checkpoint_mac: bytes | None = None
        self.runs: set[bytes] = set()
        self.keys: set[str] = set()
        # the fast path's cache: lines starting with this prefix are signed by this key
        self.prefix = b"\n"  # no line contains a newline: nothing matches before the first key
        self.sign: Any = None
        self.key_from, self.key_until = 0, 0
        self.bounded = True
        self.run_seg = b"\n"

    # -- the fast pass --------------------------------------------------------------------------

    def _chunks(self, path: Path) -> Iterator[tuple[bytes, int, int, bool]]:
        """The file in chunks of whole lines: ``(data, limit, number of the first line, last)``,
        the lines being ``data[:limit]``, each ending with a newline. The last chunk holds only
        what follows the last newline (a torn line), possibly nothing.

        Lines are walked by offset, never split into objects of their own: at ~600 bytes each
        they would each cost an allocation and a copy, a fifth of the verifier's time.
        """
        number = 1
        carry = b""
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                data = carry + chunk if carry else chunk
                limit = data.rfind(b"\n") + 1
                carry = data[limit:]
                if len(carry) > MAX_LINE_BYTES:
                    if limit:
                        yield data, limit, number, False
                        number += data.count(b"\n", 0, limit)
                    raise Stop(Finding(Cause.MALFORMED, str(path), number,
                                       f"a line longer than the {MAX_LINE_BYTES:,}-byte limit"))
                if limit:
                    yield data, limit, number, False
                    number += data.count(b"\n", 0, limit)
        yield carry, 0, number, True

    def _learn_line(self, line: bytes) -> bool:
        """A line the fast path did not accept: check it whole; when it continues the chain,
        cache what the next lines are checked by (its key, bot and mode prefix, its run)."""
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
        self.key_until = _FOREVER if end is None else end
        self.bounded = self.key_from > 0 or end is not None
        run = checked.run_id.encode("ascii")
        self.run_seg = b'","run_id":"' + run + b'","seq":'
        self.runs.add(run)
        self.keys.add(key.key_id)
        if self.report.bot is None:
            self.report.bot = checked.bot
        return True

    def _in_window(self, line: bytes, seq_at: int) -> bool:
        """Whether the record's time is in its key's window (keys that are not valid forever)."""
        ts_at = line.index(b'"ts_ns":', seq_at) + len(b'"ts_ns":')
        ts = int(line[ts_at:line.index(b",", ts_at)])
        return self.key_from <= ts < self.key_until

    def scan_file(self, index: int) -> int:
        """Check every line of one file; return its number of complete lines."""
        jfile = self.files[index]
        path = jfile.path
        self.report.files.append(str(path))
        cp_seq = self.cp_seq
        member, mac_mark, tail_mark = MAC_MEMBER_BYTES, b',"mac":"', TAIL_START
        for data, limit, first, last_chunk in self._chunks(path):
            if last_chunk:
                if data:
                    self._torn_end(index, first, data)
                if jfile.path.stat().st_size == 0:
                    self.report.notes.append(f"{path.name} is empty (the writer stopped right "
                                             "after creating it)")
                return first - 1
            expected, last_mac, prefix = self.expected, self.last_mac, self.prefix
            sign, run_seg, bounded = self.sign, self.run_seg, self.bounded
            view, find, number, start = memoryview(data), data.find, first, 0
            while start < limit:
                end = find(b"\n", start, limit)
                ok = False
                own = data[end - 66:end - 2]
                # the MAC covers all but its own member: that member's framing is checked here
                if end - start > member and data.startswith(prefix, start) \
                        and data.startswith(mac_mark, end - member) \
                        and data.endswith(b'"}', start, end):
                    mac = sign()
                    mac.update(view[start:end - member])
                    mac.update(b"}")
                    # authentic bytes are the writer's framing: the fields sit where it puts them
                    if mac.hexdigest().encode("ascii") == own:
                        at = data.rfind(tail_mark, start, end) + len(tail_mark)
                        if data.startswith(last_mac, at) and data.startswith(run_seg, at + 64):
                            seq_at = at + 64 + len(run_seg)
                            ok = data.startswith(b"%d," % expected, seq_at)
                            if ok and bounded:
                                ok = self._in_window(data[start:end], seq_at - start)
                if not ok:  # not the common case: check the line whole, or explain it
                    self.expected, self.last_mac = expected, last_mac
                    line = data[start:end]
                    own = line[-66:-2]
                    start, number = end + 1, number + 1
                    if not self._slow_line(index, line, number - 1):
                        continue  # a torn line accounted for: the chain goes on after it
                    prefix, sign = self.prefix, self.sign
                    run_seg, bounded = self.run_seg, self.bounded
                    expected, last_mac = self.expected, self.last_mac  # a start sets them
                else:
                    start, number = end + 1, number + 1
                if expected == cp_seq:
                    self.checkpoint_mac = own
                last_mac = own
                expected += 1
            view.release()
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
            raise Stop(Finding(checked.cause, str(path), line_no, checked.detail))
        self.expected, self.last_mac, self.started = checked.seq, checked.prev_mac, True
        self.first_seq, self.first_prev = checked.seq, checked.prev_mac
        if checked.seq != 1 and self.note_start:
            self.report.notes.append(f"the files begin at seq {checked.seq}: their link to "
                                     "earlier files was not checked")
        if not self._learn_line(line):
            raise Stop(Finding(Cause.MODIFIED, str(path), line_no, "cannot start the chain here"))

    def _diagnose(self, index: int, line_no: int) -> None:
        neighbours = [f.path for f in self.files[max(0, index - 1):index + 2]]
        window = Window.of(neighbours, self.keyring,
                           [f.path for f in self.files if f.path not in neighbours])
        path = self.files[index].path
        bad = window.index(path, line_no)
        if bad is None:  # the file changed under us, or is too large to explain
            raise Stop(Finding(Cause.MODIFIED, str(path), line_no,
                                "this line does not continue the chain"))
        chain_start = self.whole and index == 0 and line_no == 1 and \
            self.files[0].first_seq != 1
        verdict = diagnose(window, bad, self.expected, self.last_mac,
                           first_of_file=line_no == 1 and index > 0, chain_start=chain_start)
        if verdict.cause is not None:
            where, number = verdict.at or (path, line_no)
            raise Stop(Finding(verdict.cause, str(where), number, verdict.detail))
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
            raise Stop(Finding(Cause.TRUNCATED_TAIL, str(path), line_no,
                                f"the file ends inside seq {self.expected}'s line, but the "
                                f"checkpoint says the chain reaches seq {promised}"))
        where = "the journal's last line" if last_file else "the last line of a file that is " \
            "not the journal's last"
        raise Stop(Finding(Cause.TORN_TAIL, str(path), line_no,
                            f"{where} has no newline: a write cut short ({len(piece)} bytes; "
                            "a crash, or the file was truncated)"))

    # -- the end ------------------------------------------------------------------------------

    def check_checkpoint(self, last_line: tuple[str, int]) -> None:
        cp = self.checkpoint
        if cp is None:
            return
        last_seq = self.expected - 1
        if cp.bot != (self.report.bot or cp.bot):
            raise Stop(Finding(Cause.CHECKPOINT, CHECKPOINT_NAME, 0,
                                f"the checkpoint belongs to bot {cp.bot!r}"))
        if cp.head_seq > last_seq:
            file, line = last_line
            raise Stop(Finding(Cause.TRUNCATED_TAIL, file, line + 1,
                                f"the journal ends at seq {last_seq}, but the checkpoint (written "
                                f"{format_ns(cp.ts_ns)}) says it reaches seq {cp.head_seq} in "
                                f"{cp.head_file}: records {last_seq + 1}..{cp.head_seq} are "
                                "missing"))
        if self.checkpoint_mac is not None and self.checkpoint_mac.decode("ascii") != cp.head_mac:
            raise Stop(Finding(Cause.CHECKPOINT, CHECKPOINT_NAME, 0,
                                f"the checkpoint names seq {cp.head_seq} with another MAC than "
                                "the journal's: the chain was rewritten from there"))
        self.report.checkpoint_seq = cp.head_seq
        if not cp.clean:
            self.report.notes.append(
                f"the writer has not closed cleanly since the checkpoint at seq {cp.head_seq} "
                "(still running, or stopped by a crash)")
