"""Every tampering of a real run's journal is found at the exact file and line, with its cause:
byte flips, deleted, inserted, swapped and duplicated lines, a cut tail (property tests over
random positions of a six-file journal), and every single-bit flip of a small journal."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot_core.journal import Cause, JournalSettings, JournalWriter, verify_paths
from bot_core.journal.record import journal_files
from bot_core.journal.verify import ChainReport

from .conftest import Journal, StepClock, keyring

PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _tampered(pristine: Journal, change: Callable[[list[Path]], None]) -> ChainReport:
    """Verify a copy of ``pristine`` after ``change`` edited its files."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "journal-bot"
        shutil.copytree(pristine.directory, copy)
        change(sorted(copy.glob("journal-*.jsonl")))
        reports = verify_paths([copy], pristine.keyring)
    assert len(reports) == 1
    return reports[0]


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _found(report: ChainReport, file_index: int, line: int, *causes: Cause) -> None:
    finding = report.finding
    assert finding is not None, "tampering not detected"
    assert (Path(finding.file).name, finding.line) == (
        sorted(Path(f).name for f in report.files)[file_index]
        if file_index < len(report.files) else "?", line), str(finding)
    assert finding.cause in causes, str(finding)


def test_the_pristine_journal_verifies(pristine_journal: Journal) -> None:
    report = verify_paths([pristine_journal.directory], pristine_journal.keyring)[0]
    assert report.ok, report.finding
    assert len(report.files) >= 5 and report.records == report.last_seq
    assert report.checkpoint_seq == report.last_seq


@PROPERTY
@given(data=st.data())
def test_any_byte_changed_anywhere_is_found_on_its_line(pristine_journal: Journal,
                                                        data: st.DataObject) -> None:
    files = pristine_journal.files
    index = data.draw(st.integers(0, len(files) - 1), label="file")
    size = files[index].stat().st_size
    offset = data.draw(st.integers(0, size - 1), label="offset")
    original = files[index].read_bytes()[offset]
    value = data.draw(st.integers(0, 255).filter(lambda b: b != original), label="new byte")
    line = files[index].read_bytes()[:offset].count(b"\n") + 1

    def flip(paths: list[Path]) -> None:
        raw = bytearray(paths[index].read_bytes())
        raw[offset] = value
        paths[index].write_bytes(bytes(raw))

    report = _tampered(pristine_journal, flip)
    _found(report, index, line, Cause.MODIFIED, Cause.MALFORMED, Cause.UNKNOWN_KEY,
           Cause.TORN_TAIL, Cause.TRUNCATED_TAIL)


@PROPERTY
@given(data=st.data())
def test_a_deleted_line_is_found_where_it_was(pristine_journal: Journal,
                                              data: st.DataObject) -> None:
    files = pristine_journal.files
    index = data.draw(st.integers(0, len(files) - 1), label="file")
    count = len(_lines(files[index]))
    line = data.draw(st.integers(1, count), label="line")

    def delete(paths: list[Path]) -> None:
        lines = _lines(paths[index])
        del lines[line - 1]
        paths[index].write_bytes(b"".join(lines))

    report = _tampered(pristine_journal, delete)
    last = index == len(files) - 1 and line == count
    _found(report, index, line, Cause.TRUNCATED_TAIL if last else Cause.DELETED)


@PROPERTY
@given(data=st.data())
def test_an_inserted_line_is_found(pristine_journal: Journal, data: st.DataObject) -> None:
    files = pristine_journal.files
    index = data.draw(st.integers(0, len(files) - 1), label="file")
    count = len(_lines(files[index]))
    line = data.draw(st.integers(1, count + 1), label="at line")
    donor_file = data.draw(st.sampled_from(files), label="donor file")
    donor = data.draw(st.sampled_from(_lines(donor_file)), label="donor line")
    forged = donor.replace(b'"quantity":', b'"quantity":1', 1).replace(b'"seq":', b'"seq":9', 1)
    garbage = data.draw(st.binary(min_size=0, max_size=300).map(
        lambda b: b.replace(b"\n", b"") + b"\n"), label="garbage")
    inserted = data.draw(st.sampled_from([donor, forged, garbage, b"\n", b'{"a": 1}\n']),
                         label="inserted")

    def insert(paths: list[Path]) -> None:
        lines = _lines(paths[index])
        lines.insert(line - 1, inserted)
        paths[index].write_bytes(b"".join(lines))

    report = _tampered(pristine_journal, insert)
    originals = _lines(files[index])
    if line <= count and inserted == originals[line - 1]:
        # two equal lines in a row: the first is where the record belongs, the second the copy
        _found(report, index, line + 1, Cause.DUPLICATED)
        return
    at_end = index == len(files) - 1 and line == count + 1
    causes = [Cause.INSERTED, Cause.DUPLICATED]
    if at_end:  # nothing after it continues the chain: the line is judged on its own
        causes += [Cause.MALFORMED, Cause.MODIFIED]
    _found(report, index, line, *causes)


@PROPERTY
@given(data=st.data())
def test_swapped_lines_are_found_at_the_first(pristine_journal: Journal,
                                              data: st.DataObject) -> None:
    files = pristine_journal.files
    index = data.draw(st.integers(0, len(files) - 1), label="file")
    count = len(_lines(files[index]))
    line = data.draw(st.integers(1, count - 1), label="line")

    def swap(paths: list[Path]) -> None:
        lines = _lines(paths[index])
        lines[line - 1], lines[line] = lines[line], lines[line - 1]
        paths[index].write_bytes(b"".join(lines))

    _found(_tampered(pristine_journal, swap), index, line, Cause.REORDERED)


