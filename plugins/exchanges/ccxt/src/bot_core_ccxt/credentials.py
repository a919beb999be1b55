"""API credentials: read from environment variables or an owner-only key file, never logged.

:class:`Credentials` hides its values in ``repr`` and ``str`` so that no log line, traceback
local or journal entry can show them by accident; the adapter hands them to ccxt and to the
redacting log filter only.
"""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot_core import VenueAuthenticationError
from bot_core_ccxt.settings import CredentialsSettings

__all__ = ["Credentials", "load_credentials"]


@dataclass(frozen=True)
class Credentials:
    """An API key, its secret and (some venues) a passphrase. Prints as ``Credentials(***)``."""

    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    password: str = field(default="", repr=False)
    source: str = ""
    """Where they came from (variable names or the key file), safe to show."""

    def __repr__(self) -> str:
        return f"Credentials(*** from {self.source})"

    __str__ = __repr__

    def secrets(self) -> tuple[str, ...]:
        """The values a log line must never contain."""
        return tuple(s for s in (self.api_key, self.api_secret, self.password) if s)


def _default_env(venue: str, what: str) -> str:
    name = "".join(c if c.isalnum() else "_" for c in venue.upper())
    return f"BOT_CORE_VENUE_{name}_API_{what}"


def load_credentials(settings: CredentialsSettings, venue: str,
                     environ: Mapping[str, str] | None = None) -> Credentials:
    """Read the credentials ``settings`` point at.

    :raises VenueAuthenticationError: one line naming the missing variable or the bad file
        (never a value).
    """
    env = os.environ if environ is None else environ
    if settings.key_file is not None:
        return _from_key_file(settings.key_file, venue)
    key_env = settings.api_key_env or _default_env(venue, "KEY")
    secret_env = settings.api_secret_env or _default_env(venue, "SECRET")
    password_env = settings.password_env or _default_env(venue, "PASSWORD")
    missing = [name for name in (key_env, secret_env) if not env.get(name)]
    if missing:
        raise VenueAuthenticationError(
            f"venue {venue}: no API credentials: set the environment variable(s) "
            f"{' and '.join(missing)} (or venues.{venue}.settings.credentials.key_file)",
            venue=venue)
    return Credentials(env[key_env], env[secret_env], env.get(password_env, ""),
                       source=f"env {key_env}, {secret_env}")


def _from_key_file(path: Path, venue: str) -> Credentials:
    def refuse(why: str) -> VenueAuthenticationError:
        return VenueAuthenticationError(f"venue {venue}: key file {path}: {why}", venue=venue)

    try:
        info = path.stat()
    except OSError as exc:
        raise refuse(f"cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise refuse("is not a regular file")
    if sys.platform != "win32":
        if info.st_mode & 0o077:
            raise refuse(f"is readable or writable by others (mode {stat.S_IMODE(info.st_mode):o}); "
                         f"run: chmod 600 {path}")
        if info.st_uid != os.getuid():
            raise refuse("belongs to another user")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        # the parser's message may quote the file's content (a secret): say no more than this
        raise refuse("is not a readable UTF-8 TOML file") from None
    unknown = sorted(set(data) - {"api_key", "api_secret", "password"})
    if unknown:
        raise refuse(f"unknown key(s) {', '.join(unknown)} (allowed: api_key, api_secret, password)")
    for name in ("api_key", "api_secret"):
        if not isinstance(data.get(name), str) or not data[name]:
            raise refuse(f"{name} is missing or not a non-empty string")
    password = data.get("password", "")
    if not isinstance(password, str):
        raise refuse("password is not a string")
    return Credentials(data["api_key"], data["api_secret"], password, source=f"key file {path}")
