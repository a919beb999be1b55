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

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from bot_core.errors import UsageError
from bot_core.journal.chain import ChainScan, Stop
from bot_core.journal.checkpoint import CheckpointProblem, read_checkpoint
from bot_core.journal.keys import Keyring
from bot_core.journal.lines import Cause
from bot_core.journal.parallel import prescan, stitch
from bot_core.journal.record import (
    CHECKPOINT_NAME,
    JournalFile,
    chain_directories,
    journal_files,
    parse_file_name,
)
from bot_core.journal.report import ChainReport, Finding

__all__ = ["ChainReport", "Finding", "verify_paths"]


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
    chain = ChainScan(report, files, keyring, whole=whole, checkpoint=checkpoint)
    last_line = ("", 0)
    try:
        if not files:
            raise Stop(Finding(Cause.TRUNCATED_TAIL if checkpoint is not None else
                                Cause.NO_JOURNAL, target, 0,
                                "no journal files (the checkpoint says the chain reached seq "
                                f"{checkpoint.head_seq})" if checkpoint is not None else
                                "no journal files here"))
        summaries = prescan(files, keyring, chain.cp_seq)
        stitched = stitch(chain, summaries) if summaries is not None else None
        if stitched is not None:
            last_line = (str(files[-1].path), stitched)
        else:
            for index in range(len(files)):
                last_line = (str(files[index].path), chain.scan_file(index))
        chain.check_checkpoint(last_line)
        if untrusted is not None:
            raise Stop(untrusted)
    except Stop as stop:
        report.finding = stop.finding
    except OSError as exc:  # a file that cannot be read is not intact as far as anyone can say
        report.finding = Finding(Cause.UNREADABLE, str(exc.filename or target), 0,
                                 f"cannot read it ({exc.strerror or exc})")
    report.records = max(0, chain.expected - chain.first_seq)
    if report.records:
        report.first_seq, report.last_seq = chain.first_seq, chain.expected - 1
    report.key_ids = sorted(chain.keys)
    report.runs = len({r for r in chain.runs if r})
    return report


def verify_paths(paths: Sequence[Path], keyring: Keyring) -> list[ChainReport]:
    """Verify journals: each directory is one bot's chain (or holds bots' directories); files
    given directly are verified as one chain per directory, in chain order.

    :raises UsageError: a path does not exist or is neither a file nor a directory.
    """
    try:
        return _verify_paths(paths, keyring)
    except OSError as exc:  # a directory that cannot be listed
        raise UsageError(f"{exc.filename or paths[0]}: cannot read ({exc.strerror or exc})") \
            from None


def _verify_paths(paths: Sequence[Path], keyring: Keyring) -> list[ChainReport]:
    reports: list[ChainReport] = []
    loose: dict[Path, list[JournalFile]] = {}
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or directory")
        if path.is_dir():
            chains = chain_directories(path)
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

