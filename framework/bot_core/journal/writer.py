"""The journal writer: one writer per bot, records appended in order, signed and chained.

* One process at a time writes a journal directory (an exclusive lock on ``.writer.lock``).
* Each record is written with one ``write`` call as soon as it is appended, so a killed process
  loses nothing it appended; :class:`FsyncPolicy` decides when it reaches the disk (every
  record, or every N ms from a background thread: 100 ms by default; always on :meth:`close`).
* Files rotate at UTC midnight and when they would exceed ``max_file_bytes``; each new file
  begins with a ``journal_file`` record carrying the previous file's last MAC.
* A signed checkpoint (head sequence number and MAC) replaces ``checkpoint.json`` at intervals,
  after the records it names were synced, and on close.
* Reopening continues the chain after the last record, which must verify. A torn last line
  (a crash in the middle of a write) is ended with a newline and named, with its SHA-256, in a
  ``recovery`` record: the verifier then knows it for a crash, not a tampering.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot_core.errors import ConfigError, ConfigProblem, JournalError
from bot_core.faults import armed, fault_point
from bot_core.journal.checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from bot_core.journal.files import fsync_directory
from bot_core.journal.keys import JournalKey, Keyring, load_keyring
from bot_core.journal.lines import Entry, LineProblem, check_line
from bot_core.journal.record import (
    GENESIS_MAC,
    LOCK_NAME,
    MAX_RECORD_BYTES,
    JournalFile,
    file_name,
    journal_files,
    valid_identifier,
)
from bot_core.journal.sanitize import encode_payload
from bot_core.journal.tail import Tail, read_tail

__all__ = ["FsyncPolicy", "JournalSettings", "JournalWriter"]

FSYNC_ENV = "BOT_CORE_JOURNAL_FSYNC"
MAX_FILE_ENV = "BOT_CORE_JOURNAL_MAX_FILE_MB"
DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
_ENVELOPE_BYTES = 512
"""More than the fields around the payload take, to decide a size rotation before signing."""


@dataclass(frozen=True, slots=True)
class FsyncPolicy:
    """When appended records are forced to disk.

    ``interval_ms == 0``: after every record (slowest, nothing appended is lost on power loss).
    Otherwise at most every ``interval_ms`` (default 100 ms) by a background thread, and on
    :meth:`JournalWriter.close`: a power loss may lose the last interval, a killed process
    loses nothing (each record is written to the OS at once).
    """

    interval_ms: int = 100

    @classmethod
    def parse(cls, text: str) -> FsyncPolicy:
        """``record`` (every record) or an interval: ``100ms``, ``100``, ``1s``.

        :raises ValueError: anything else, with what is accepted.
        """
        raw = text.strip().lower()
        if raw in ("record", "every-record", "always"):
            return cls(0)
        scale = 1
        if raw.endswith("ms"):
            raw = raw[:-2]
        elif raw.endswith("s"):
            raw, scale = raw[:-1], 1000
        if raw.isdigit() and 0 < int(raw) * scale <= 60_000:
            return cls(int(raw) * scale)
        raise ValueError(f"{text!r} is not an fsync policy: use 'record' or an interval "
                         "from 1ms to 60s such as '100ms'")

    @property
    def every_record(self) -> bool:
        return self.interval_ms == 0


@dataclass(frozen=True, slots=True)
class JournalSettings:
    """How a journal is written (not what: that is the keyring and the bot)."""

    fsync: FsyncPolicy = FsyncPolicy()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    """A file is closed and a new one begun before it would grow beyond this."""
    checkpoint_interval_ms: int = 1000
    """Longest time between two checkpoints while records are being written."""
    rotate_daily: bool = True
    """Begin a new file at UTC midnight."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> JournalSettings:
        """Settings from ``BOT_CORE_JOURNAL_FSYNC`` (``record`` or ``100ms``) and
        ``BOT_CORE_JOURNAL_MAX_FILE_MB``; defaults for what is unset.

        :raises ConfigError: a value that is not allowed.
        """
        env = os.environ if environ is None else environ
        problems: list[ConfigProblem] = []
        fsync = FsyncPolicy()
        if env.get(FSYNC_ENV):
            try:
                fsync = FsyncPolicy.parse(env[FSYNC_ENV])
            except ValueError as exc:
                problems.append(ConfigProblem(f"env:{FSYNC_ENV}", "", "<n/a>", str(exc)))
        max_bytes = DEFAULT_MAX_FILE_BYTES
        if env.get(MAX_FILE_ENV):
            raw = env[MAX_FILE_ENV].strip()
            if raw.isdigit() and 1 <= int(raw) <= 4096:
                max_bytes = int(raw) * 1024 * 1024
            else:
                problems.append(ConfigProblem(f"env:{MAX_FILE_ENV}", "", raw,
                                              "must be a whole number of MiB from 1 to 4096"))
        if problems:
            raise ConfigError(problems)
        return cls(fsync=fsync, max_file_bytes=max_bytes)


