"""One ccxt exchange, configured for bot-core, with retries inside a deadline and typed errors.

* The exchange is built with the venue's profile options, the sandbox (testnet) URLs unless
  ``sandbox = false``, the optional ``api_base_url`` rebase, ccxt's own rate limiter on, and a
  logger whose records are scrubbed of the credentials and request signatures.
* :meth:`VenueClient.call` retries what can be retried (timeouts, dropped connections, HTTP
  5xx, 429 and 418, a clock rejected by the venue) with capped exponential backoff and full
  jitter until the operation's deadline, waiting at least as long as the venue's Retry-After.
  Everything else, and what is still failing at the deadline, is raised as one of the host's
  venue errors with the venue's message kept.
* Orders are not retried here: the venue (:mod:`bot_core_ccxt.venue`) looks an order up by
  its client id before sending it again.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import ccxt

from bot_core import (
    VenueAuthenticationError,
    VenueError,
    VenueInsufficientFundsError,
    VenueInvalidOrderError,
    VenueRateLimitedError,
    VenueUnavailableError,
)
from bot_core_ccxt.credentials import Credentials
from bot_core_ccxt.profiles import VenueProfile, profile_for, venue_error_code
from bot_core_ccxt.settings import CcxtSettings

__all__ = ["ClockRejectedError", "OrderNotFoundError", "VenueClient", "classify", "redact"]

T = TypeVar("T")

WIRE_LOGGER = "bot_core_ccxt.wire"
"""Logger of ccxt's request/response debug lines for our exchanges (scrubbed)."""

_SIGNATURE = re.compile(r"(signature=)[0-9A-Za-z%+/=_-]+")


class OrderNotFoundError(VenueInvalidOrderError):
    """The venue does not know the order (by client id or venue id)."""


class ClockRejectedError(VenueUnavailableError):
    """The venue refused a request's timestamp (our clock is off from the venue's): nothing was
    executed; the clock offset is measured again before the next attempt."""


class _Redactor(logging.Filter):
    """Scrubs registered secrets and request signatures from every record it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_REDACTOR = _Redactor()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without any of ``secrets`` nor request signatures."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _SIGNATURE.sub(r"\1***", text)


def _install_redactor() -> None:
    """Every logger that may print a request (ccxt's, ours, urllib3's) gets the filter once."""
    for name in (WIRE_LOGGER, "ccxt.base.exchange", "urllib3.connectionpool"):
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)


def _rebase(value: Any, base: str) -> Any:
    if isinstance(value, dict):
        return {key: _rebase(item, base) for key, item in value.items()}
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        split = urlsplit(value)
        return base + split.path + (f"?{split.query}" if split.query else "")
    return value


def _merge_options(options: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(options.get(key), dict):
            options[key] = {**options[key], **value}
        else:
            options[key] = value


def classify(exc: Exception, venue: str, profile: VenueProfile,
             secrets: Iterable[str] = ()) -> VenueError:
    """The host error for a ccxt exception, the venue's message kept (scrubbed)."""
    message = redact(str(exc), secrets)
    code = venue_error_code(message)
    kind = profile.error_codes.get(code) if code is not None else None
    text = f"venue {venue}: {message}"
    cls: type[VenueError]
    if kind == "clock" or (kind is None and isinstance(exc, ccxt.InvalidNonce)):
        cls = ClockRejectedError
    elif kind == "auth" or (kind is None and isinstance(exc, ccxt.AuthenticationError)):
        cls = VenueAuthenticationError
    elif kind == "not_found" or (kind is None and isinstance(exc, ccxt.OrderNotFound)):
        cls = OrderNotFoundError
    elif kind == "rate_limited" or isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        cls = VenueRateLimitedError
    elif isinstance(exc, ccxt.InsufficientFunds):
        cls = VenueInsufficientFundsError
    elif isinstance(exc, ccxt.InvalidOrder | ccxt.BadRequest | ccxt.BadSymbol
                    | ccxt.ArgumentsRequired | ccxt.NotSupported):
        cls = VenueInvalidOrderError
    elif isinstance(exc, ccxt.OperationFailed):  # network errors, timeouts, 5xx, bad responses
        cls = VenueUnavailableError
    else:
        cls = VenueError
    return cls(text, venue=venue, venue_message=message)


def is_transient(error: VenueError) -> bool:
    """Whether the same request may succeed later (the outcome of a failed one is unknown,
    except for :class:`ClockRejectedError`, which the venue refused before executing)."""
    return isinstance(error, VenueUnavailableError | VenueRateLimitedError)


