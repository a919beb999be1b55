"""The dataset library: shipped demo datasets plus the user's imported ones.

Shipped datasets live inside the installed package (``bot_core/data/demo``, found through
``importlib.resources``) and are read-only. Imported datasets live in
``BOT_CORE_HOME/datasets`` with their own manifest. Both are listed together; an imported id may
never shadow a shipped one, and a broken user library never hides the shipped datasets.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from bot_core.data.manifest import MANIFEST_NAME, DatasetEntry, read_manifest, sha256_file
from bot_core.data.reader import Engine, Table, read_table
from bot_core.errors import DataError, HomeError
from bot_core.home import bot_core_home, readable_home

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Catalogue", "catalogue", "get_dataset", "list_datasets", "load_dataset", "load_table",
           "shipped_dir", "user_dir", "verify_checksum"]

USER_SUBDIR = "datasets"


def shipped_dir() -> Path:
    """Directory of the shipped demo datasets inside the installed package."""
    root = resources.files("bot_core.data").joinpath("demo")
    return Path(str(root))


def user_dir() -> Path:
    """``BOT_CORE_HOME/datasets`` (not created or checked here)."""
    return bot_core_home() / USER_SUBDIR


@dataclass(frozen=True)
class Catalogue:
    """Every dataset that could be read, and why the user library could not be, if it could not.

    The shipped datasets are always there: a broken user library (``BOT_CORE_HOME`` a file or
    unreadable, a corrupt ``manifest.json``, an id that collides with a shipped one) hides only
    the user's datasets, and ``user_problem`` says what is wrong and where.
    """

    entries: list[DatasetEntry]
    """Shipped datasets, then the user's, each sorted by id."""
    user_problem: DataError | HomeError | None = None
    """Why the user library's datasets are missing from ``entries`` (``None``: they are not)."""


def catalogue() -> Catalogue:
    """The shipped datasets and, when its library can be read, the user's."""
    shipped = sorted(read_manifest(shipped_dir(), "shipped"), key=lambda e: e.id)
    try:
        user = _user_entries({e.id for e in shipped})
    except (DataError, HomeError) as exc:
        return Catalogue(shipped, exc)
    return Catalogue(shipped + user)


def _user_entries(shipped_ids: set[str]) -> list[DatasetEntry]:
    directory = readable_home(USER_SUBDIR)
    user = read_manifest(directory, "user")
    for entry in user:
        if entry.id in shipped_ids:
            raise DataError(
                f"{directory / MANIFEST_NAME}: dataset id {entry.id} collides with a shipped "
                f"dataset; rename it in that manifest", dataset=entry.id)
    return sorted(user, key=lambda e: e.id)


def list_datasets() -> list[DatasetEntry]:
    """Shipped datasets, then the user's, each sorted by id.

    Strict: a user library that cannot be read is its :class:`DataError` or
    :class:`~bot_core.errors.HomeError` (use :func:`catalogue` to get the shipped ones anyway).
    """
    found = catalogue()
    if found.user_problem is not None:
        raise found.user_problem
    return found.entries


def get_dataset(dataset_id: str) -> DatasetEntry:
    """The entry of ``dataset_id``.

    Shipped datasets are found even when the user library cannot be read; any other id is then
    that library's error. An unknown id is a DataError listing the known ones.
    """
    found = catalogue()
    for entry in found.entries:
        if entry.id == dataset_id:
            return entry
    if found.user_problem is not None:
        raise found.user_problem
    known = ", ".join(e.id for e in found.entries) or "none"
    raise DataError(f"unknown dataset {dataset_id!r}; known datasets: {known}", dataset=dataset_id)


def verify_checksum(entry: DatasetEntry) -> None:
    """Refuse a file whose bytes no longer match the manifest's sha256."""
    from bot_core.data.reader import check_size

    check_size(entry.path, dataset=entry.id)
    actual = sha256_file(entry.path)
    if actual != entry.sha256:
        raise DataError(
            f"dataset {entry.id}: checksum mismatch for {entry.path}: manifest says "
            f"sha256 {entry.sha256[:16]}..., file has {actual[:16]}... (file changed or corrupt; "
            f"re-import or reinstall it)", dataset=entry.id, path=str(entry.path))


def load_table(dataset_id: str | DatasetEntry, *, engine: Engine = "auto",
               verify: bool = True) -> Table:
    """The columns of a dataset as numpy arrays (what backtests iterate over)."""
    entry = dataset_id if isinstance(dataset_id, DatasetEntry) else get_dataset(dataset_id)
    if verify:
        verify_checksum(entry)
    return read_table(entry.path, entry.kind, engine=engine, dataset=entry.id)


def load_dataset(dataset_id: str, *, engine: Engine = "auto") -> pd.DataFrame:
    """A dataset as a DataFrame: UTC ``DatetimeIndex`` named ``timestamp``, float64 columns.

    Bars have ``open, high, low, close, volume``; quotes ``bid, ask, bid_size, ask_size``. The
    file's checksum is verified first: a file that changed since it was recorded is refused.
    """
    frame = load_table(dataset_id, engine=engine).to_frame()
    frame.attrs["dataset"] = dataset_id
    return frame
