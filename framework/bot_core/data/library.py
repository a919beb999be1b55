"""The dataset library: shipped demo datasets plus the user's imported ones.

Shipped datasets live inside the installed package (``bot_core/data/demo``, found through
``importlib.resources``) and are read-only. Imported datasets live in
``BOT_CORE_HOME/datasets`` with their own manifest. Both are listed together; an imported id may
never shadow a shipped one.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from bot_core.data.manifest import DatasetEntry, read_manifest, sha256_file
from bot_core.data.reader import Engine, Table, read_table
from bot_core.errors import DataError
from bot_core.home import bot_core_home

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["get_dataset", "list_datasets", "load_dataset", "load_table", "shipped_dir",
           "user_dir", "verify_checksum"]

USER_SUBDIR = "datasets"


def shipped_dir() -> Path:
    """Directory of the shipped demo datasets inside the installed package."""
    root = resources.files("bot_core.data").joinpath("demo")
    return Path(str(root))


def user_dir() -> Path:
    """``BOT_CORE_HOME/datasets`` (not created here)."""
    return bot_core_home() / USER_SUBDIR


def list_datasets() -> list[DatasetEntry]:
    """Shipped datasets, then the user's, each sorted by id.

    A user dataset whose id collides with a shipped one is a DataError naming both manifests.
    """
    shipped = read_manifest(shipped_dir(), "shipped")
    user = read_manifest(user_dir(), "user")
    shipped_ids = {e.id for e in shipped}
    for entry in user:
        if entry.id in shipped_ids:
            raise DataError(
                f"{user_dir() / 'manifest.json'}: dataset id {entry.id} collides with a shipped "
                f"dataset; rename it in that manifest", dataset=entry.id)
    return sorted(shipped, key=lambda e: e.id) + sorted(user, key=lambda e: e.id)


def get_dataset(dataset_id: str) -> DatasetEntry:
    """The entry of ``dataset_id``; unknown ids are a DataError listing the known ones."""
    entries = list_datasets()
    for entry in entries:
        if entry.id == dataset_id:
            return entry
    known = ", ".join(e.id for e in entries) or "none"
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