class VenueClient:
    """A configured ccxt exchange and the retry loop around its calls.

    :param settings: the venue's settings.
    :param venue: the venue's name in the config (for messages).
    :param credentials: API credentials, or None for public data only.
    :param sleep: how to wait (tests may pass a fake).
    :param monotonic: the clock deadlines are measured on, seconds.
    """

    def __init__(self, settings: CcxtSettings, venue: str, credentials: Credentials | None, *,
                 sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self.settings = settings
        self.venue = venue
        self.profile = profile_for(settings.exchange)
        self._secrets = credentials.secrets() if credentials else ()
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self.exchange = self._build(credentials)

    def _build(self, credentials: Credentials | None) -> Any:
        settings = self.settings
        config: dict[str, Any] = {"enableRateLimit": True, "timeout": settings.request_timeout_ms}
        if settings.rate_limit_ms is not None:
            config["rateLimit"] = settings.rate_limit_ms
        if credentials is not None:
            config.update(apiKey=credentials.api_key, secret=credentials.api_secret)
            if credentials.password:
                config["password"] = credentials.password
        _install_redactor()
        _REDACTOR.secrets.update(self._secrets)
        exchange = getattr(ccxt, settings.exchange)(config)
        exchange.logger = logging.getLogger(WIRE_LOGGER)
        _merge_options(exchange.options, dict(self.profile.ccxt_options))
        if self.profile.recv_window:
            exchange.options["recvWindow"] = settings.recv_window_ms
        if settings.sandbox:
            try:
                exchange.set_sandbox_mode(True)
            except ccxt.NotSupported:
                raise VenueInvalidOrderError(
                    f"venue {self.venue}: {settings.exchange} has no testnet in ccxt; "
                    f"set venues.{self.venue}.settings.sandbox = false to trade live",
                    venue=self.venue) from None
        if settings.api_base_url:
            exchange.urls["api"] = _rebase(exchange.urls["api"], settings.api_base_url)
        return exchange

    def close(self) -> None:
        _REDACTOR.secrets.difference_update(self._secrets)
        session = getattr(self.exchange, "session", None)
        if session is not None:
            session.close()

    def classify(self, exc: Exception) -> VenueError:
        return classify(exc, self.venue, self.profile, self._secrets)

    def deadline(self, ms: float | None = None) -> float:
        """A deadline ``ms`` (default ``deadline_ms``) from now, on the client's monotonic
        clock."""
        return self._monotonic() + (self.settings.deadline_ms if ms is None else ms) / 1000.0

    def remaining(self, deadline: float) -> float:
        return deadline - self._monotonic()

    def wait(self, seconds: float, deadline: float) -> bool:
        """Sleep ``seconds`` if the deadline allows; False (without sleeping) if it does not."""
        if seconds > self.remaining(deadline):
            return False
        if seconds > 0:
            self._sleep(seconds)
        return True

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff of the ``attempt``-th retry (0-based), seconds."""
        cap = min(self.settings.retry_max_ms, self.settings.retry_initial_ms * 2 ** min(attempt, 30))
        return self._rng.uniform(0.0, cap / 1000.0)

    def retry_after(self) -> float:
        """Seconds the venue asked us to wait in its last answer (Retry-After), or 0."""
        headers = getattr(self.exchange, "last_response_headers", None) or {}
        try:
            return float(headers.get("Retry-After") or headers.get("retry-after") or 0)
        except (TypeError, ValueError):
            return 0.0

    def resync_clock(self) -> None:
        """Measure the offset between our clock and the venue's (ccxt signs with it)."""
        if self.exchange.has.get("fetchTime"):
            self.exchange.load_time_difference()

    def now_ms(self) -> int:
        """The venue's time as ccxt stamps requests: our clock corrected by the measured offset."""
        return int(self.exchange.milliseconds() - int(self.exchange.options.get("timeDifference", 0)))

    def call(self, what: str, fn: Callable[[], T], *, deadline: float | None = None) -> T:
        """``fn()`` with retries of transient failures until ``deadline``.

        :param what: what the call does, for the error message (``fetch open orders``).
        :raises VenueError: the mapped error of the last failure.
        """
        deadline = self.deadline() if deadline is None else deadline
        attempt = 0
        while True:
            try:
                return fn()
            except ccxt.BaseError as exc:
                error = self.classify(exc)
            if not is_transient(error):
                raise error
            delay = self.backoff(attempt)
            if isinstance(error, VenueRateLimitedError):
                error.retry_after_s = self.retry_after() or None
                delay = max(delay, error.retry_after_s or 0.0)
            attempt += 1
            if not self.wait(delay, deadline):
                raise type(error)(f"{error} ({what}: gave up after {attempt} attempt(s) within "
                                  f"{self.settings.deadline_ms} ms)", venue=self.venue,
                                  venue_message=error.venue_message)
            if isinstance(error, ClockRejectedError):
                # a failed resync is no worse: the next attempt fails the same way, is retried
                with contextlib.suppress(ccxt.BaseError):
                    self.resync_clock()