def _utc_day(ts_ns: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC).date()


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    if written != len(data):  # a short write (a full disk reports itself on the next one)
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view):]


class JournalWriter:
    """Appends signed, chained records to the journal in ``directory`` (one chain per bot).

    :param directory: the bot's journal directory (created owner-only if missing).
    :param bot: the bot's name, in every record.
    :param keyring: the keys to sign with (:func:`~bot_core.journal.keys.keyring_for_run`).
    :param run_id: run id of the records the writer writes itself until :meth:`append` names
        another.
    :param mode: run mode, likewise.
    :param settings: fsync policy, file size, checkpoint interval.
    :param clock: wall clock, UTC ns (tests move it to cross midnight or a key's activation).
    :raises JournalError: the directory is locked by another writer, or the journal's last record
        does not verify.
    """

    def __init__(self, directory: Path, bot: str, keyring: Keyring, *, run_id: str = "",
                 mode: str = "", settings: JournalSettings | None = None,
                 clock: Callable[[], int] = time.time_ns) -> None:
        for value, label in ((bot, "bot"), (run_id, "run id"), (mode, "mode")):
            if not valid_identifier(value) or (label == "bot" and not value):
                raise JournalError(f"journal {label} {value!r} must be 1-128 letters, digits, "
                                   "'_', '.', ':' or '-'", path=str(directory))
        self.directory = directory
        self.bot = bot
        self.settings = settings or JournalSettings()
        self._keyring = keyring
        self._keyring_mtime = self._mtime(keyring.path)
        self._clock = clock
        self._run_id, self._mode = run_id, mode
        self._lock = threading.Lock()
        """Guards the chain: sequence, MAC, file, key. Held briefly for each append."""
        self._durability = threading.Lock()
        """Held around fsyncs and checkpoints done outside ``_lock``, and while closing file
        descriptors (so no fsync ever runs on a closed descriptor). Taken before ``_lock``."""
        self._closed = False
        self._failure: BaseException | None = None
        self._retired: list[int] = []
        self._dirty = False
        self._key: JournalKey = keyring.keys[0]
        self._key_from, self._key_until = 0, -1
        self._prefix = ""
        self._new_mac = self._key.new_mac
        self._known_types: set[str] = set()
        self._rotate_at_ns = 1 << 63
        """UTC midnight after the current file's day (never, without daily rotation)."""
        self._seq, self._mac = 0, GENESIS_MAC
        self._fd = -1
        self._file: JournalFile | None = None
        self._file_size = 0
        self._synced: tuple[int, str, str] = (0, GENESIS_MAC, "")
        self._checkpointed_seq = -1
        self._last_checkpoint_ns = 0
        self._torn_write = armed("mid_journal_write")
        self._sync_each = self.settings.fsync.every_record
        self.records_written = 0
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._lock_fd = self._acquire_directory()
        except OSError as exc:
            raise JournalError(f"cannot open the journal directory {directory}: "
                               f"{exc.strerror or exc}", path=str(directory)) from None
        try:
            self._open_chain()
            self._sync_now(checkpoint=True, clean=False)
        except BaseException:
            self._release()
            raise
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._background, name=f"journal-{bot}",
                                        daemon=True)
        self._thread.start()

    # -- public -------------------------------------------------------------------------------

    @property
    def seq(self) -> int:
        """Sequence number of the last record appended."""
        return self._seq

    @property
    def head_mac(self) -> str:
        return self._mac

    @property
    def failed(self) -> bool:
        """A write or sync failed: the writer refuses every further record."""
        return self._failure is not None

    @property
    def path(self) -> Path:
        """The file records are appended to now."""
        assert self._file is not None
        return self._file.path

    def append(self, record_type: str, payload: Mapping[str, Any], *, run_id: str | None = None,
               mode: str | None = None, trusted_shape: bool = False) -> int:
        """Sanitise, sign and write one record; return its sequence number.

        :param record_type: one of :data:`~bot_core.journal.record.RECORD_TYPES` (or another
            lower-case name).
        :param payload: what happened; sanitised (see :mod:`bot_core.journal.sanitize`).
        :param run_id: the run the record belongs to (default: the last one named).
        :param mode: the run's mode (default: the last one named).
        :param trusted_shape: see :func:`~bot_core.journal.sanitize.encode_payload`.
        :raises JournalError: the writer is closed, or writing or syncing failed (the journal
            then refuses every further record: a bot must not go on unrecorded).
        """
        payload_text = encode_payload(payload, trusted_shape=trusted_shape)
        if len(payload_text) > MAX_RECORD_BYTES:
            payload_text = encode_payload(self._cut_payload(payload_text))
        with self._lock:
            if self._closed or self._failure is not None:
                self._check_usable()
            if run_id is not None and run_id != self._run_id:
                self._set_run(run_id, self._mode)
            if mode is not None and mode != self._mode:
                self._set_run(self._run_id, mode)
            return self._append_locked(record_type, payload_text)

    def sync(self, *, checkpoint: bool = True) -> None:
        """Force every record appended so far to disk, then write a checkpoint naming the last."""
        self._sync_now(checkpoint=checkpoint, clean=False)

    def close(self) -> None:
        """Sync, write a final checkpoint (marked clean), stop the background thread, unlock.
        Safe to call twice."""
        if self._closed:
            return
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        try:
            if self._failure is None:
                self._sync_now(checkpoint=True, clean=True)
        finally:
            with self._durability, self._lock:
                self._closed = True
                for fd in [*self._retired, self._fd]:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                self._retired.clear()
            self._release()

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- appending ----------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._closed:
            raise JournalError(f"the journal {self.directory} is closed", path=str(self.directory))
        if self._failure is not None:
            raise JournalError(f"the journal {self.directory} failed earlier and accepts no more "
                               f"records: {self._failure}", path=str(self.directory))

    def _set_run(self, run_id: str, mode: str) -> None:
        for value, label in ((run_id, "run id"), (mode, "mode")):
            if not valid_identifier(value):
                raise JournalError(f"journal {label} {value!r} must be letters, digits, '_', "
                                   "'.', ':' or '-'", path=str(self.directory))
        self._run_id, self._mode = run_id, mode
        self._prefix = ""

    @staticmethod
    def _cut_payload(text: str) -> dict[str, Any]:
        return {"[cut]": f"payload of {len(text.encode('utf-8'))} bytes",
                "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}

    def _append_locked(self, record_type: str, payload_text: str) -> int:
        if record_type not in self._known_types:
            if not valid_identifier(record_type, kind="type"):
                raise JournalError(f"journal record type {record_type!r} must be 1-40 "
                                   "lower-case letters or '_'", path=str(self.directory))
            self._known_types.add(record_type)
        ts = self._clock()
        if ts >= self._rotate_at_ns or (self._file_size and self._file_size + len(payload_text)
                                        + _ENVELOPE_BYTES > self.settings.max_file_bytes):
            self._rotate(ts)
        return self._write_record(record_type, payload_text, ts)

    def _write_record(self, record_type: str, payload_text: str, ts: int) -> int:
        if not self._key_from <= ts < self._key_until:
            self._key, self._key_until = self._keyring.active_at(ts)
            self._key_from = self._key.activated_ns
            self._new_mac = self._key.new_mac
            self._prefix = ""
        if not self._prefix:
            self._prefix = (f'{{"bot":"{self.bot}","key_id":"{self._key.key_id}",'
                            f'"mode":"{self._mode}","payload":')
        seq = self._seq + 1
        signed = (f'{self._prefix}{payload_text},"prev_mac":"{self._mac}",'
                  f'"run_id":"{self._run_id}","seq":{seq},"ts_ns":{ts},'
                  f'"type":"{record_type}"}}').encode()
        hashed = self._new_mac()
        hashed.update(signed)
        mac = hashed.hexdigest()
        line = b"".join((signed[:-1], b',"mac":"', mac.encode("ascii"), b'"}\n'))
        try:
            if self._torn_write:  # a test's fault point: die with half the line written
                _write_all(self._fd, line[:len(line) // 2])
                fault_point("mid_journal_write")
                _write_all(self._fd, line[len(line) // 2:])
            else:
                written = os.write(self._fd, line)
                if written != len(line):  # a short write: the rest (a full disk then raises)
                    _write_all(self._fd, line[written:])
            if self._sync_each:
                os.fsync(self._fd)
        except OSError as exc:
            self._failure = exc
            raise JournalError(f"cannot write the journal {self.path}: {exc.strerror or exc}",
                               path=str(self.path)) from None
        self._seq, self._mac = seq, mac
        self._file_size += len(line)
        self._dirty = True
        self.records_written += 1
        if self._sync_each:
            self._synced = (seq, mac, self.path.name)
        return seq

    def _rotate(self, ts: int) -> None:
        """Close the current file (synced) and begin the next with a ``journal_file`` record."""
        assert self._file is not None
        previous = self._file
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self._failure = exc
            raise JournalError(f"cannot sync the journal {previous.path}: {exc.strerror or exc}",
                               path=str(previous.path)) from None
        self._synced = (self._seq, self._mac, previous.path.name)
        self._retired.append(self._fd)  # closed by the background thread (see _durability)
        day = max(_utc_day(ts), previous.day)
        self._begin_file(JournalFile(self.directory / file_name(day, self._seq + 1), day,
                                     self._seq + 1), previous.path.name, ts)

    def _begin_file(self, new: JournalFile, previous_name: str | None, ts: int) -> None:
        self._fd = self._open_file(new.path)
        self._set_file(new, 0)
        fsync_directory(self.directory)
        payload = {"file": new.path.name, "previous_file": previous_name,
                   "previous_seq": self._seq, "previous_mac": self._mac}
        self._write_record("journal_file", encode_payload(payload, trusted_shape=True), ts)

    def _set_file(self, jfile: JournalFile, size: int) -> None:
        self._file, self._file_size = jfile, size
        self._rotate_at_ns = jfile.day_end_ns if self.settings.rotate_daily else 1 << 63

    def _open_file(self, path: Path) -> int:
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            self._failure = exc
            raise JournalError(f"cannot open the journal file {path}: {exc.strerror or exc}",
                               path=str(path)) from None

    # -- durability ---------------------------------------------------------------------------

    def _sync_now(self, *, checkpoint: bool, clean: bool) -> None:
        with self._durability:
            with self._lock:
                if self._closed:
                    return
                fd, dirty = self._fd, self._dirty
                head = (self._seq, self._mac, self.path.name)
                self._dirty = False
                retired, self._retired = self._retired, []
            try:
                if dirty:
                    os.fsync(fd)
            except OSError as exc:
                self._failure = exc
                raise JournalError(f"cannot sync the journal {self.directory}: "
                                   f"{exc.strerror or exc}", path=str(self.directory)) from None
            for old in retired:
                with contextlib.suppress(OSError):
                    os.close(old)
            with self._lock:
                self._synced = max(self._synced, head)
                synced = self._synced
            if checkpoint and (synced[0] != self._checkpointed_seq or clean):
                self._write_checkpoint(synced, clean)

    def _write_checkpoint(self, head: tuple[int, str, str], clean: bool) -> None:
        ts = self._clock()
        key, _ = self._keyring.active_at(ts)
        checkpoint = Checkpoint(self.bot, head[0], head[1], head[2], ts, key.key_id, clean)
        try:
            write_checkpoint(self.directory, checkpoint, key)
        except OSError as exc:
            self._failure = exc
            raise JournalError(f"cannot write the journal checkpoint in {self.directory}: "
                               f"{exc.strerror or exc}", path=str(self.directory)) from None
        self._checkpointed_seq = head[0]
        self._last_checkpoint_ns = time.monotonic_ns()

    def _background(self) -> None:
        """Sync every ``fsync.interval_ms`` (or only checkpoint, when every record is synced),
        checkpoint every ``checkpoint_interval_ms``, pick up a rotated keyring."""
        policy = self.settings.fsync
        tick_ms = policy.interval_ms if not policy.every_record else \
            min(self.settings.checkpoint_interval_ms, 1000)
        checkpoint_ns = self.settings.checkpoint_interval_ms * 1_000_000
        while not self._stop.wait(tick_ms / 1000):
            try:
                self._reload_keyring()
                due = time.monotonic_ns() - self._last_checkpoint_ns >= checkpoint_ns
                self._sync_now(checkpoint=due, clean=False)
            except Exception as exc:  # kept, and raised by the next append
                self._failure = self._failure or exc
                return

    @staticmethod
    def _mtime(path: Path | None) -> int:
        if path is None:
            return 0
        try:
            return path.stat().st_mtime_ns
        except OSError:
            return 0

    def _reload_keyring(self) -> None:
        mtime = self._mtime(self._keyring.path)
        if self._keyring.path is None or mtime == self._keyring_mtime:
            return
        self._keyring_mtime = mtime
        try:
            fresh = load_keyring(self._keyring.path, private=True)
        except ConfigError:
            return  # a keyring being rewritten or broken: keep signing with the known keys
        known = {k.key_id: k.secret for k in self._keyring.keys}
        if any(known.get(k.key_id, k.secret) != k.secret for k in fresh.keys):
            return  # a key id whose secret changed would break verification of the past
        with self._lock:
            self._keyring = fresh
            self._key_from, self._key_until = 0, -1  # re-pick the key on the next record

    # -- opening ------------------------------------------------------------------------------

    def _acquire_directory(self) -> int:
        fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; one writer is the caller's duty
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "another process"
            os.close(fd)
            raise JournalError(f"the journal {self.directory} is being written by "
                               f"{'process ' + holder if holder.isdigit() else holder}: "
                               "one writer per bot", path=str(self.directory)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        return fd

    def _release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)

    def _open_chain(self) -> None:
        files = journal_files(self.directory)
        ts = self._clock()
        if not files:
            day = _utc_day(ts)
            self._begin_file(JournalFile(self.directory / file_name(day, 1), day, 1), None, ts)
            return
        last = files[-1]
        tail = read_tail(last.path)
        head = self._trusted_head(files, tail)
        self._seq, self._mac = head.seq, head.mac.decode("ascii")
        self._run_id = self._run_id or head.run_id
        self._mode = self._mode or head.mode
        self._fd = self._open_file(last.path)
        self._set_file(last, tail.size)
        if tail.size == 0:  # created, then the process died before its first record
            previous = files[-2].path.name if len(files) > 1 else None
            payload = {"file": last.path.name, "previous_file": previous,
                       "previous_seq": self._seq, "previous_mac": self._mac}
            self._write_record("journal_file", encode_payload(payload, trusted_shape=True), ts)
        else:
            self._recover(tail, ts)
        if ts >= self._rotate_at_ns:
            self._rotate(ts)

    def _trusted_head(self, files: list[JournalFile], tail: Tail) -> Entry:
        """The chain's last complete record, verified: the writer continues after it."""
        index, line, line_no, where = len(files) - 1, tail.last_line, tail.last_line_no, tail.path
        while line is None and index > 0:  # the last file holds no complete record yet
            index -= 1
            earlier = read_tail(files[index].path)
            line, line_no, where = earlier.last_line, earlier.last_line_no, earlier.path
        if line is None:
            if len(files) == 1 and files[0].first_seq == 1:  # died writing the first record
                return Entry(0, b"", GENESIS_MAC.encode("ascii"), "", 0, self.bot, "", "", "")
            raise JournalError(f"the journal {self.directory} has files but no complete record: "
                               "run `bot-core journal verify` on it, then move it aside",
                               path=str(self.directory))
        checked = check_line(line, self._keyring)
        problem = checked.detail if isinstance(checked, LineProblem) else (
            f"belongs to bot {checked.bot!r}, not {self.bot!r}" if checked.bot != self.bot
            else "")
        if isinstance(checked, LineProblem) or problem:
            raise JournalError(
                f"the journal's last record ({where.name}:{line_no}) does not verify: {problem}; "
                f"a bot does not sign new records onto a chain it cannot trust: run `bot-core "
                f"journal verify {self.directory}` (docs/runbooks/incident.md)", path=str(where))
        return checked

    def _recover(self, tail: Tail, ts: int) -> None:
        """After an unclean stop: end a torn last line and say so in a ``recovery`` record."""
        try:
            previous = read_checkpoint(self.directory, None)
        except Exception:  # only the clean flag matters here; verify checks the rest
            previous = None
        clean = previous is not None and previous.clean and previous.head_seq == self._seq
        if clean and tail.torn is None:
            return
        torn = None
        if tail.torn is not None:
            try:
                _write_all(self._fd, b"\n")
            except OSError as exc:
                self._failure = exc
                raise JournalError(f"cannot write the journal {self.path}: "
                                   f"{exc.strerror or exc}", path=str(self.path)) from None
            self._file_size += 1
            torn = {"line": tail.torn_line_no, "offset": tail.torn_offset,
                    "bytes": len(tail.torn), "sha256": hashlib.sha256(tail.torn).hexdigest()}
        payload = {"torn": torn, "resumed_after_seq": self._seq,
                   "checkpoint_seq": None if previous is None else previous.head_seq,
                   "file": self.path.name}
        self._write_record("recovery", encode_payload(payload), ts)

