"""The state directory: where everything a user creates lives.

Imported datasets, the decision journal, the state database, keys and certificates go under
``BOT_CORE_HOME`` (default: the platform's per-user data directory). Nothing is written into the
installed package or the current directory unless the user asks for it.

Every command that reads or writes the home goes through :func:`readable_home`,
:func:`writable_home` or :func:`ensure_home`: a home that is a file, lies under a file, or cannot
be read or written is one :class:`~bot_core.errors.HomeError` naming the path and the problem,
never an ``OSError`` traceback or a silently empty result.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bot_core.errors import HomeError

__all__ = ["HOME_ENV", "bot_core_home", "ensure_home", "readable_home", "writable_home"]

HOME_ENV = "BOT_CORE_HOME"


def bot_core_home(environ: dict[str, str] | None = None) -> Path:
    """Return the state directory without creating it (and without checking it)."""
    env = os.environ if environ is None else environ
    configured = env.get(HOME_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs  # deferred: only commands that touch user state need it

    return Path(platformdirs.user_data_dir("bot-core", appauthor=False))


def readable_home(sub: str = "", environ: dict[str, str] | None = None) -> Path:
    """Return ``<home>/<sub>`` for reading; it may not exist yet (nothing stored there so far).

    :raises HomeError: the path or one of its parents exists but is not a directory, or the
        deepest existing one cannot be read.
    """
    path, label = _resolve(sub, environ)
    deepest = _deepest_directory(path, label)
    if not os.access(deepest, os.R_OK | os.X_OK):
        raise HomeError(f"{label}: {deepest} is not readable (permission denied)", path=str(deepest))
    return path


def writable_home(sub: str = "", environ: dict[str, str] | None = None) -> Path:
    """Return ``<home>/<sub>`` once it is known that it can be created or written (nothing is
    created: commands check this before their slow part and call :func:`ensure_home` to write).

    :raises HomeError: the path or one of its parents exists but is not a directory, or the
        deepest existing one cannot be written.
    """
    path, label = _resolve(sub, environ)
    deepest = _deepest_directory(path, label)
    if not os.access(deepest, os.W_OK | os.X_OK):
        raise HomeError(f"{label}: {deepest} is not writable (read-only or permission denied)",
                        path=str(deepest))
    return path


def ensure_home(sub: str = "", environ: dict[str, str] | None = None) -> Path:
    """Return ``<home>/<sub>``, creating it (and the home) with user-only permissions.

    :raises HomeError: as :func:`writable_home`, or the directories cannot be created.
    """
    path = writable_home(sub, environ)
    home = bot_core_home(environ)
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)  # keys and journals live here: owner only
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        label = _resolve(sub, environ)[1]
        raise HomeError(f"{label}: cannot create {exc.filename or path}: "
                        f"{exc.strerror or exc}", path=str(path)) from None
    return path


def _resolve(sub: str, environ: dict[str, str] | None) -> tuple[Path, str]:
    env = os.environ if environ is None else environ
    home = bot_core_home(environ)
    label = f"{HOME_ENV}={env[HOME_ENV]}" if env.get(HOME_ENV) else f"bot-core home {home}"
    return (home / sub if sub else home), label


def _deepest_directory(path: Path, label: str) -> Path:
    """The deepest existing ancestor of ``path`` (or ``path`` itself), checked on the way down:
    every existing component must be a directory (a symlink to one is fine)."""
    absolute = Path(os.path.abspath(path))
    deepest = Path(absolute.anchor)
    for part in absolute.parts[1:]:
        candidate = deepest / part
        try:
            mode = candidate.stat().st_mode
        except FileNotFoundError:
            break
        except PermissionError:
            raise HomeError(f"{label}: cannot look inside {deepest} (permission denied)",
                            path=str(deepest)) from None
        except OSError as exc:  # e.g. a symlink loop
            raise HomeError(f"{label}: {candidate}: {exc.strerror or exc}",
                            path=str(candidate)) from None
        if not stat.S_ISDIR(mode):
            what = "a file, not a directory" if stat.S_ISREG(mode) else "not a directory"
            raise HomeError(f"{label}: {candidate} is {what}", path=str(candidate))
        deepest = candidate
    return deepest
