"""The state directory: where everything a user creates lives.

Imported datasets, the decision journal, the state database, keys and certificates go under
``BOT_CORE_HOME`` (default: the platform's per-user data directory). Nothing is written into the
installed package or the current directory unless the user asks for it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["bot_core_home", "ensure_home"]

HOME_ENV = "BOT_CORE_HOME"


def bot_core_home(environ: dict[str, str] | None = None) -> Path:
    """Return the state directory without creating it."""
    env = os.environ if environ is None else environ
    configured = env.get(HOME_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs  # deferred: only commands that touch user state need it

    return Path(platformdirs.user_data_dir("bot-core", appauthor=False))


def ensure_home(sub: str = "", environ: dict[str, str] | None = None) -> Path:
    """Return ``<home>/<sub>``, creating it (and the home) with user-only permissions."""
    home = bot_core_home(environ)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)  # keys and journals live here: owner only
    path = home / sub if sub else home
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
