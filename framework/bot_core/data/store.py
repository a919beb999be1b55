"""Adding a dataset to the user library, all or nothing.

The data file is written to a temporary file beside its final name first (see
:mod:`bot_core.data.staging`), outside any lock: that is the slow part. Then, holding the
library lock (:func:`~bot_core.data.manifest.manifest_lock`), :func:`add_dataset`

1. removes temporary files left by dead processes,
2. checks again that the id is free (or ``force`` was given) against the manifest as it is now,
3. writes the new manifest to a temporary file, renames the data file into place and renames
   the manifest into place, back to back (Ctrl-C is held back between the two renames; only a
   crash in those microseconds could leave a file that disagrees with its entry, which
   ``data validate`` then reports as a checksum mismatch),
4. removes the replaced dataset's file when it had another format.

A refused or failed import therefore leaves the library exactly as it was; of two imports of
one id, the second to take the lock is refused.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType

from bot_core.data.library import shipped_dir
from bot_core.data.manifest import (
    MANIFEST_NAME,
    DatasetEntry,
    manifest_bytes,
    manifest_lock,
    read_manifest,
)
from bot_core.data.staging import staged, sweep_stale
from bot_core.errors import DataError

__all__ = ["add_dataset", "check_id_free"]


def check_id_free(library: Path, dataset_id: str, *, force: bool) -> list[DatasetEntry]:
    """Refuse an id that names a shipped dataset, or a user dataset unless ``force``.

    Returns the user library's current entries. A user manifest that cannot be read is refused
    too (its :class:`DataError`): writing a new one would lose the entries it holds.
    """
    if any(e.id == dataset_id for e in read_manifest(shipped_dir(), "shipped")):
        raise DataError(f"dataset id {dataset_id} is a shipped dataset; choose another id",
                        dataset=dataset_id)
    current = read_manifest(library, "user")
    if not force and any(e.id == dataset_id for e in current):
        raise DataError(f"dataset {dataset_id} already exists in {library}; pass --force to "
                        f"replace it", dataset=dataset_id)
    return current


def add_dataset(library: Path, entry: DatasetEntry, data_file: Path, *, force: bool) -> None:
    """Move ``data_file`` (a finished temporary file in ``library``) to ``entry.path`` and record
    ``entry`` in the manifest, under the library lock (see the module docstring)."""
    with manifest_lock(library):
        sweep_stale(library)
        current = check_id_free(library, entry.id, force=force)
        manifest = library / MANIFEST_NAME
        kept = [e for e in current if e.id != entry.id]
        with staged(manifest) as manifest_tmp:
            manifest_tmp.write_bytes(manifest_bytes(library, [*kept, entry]))
            with _interrupts_deferred():  # a Ctrl-C between the renames would split file and entry
                os.replace(data_file, entry.path)
                os.replace(manifest_tmp, manifest)
        for old in current:
            if old.id == entry.id and old.path != entry.path:  # replaced with another format
                with suppress(OSError):  # the import has succeeded; a leftover file harms nothing
                    old.path.unlink(missing_ok=True)


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold back SIGINT for the duration (main thread only): its handler runs right after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):  # ignored or default: nothing raises in between anyway
        yield
        return
    pending: list[tuple[int, FrameType | None]] = []
    signal.signal(signal.SIGINT, lambda signum, frame: pending.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending:
            previous(*pending[0])
