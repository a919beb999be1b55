"""Named host errors.

Every error a user can cause is one of these. Each carries the thing it is about (file, field,
plugin, row) so the CLI can print one clear line and exit non-zero; tracebacks are for bugs only.
"""

from __future__ import annotations

__all__ = [
    "BotCoreError",
    "ConfigError",
    "ConfigProblem",
    "DataError",
    "DataQualityError",
    "HomeError",
    "JournalError",
    "PluginError",
    "PromotionError",
    "RemoteAuthenticationError",
    "RemoteError",
    "RemotePermissionError",
    "RemoteUnavailableError",
    "StateError",
    "UsageError",
    "VenueAuthenticationError",
    "VenueError",
    "VenueInsufficientFundsError",
    "VenueInvalidOrderError",
    "VenueRateLimitedError",
    "VenueUnavailableError",
]

from dataclasses import dataclass


class BotCoreError(Exception):
    """Base class of every error the host shows to a user instead of a traceback.

    ``exit_code`` is what the CLI exits with when this error reaches it.
    """

    exit_code: int = 1


class UsageError(BotCoreError):
    """Bad command-line arguments (exit 2, like argparse)."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a configuration: where it is, what was there and what is allowed."""

    source: str
    """File (or ``env:NAME``, ``preset:NAME``) the offending value came from."""
    field: str
    """Dotted field path, e.g. ``risk.max_position_pct``."""
    value: object
    """The offending value (or ``<missing>``)."""
    message: str
    """What is wrong and what is allowed."""

    def __str__(self) -> str:
        where = f"{self.source}: {self.field}" if self.field else self.source
        if isinstance(self.value, str) and self.value in ("<missing>", "<n/a>"):
            return f"{where}: {self.message}"
        shown = self.value if isinstance(self.value, str) else repr(self.value)
        return f"{where}: {self.message} (got {shown})"


class ConfigError(BotCoreError):
    """A configuration file, preset or environment override is invalid (exit 2).

    Holds one :class:`ConfigProblem` per problem so that all of them are shown at once.
    """

    exit_code = 2

    def __init__(self, problems: list[ConfigProblem] | str, *, source: str = "") -> None:
        if isinstance(problems, str):
            problems = [ConfigProblem(source or "<config>", "", "<n/a>", problems)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class PluginError(BotCoreError):
    """A plugin could not be loaded, conflicts with another, or is incompatible."""

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        self.plugin = plugin
        super().__init__(message)


class HomeError(BotCoreError):
    """The state directory (``BOT_CORE_HOME``) cannot be used: it is a file, lies under a file,
    or cannot be read or written (exit 2: fix the environment, or point ``BOT_CORE_HOME``
    elsewhere). ``path`` is the offending path."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)


class VenueError(BotCoreError):
    """A venue (exchange) refused or failed a request.

    ``venue`` is the venue's name in the config, ``venue_message`` the venue's own words (kept so
    an operator can look them up), never a credential. Adapters raise the subclasses below.
    """

    def __init__(self, message: str, *, venue: str | None = None, venue_message: str = "") -> None:
        self.venue = venue
        self.venue_message = venue_message
        super().__init__(message)


class VenueAuthenticationError(VenueError):
    """Credentials are missing, unreadable or rejected by the venue (exit 2: fix the
    environment or the key file, then start again)."""

    exit_code = 2


class VenueInsufficientFundsError(VenueError):
    """The account lacks the balance an order needs."""


class VenueInvalidOrderError(VenueError):
    """The venue refused an order as malformed or outside its rules (size, price, type)."""


class VenueRateLimitedError(VenueError):
    """The venue is throttling us (HTTP 429) or has banned our address for a while (HTTP
    418). ``retry_after_s`` is how long the venue asked us to wait, when it said."""

    def __init__(self, message: str, *, venue: str | None = None, venue_message: str = "",
                 retry_after_s: float | None = None) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message, venue=venue, venue_message=venue_message)


class VenueUnavailableError(VenueError):
    """The venue could not be reached or answered with a server error within the deadline:
    timeouts, dropped connections, HTTP 5xx, maintenance."""


class DataError(BotCoreError):
    """A dataset cannot be read: missing, unreadable, garbage or checksum mismatch."""

    def __init__(self, message: str, *, dataset: str | None = None, path: str | None = None) -> None:
        self.dataset = dataset
        self.path = path
        super().__init__(message)


class DataQualityError(DataError):
    """A dataset was read but failed validation with at least one error-severity finding."""


class JournalError(BotCoreError):
    """The decision journal cannot be written: its directory is locked by another writer, a
    write or sync failed, or its last record does not verify (a bot does not sign new records
    onto a chain it cannot trust). ``path`` is the file or directory concerned."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)


class StateError(BotCoreError):
    """A file under ``BOT_CORE_HOME/state`` is unreadable, or belongs to another bot or mode."""


class PromotionError(BotCoreError):
    """The promotion pipeline refused: a gate failed, the bot was not promoted to the mode it
    should start in, or a live start was not confirmed (exit 1: the input was valid, the answer
    is no). ``failed`` names the gates that failed."""

    def __init__(self, message: str, *, failed: tuple[str, ...] = ()) -> None:
        self.failed = failed
        super().__init__(message)


class RemoteError(BotCoreError):
    """A call to a running bot's gRPC server (``metrics watch``, ``control``) failed; the
    message names the status and the server's words. ``code`` is the gRPC status name."""

    def __init__(self, message: str, *, code: str = "") -> None:
        self.code = code
        super().__init__(message)


class RemoteUnavailableError(RemoteError):
    """The server could not be reached (down, wrong address, network)."""


class RemoteAuthenticationError(RemoteError):
    """The TLS handshake was refused, or the server does not know the caller (exit 3): check
    the certificate, the key, the CA and the pinned fingerprint."""

    exit_code = 3


class RemotePermissionError(RemoteError):
    """The caller's role does not allow the call (exit 4)."""

    exit_code = 4
