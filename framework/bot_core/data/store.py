"""Adding a dataset to the user library, all or nothing.

The data file is written to a temporary file beside its final name first (see
:mod:`bot_core.data.staging`), outside any lock: that is the slow part. Then, holding the
library lock (:func:`~bot_core.data.manifest.manifest_lock`), :func:`add_dataset`

1. removes temporary files left by dead processes,
2. checks again that the id is free (or ``force`` was given) against the manifest as it is now,
3. writes the new manifest to a temporary file, renames the data file into place and renames
   the manifest into place, back to back,
4. removes the replaced dataset's file when it had another format.

A refused or failed import therefore leaves the library exactly as it was; of two imports of
one id, the second to take the lock is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

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
            os.replace(data_file, entry.path)
            os.replace(manifest_tmp, manifest)
        for old in current:
            if old.id == entry.id and old.path != entry.path:
                old.path.unlink(missing_ok=True)  # replaced with another format
