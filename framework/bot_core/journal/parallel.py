"""Verifying a long journal on every core: each file checked alone in a worker process, then
the files' ends stitched together in chain order.

Only for the intact case: a worker that meets anything unusual in its file (a bad line, a torn
line, a note) says so, and the verifier then walks the whole chain in one process, which alone
can tell what went wrong and where (:mod:`bot_core.journal.chain`). The result is the same
either way; the workers only make an intact journal verify faster.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot_core.journal.chain import ChainScan, Stop
from bot_core.journal.keys import Keyring
from bot_core.journal.record import JournalFile
from bot_core.journal.report import ChainReport

__all__ = ["PARALLEL_MIN_BYTES", "FileSummary", "prescan", "stitch"]

PARALLEL_MIN_BYTES = 64 * 1024 * 1024
"""Below this much journal, starting workers costs more than it saves."""


@dataclass(frozen=True, slots=True)
class FileSummary:
    """One file checked alone: whether it is one intact stretch of chain, and its two ends."""

    ok: bool
    lines: int = 0
    first_seq: int = 0
    first_prev: bytes = b""
    last_seq: int = 0
    last_mac: bytes = b""
    runs: frozenset[bytes] = frozenset()
    keys: frozenset[str] = frozenset()
    bot: str | None = None
    checkpoint_mac: bytes | None = None


def _scan_alone(path: Path, keyring: Keyring, cp_seq: int) -> FileSummary:
    report = ChainReport(str(path))
    scan = ChainScan(report, [JournalFile(path, dt.date(1970, 1, 1), 0)], keyring, whole=False,
                     checkpoint=None)
    scan.cp_seq, scan.note_start = cp_seq, False
    try:
        lines = scan.scan_file(0)
    except Stop:
        return FileSummary(False)
    if report.notes or scan.expected == scan.first_seq:  # unusual, or no record at all
        return FileSummary(False)
    return FileSummary(True, lines, scan.first_seq, scan.first_prev, scan.expected - 1,
                       scan.last_mac, frozenset(scan.runs), frozenset(scan.keys), report.bot,
                       scan.checkpoint_mac)


def _workers() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


def prescan(files: Sequence[JournalFile], keyring: Keyring, cp_seq: int) -> list[FileSummary] | None:
    """Each file checked alone, in parallel; None when that is not worth it or not possible
    (one core, one file, a small journal, no ``fork``, or other threads in this process)."""
    workers = min(_workers(), len(files))
    if workers < 2 or threading.active_count() > 1:
        return None
    if sum(f.path.stat().st_size for f in files) < PARALLEL_MIN_BYTES:
        return None
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # Windows: spawning fresh interpreters would cost more than it saves
        return None
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(_scan_alone, [f.path for f in files], [keyring] * len(files),
                             [cp_seq] * len(files)))


def stitch(scan: ChainScan, summaries: Sequence[FileSummary]) -> int | None:
    """Carry ``scan`` to the end of the chain when the files are intact and each continues the
    one before (the first starting where ``scan`` expects); return the last file's number of
    lines, or None (then nothing was changed: the caller walks the chain itself)."""
    expected, last_mac = scan.expected, scan.last_mac
    for index, summary in enumerate(summaries):
        if not summary.ok:
            return None
        anywhere = index == 0 and not scan.started  # files given one by one start anywhere
        if not anywhere and (summary.first_seq, summary.first_prev) != (expected, last_mac):
            return None
        expected, last_mac = summary.last_seq + 1, summary.last_mac
    first = summaries[0]
    if not scan.started:  # files given one by one: the chain starts where the first does
        scan.first_seq, scan.first_prev = first.first_seq, first.first_prev
        if first.first_seq != 1:
            scan.report.notes.append(f"the files begin at seq {first.first_seq}: their link to "
                                     "earlier files was not checked")
    scan.expected, scan.last_mac = expected, last_mac
    for jfile, summary in zip(scan.files, summaries, strict=True):
        scan.report.files.append(str(jfile.path))
        scan.runs |= summary.runs
        scan.keys |= summary.keys
        if summary.checkpoint_mac is not None:
            scan.checkpoint_mac = summary.checkpoint_mac
    scan.report.bot = first.bot
    return summaries[-1].lines