@PROPERTY
@given(data=st.data())
def test_a_duplicated_line_is_found_at_the_copy(pristine_journal: Journal,
                                                data: st.DataObject) -> None:
    files = pristine_journal.files
    index = data.draw(st.integers(0, len(files) - 1), label="file")
    count = len(_lines(files[index]))
    line = data.draw(st.integers(1, count), label="line")

    def duplicate(paths: list[Path]) -> None:
        lines = _lines(paths[index])
        lines.insert(line, lines[line - 1])
        paths[index].write_bytes(b"".join(lines))

    _found(_tampered(pristine_journal, duplicate), index, line + 1, Cause.DUPLICATED)


@PROPERTY
@given(data=st.data())
def test_a_cut_tail_is_found_at_the_first_missing_line(pristine_journal: Journal,
                                                       data: st.DataObject) -> None:
    last = pristine_journal.files[-1]
    raw = last.read_bytes()
    keep = data.draw(st.integers(0, len(raw) - 1), label="bytes kept")

    def cut(paths: list[Path]) -> None:
        paths[-1].write_bytes(raw[:keep])

    report = _tampered(pristine_journal, cut)
    _found(report, len(pristine_journal.files) - 1, raw[:keep].count(b"\n") + 1,
           Cause.TRUNCATED_TAIL)


def test_a_deleted_file_breaks_the_chain_between_files(pristine_journal: Journal) -> None:
    def remove_middle(paths: list[Path]) -> None:
        paths[2].unlink()

    report = _tampered(pristine_journal, remove_middle)
    assert report.finding is not None
    assert report.finding.cause is Cause.CHAIN_BROKEN_BETWEEN_FILES
    assert (Path(report.finding.file).name, report.finding.line) == \
        (pristine_journal.files[3].name, 1)


def test_a_deleted_last_file_is_a_truncated_tail(pristine_journal: Journal) -> None:
    report = _tampered(pristine_journal, lambda paths: paths[-1].unlink())
    assert report.finding is not None and report.finding.cause is Cause.TRUNCATED_TAIL
    assert "checkpoint" in report.finding.detail


def test_a_deleted_first_file_is_found(pristine_journal: Journal) -> None:
    report = _tampered(pristine_journal, lambda paths: paths[0].unlink())
    assert report.finding is not None
    assert report.finding.cause is Cause.CHAIN_BROKEN_BETWEEN_FILES
    assert "earlier files are missing" in report.finding.detail


def test_every_single_bit_flip_of_a_small_journal_is_found_on_its_line(tmp_path: Path) -> None:
    """Exhaustive: each byte of each line (newlines included) with its lowest bit flipped."""
    directory = tmp_path / "small"
    ring = keyring()
    with JournalWriter(directory, "small", ring, run_id="r", mode="demo",
                       settings=JournalSettings(), clock=StepClock()) as writer:
        for i in range(6):
            writer.append("decision", {"strategy_id": "s", "quantity": i + 0.5, "tag": "t"},
                          trusted_shape=True)
    (path,) = directory.glob("journal-*.jsonl")
    raw = path.read_bytes()
    missed = []
    for offset in range(len(raw)):
        flipped = bytearray(raw)
        flipped[offset] ^= 1
        path.write_bytes(bytes(flipped))
        report = verify_paths([directory], ring)[0]
        line = raw[:offset].count(b"\n") + 1
        if report.finding is None or report.finding.line != line:
            missed.append((offset, report.finding))
    path.write_bytes(raw)
    assert verify_paths([directory], ring)[0].ok
    assert not missed, missed[:5]


def test_files_checked_in_parallel_give_the_same_answers(pristine_journal: Journal,
                                                         monkeypatch) -> None:
    """Workers check the files of a long journal; for the test, of any journal."""
    from bot_core.journal import parallel

    sequential = verify_paths([pristine_journal.directory], pristine_journal.keyring)[0]
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    files = journal_files(pristine_journal.directory)
    summaries = parallel.prescan(files, pristine_journal.keyring, -1)
    assert summaries is not None and all(s.ok for s in summaries)
    assert [s.first_seq for s in summaries] == [f.first_seq for f in files]
    in_parallel = verify_paths([pristine_journal.directory], pristine_journal.keyring)[0]
    assert in_parallel.as_dict() == sequential.as_dict()

    def swap_files(paths: list[Path]) -> None:  # two files' contents exchanged: not stitched
        first, second = paths[1].read_bytes(), paths[2].read_bytes()
        paths[1].write_bytes(second)
        paths[2].write_bytes(first)

    for change in (swap_files, lambda paths: paths[3].write_bytes(paths[3].read_bytes()[:-5])):
        parallel_report = _tampered(pristine_journal, change)
        monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 1 << 62)
        sequential_report = _tampered(pristine_journal, change)
        monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
        found, expected = parallel_report.finding, sequential_report.finding
        assert found is not None and expected is not None
        assert (found.cause, Path(found.file).name, found.line) == \
            (expected.cause, Path(expected.file).name, expected.line)
        assert parallel_report.records == sequential_report.records


def test_files_given_one_by_one_verify_from_where_they_begin(pristine_journal: Journal) -> None:
    later = pristine_journal.files[2:4]
    (report,) = verify_paths(later, pristine_journal.keyring)
    assert report.ok, report.finding
    first = int(later[0].stem.rsplit("-", 1)[1])
    assert report.first_seq == first and report.files == [str(p) for p in later]
    assert any(f"begin at seq {first}" in note for note in report.notes)
    (gap,) = verify_paths([pristine_journal.files[1], pristine_journal.files[3]],
                          pristine_journal.keyring)
    assert gap.finding is not None and gap.finding.line == 1
    assert Path(gap.finding.file) == pristine_journal.files[3]
