"""Temporary files beside their target, named after the process that owns them.

Files are written next to where they belong and renamed into place, so a reader never sees half
a file. A process that dies mid-write (SIGKILL, power loss, a second Ctrl-C) leaves its temporary
file behind; the name says who owned it::

    .<target name>~<host>-<pid>-<random>.tmp

``<host>`` is a short hash of the machine's name, so a library on a shared disk never judges
another machine's process ids. :func:`sweep_stale` removes the files whose owner on this machine
is no longer running; the importer calls it, under the library lock, before it writes.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

__all__ = ["pid_alive", "staged", "sweep_stale", "temp_path"]

_TEMP_NAME = re.compile(r"^\..+~(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[0-9a-f]+\.tmp$")


@lru_cache(maxsize=1)
def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def temp_path(target: Path) -> Path:
    """A fresh temporary path in ``target``'s directory, owned by this process (not created)."""
    return target.with_name(f".{target.name}~{_host_tag()}-{os.getpid()}-{secrets.token_hex(4)}.tmp")


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """Yield :func:`temp_path` for ``target``; whatever is left at that path afterwards (the
    caller did not rename it into place, or failed) is removed."""
    tmp = temp_path(target)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def sweep_stale(directory: Path) -> list[Path]:
    """Remove temporary files in ``directory`` whose owner process on this machine is gone.

    Returns the removed paths. Files of live processes, of other machines and every other file
    are left alone; a file that vanishes meanwhile is not an error.
    """
    removed: list[Path] = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return removed
    host = _host_tag()
    for name in names:
        match = _TEMP_NAME.match(name)
        if match is None or match["host"] != host or pid_alive(int(match["pid"])):
            continue
        path = directory / name
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (an unknown answer counts as alive,
    so a file is never taken from a process that may still own it)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    if sys.platform == "win32":  # pragma: no cover - Windows: os.kill(pid, 0) would terminate it
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: alive, owned by another user
        return True
    return True


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import ctypes

    _QUERY_LIMITED_INFORMATION = 0x1000
    _STILL_ACTIVE = 259
    _ERROR_INVALID_PARAMETER = 87

    def _windows_pid_alive(pid: int) -> bool:
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        handle = kernel32.OpenProcess(_QUERY_LIMITED_INFORMATION, False, pid)
        if not handle:
            return ctypes.get_last_error() != _ERROR_INVALID_PARAMETER
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == _STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
