"""Dataset manifests: what each file holds, where it came from and its checksum.

A library directory holds data files and one ``manifest.json``::

    {"manifest_version": 1, "datasets": [{"id": "demo-btc-usdt-1m", "kind": "ohlcv", ...}]}

Paths in the file are relative to the manifest's directory; :class:`DatasetEntry` objects handed
to callers carry the absolute path and the library they came from. The manifest is written
atomically (temporary file, then rename) so an interrupted import never leaves half a manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot_core.data.schema import TIMEFRAME_MS, TIMESTAMP, Kind, columns_of
from bot_core.data.staging import staged
from bot_core.errors import DataError
from bot_core.market import split_symbol

__all__ = [
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "DatasetEntry",
    "manifest_bytes",
    "manifest_lock",
    "read_manifest",
    "sha256_file",
    "write_manifest",
]

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,79}$"


class DatasetEntry(BaseModel):
    """One dataset: its identity, its shape, its provenance and the checksum of its file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    """Unique id, lower case, e.g. ``demo-btc-usdt-1m``."""
    kind: Kind
    """``ohlcv`` bars or ``quotes`` (top of book)."""
    venue: str = Field(min_length=1, max_length=64)
    """Venue the data was recorded on, e.g. ``venue_a`` or ``binance``."""
    instrument: str
    """``BASE/QUOTE`` symbol, e.g. ``BTC/USDT``."""
    timeframe: str | None
    """Bar length (``1m``, ``1h``, ``1d``, ...) or the quote sampling interval; ``None`` for
    irregular quotes (no gap check)."""
    first_timestamp: datetime
    """Timestamp of the first row (UTC)."""
    last_timestamp: datetime
    """Timestamp of the last row (UTC)."""
    rows: int = Field(ge=1)
    """Number of data rows."""
    columns: dict[str, str]
    """Column schema in file order: name -> type (``int64 epoch ms UTC`` or ``float64``)."""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """SHA-256 of the stored file's bytes (compressed bytes for ``.csv.gz``)."""
    source: str = ""
    """Where the data came from (vendor, export, generator and seed)."""
    licence: str = ""
    """Terms the data may be used under."""
    path: Path
    """Absolute path of the data file (relative to the manifest inside ``manifest.json``)."""
    library: Literal["shipped", "user"] = "user"
    """``shipped`` with bot-core (read-only) or imported into ``BOT_CORE_HOME/datasets``."""

    @field_validator("instrument")
    @classmethod
    def _instrument(cls, value: str) -> str:
        split_symbol(value)
        return value

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, value: str | None) -> str | None:
        if value is not None and value not in TIMEFRAME_MS:
            raise ValueError(f"unknown timeframe {value!r}; expected one of {', '.join(TIMEFRAME_MS)}")
        return value

    @field_validator("first_timestamp", "last_timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamps in the manifest must carry a timezone (UTC, with Z)")
        return value.astimezone(UTC)

    @property
    def file_format(self) -> Literal["csv", "csv.gz", "parquet"]:
        """Storage format, from the file name."""
        name = self.path.name.lower()
        if name.endswith(".parquet"):
            return "parquet"
        return "csv.gz" if name.endswith(".gz") else "csv"

    def manifest_record(self, base: Path) -> dict[str, Any]:
        """JSON form stored in ``manifest.json`` (path relative to ``base``, no ``library``)."""
        record = self.model_dump(mode="json", exclude={"library"})
        record["path"] = self.path.relative_to(base).as_posix()
        record["first_timestamp"] = _iso(self.first_timestamp)
        record["last_timestamp"] = _iso(self.last_timestamp)
        return record


def schema_of(kind: str) -> dict[str, str]:
    """Column schema of a normalized file of ``kind``."""
    return {TIMESTAMP: "int64 epoch ms UTC", **{c: "float64" for c in columns_of(kind)}}


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(directory: Path, library: Literal["shipped", "user"]) -> list[DatasetEntry]:
    """Entries of ``directory/manifest.json`` (empty when there is no manifest yet).

    A manifest that is not valid JSON, has an unknown version, an invalid entry or a duplicate id
    is a :class:`DataError` naming the file and the entry.
    """
    manifest = directory / MANIFEST_NAME
    if not manifest.exists():
        return []
    if not manifest.is_file():
        raise DataError(f"{manifest}: is not a file", path=str(manifest))
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{manifest}: cannot read dataset manifest: {exc}", path=str(manifest)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("datasets"), list):
        raise DataError(f"{manifest}: not a dataset manifest (expected an object with 'datasets')",
                        path=str(manifest))
    version = doc.get("manifest_version")
    if version != MANIFEST_VERSION:
        raise DataError(f"{manifest}: manifest_version {version!r} is not supported "
                        f"(this bot-core reads version {MANIFEST_VERSION})", path=str(manifest))
    entries: list[DatasetEntry] = []
    seen: set[str] = set()
    for position, record in enumerate(doc["datasets"]):
        if not isinstance(record, dict):
            raise DataError(f"{manifest}: datasets[{position}] is not an object", path=str(manifest))
        name = record.get("id", f"datasets[{position}]")
        try:
            relative = Path(str(record["path"]))
            if relative.is_absolute() or ".." in relative.parts:
                raise DataError(f"{manifest}: dataset {name}: path {relative} must stay inside "
                                f"{directory}", dataset=str(name), path=str(manifest))
            entry = DatasetEntry.model_validate({**record, "path": directory / relative,
                                                 "library": library})
        except KeyError:
            raise DataError(f"{manifest}: dataset {name}: missing field 'path'",
                            dataset=str(name), path=str(manifest)) from None
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise DataError(f"{manifest}: dataset {name}: {where}: {problem['msg']}",
                            dataset=str(name), path=str(manifest)) from None
        if entry.id in seen:
            raise DataError(f"{manifest}: dataset id {entry.id} appears twice",
                            dataset=entry.id, path=str(manifest))
        seen.add(entry.id)
        entries.append(entry)
    return entries


@contextmanager
def manifest_lock(directory: Path, timeout_s: float = 60.0) -> Iterator[None]:
    """Hold the library's exclusive lock: ``flock`` on ``directory/.manifest.lock`` on POSIX,
    ``msvcrt`` byte-range locking on Windows.

    Whoever changes the library (checks an id is free, renames a file into place, rewrites the
    manifest, sweeps stale temporary files) does it all while holding this lock, so two imports
    can neither both take one id nor drop each other's entries. The operating system releases
    the lock when its holder dies, so a crash never leaves the library locked. Waiting longer than
    ``timeout_s`` (another process hangs while holding it) is a :class:`DataError`.
    """
    lock_path = directory / ".manifest.lock"
    try:
        handle = open(lock_path, "a+b")  # noqa: SIM115 - closed in the finally below
    except OSError as exc:
        raise DataError(f"{lock_path}: cannot open the library lock: {exc.strerror or exc}",
                        path=str(lock_path)) from None
    try:
        _acquire(handle, lock_path, timeout_s)
        try:
            yield
        finally:
            _release(handle)
    finally:
        handle.close()


def _acquire(handle: IO[bytes], lock_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if sys.platform == "win32":  # pragma: no cover - Windows
                import msvcrt

                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError:
            if time.monotonic() >= deadline:
                raise DataError(f"{lock_path}: another process has held the library lock for "
                                f"{timeout_s:g} s; try again when it is done",
                                path=str(lock_path)) from None
            time.sleep(0.01)


def _release(handle: IO[bytes]) -> None:
    if sys.platform == "win32":  # pragma: no cover - Windows
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle, fcntl.LOCK_UN)


def manifest_bytes(directory: Path, entries: list[DatasetEntry],
                   extra: dict[str, Any] | None = None) -> bytes:
    """The ``manifest.json`` text of ``entries`` (sorted by id; paths relative to ``directory``)."""
    doc: dict[str, Any] = {"manifest_version": MANIFEST_VERSION, **(extra or {})}
    doc["datasets"] = [e.manifest_record(directory) for e in sorted(entries, key=lambda e: e.id)]
    return (json.dumps(doc, indent=2, sort_keys=False) + "\n").encode("utf-8")


def write_manifest(directory: Path, entries: list[DatasetEntry],
                   extra: dict[str, Any] | None = None) -> Path:
    """Write ``directory/manifest.json`` atomically (temporary file, then rename)."""
    target = directory / MANIFEST_NAME
    with staged(target) as tmp:
        tmp.write_bytes(manifest_bytes(directory, entries, extra))
        os.replace(tmp, target)
    return target
