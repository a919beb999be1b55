"""Settings of a ccxt venue (``[venues.<name>] adapter = "ccxt"``), field by field.

Credentials are never settings: the config names where they are (environment variables or a
key file readable by its owner only), see :mod:`bot_core_ccxt.credentials`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["CcxtSettings", "CredentialsSettings"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CredentialsSettings(BaseModel):
    """Where the API key is: environment variables (the default) or a key file, never inline.

    With neither ``key_file`` nor variable names given, the variables are
    ``BOT_CORE_VENUE_<NAME>_API_KEY`` and ``BOT_CORE_VENUE_<NAME>_API_SECRET`` (and
    ``..._API_PASSWORD`` for venues with a passphrase), ``<NAME>`` being the venue's name in
    the config in upper case.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key_env: str | None = Field(
        None, description="Name of the environment variable holding the API key.")
    api_secret_env: str | None = Field(
        None, description="Name of the environment variable holding the API secret.")
    password_env: str | None = Field(
        None, description="Name of the environment variable holding the API passphrase, for "
        "venues that have one (not Binance).")
    key_file: Path | None = Field(
        None, description="A TOML file with api_key, api_secret (and password) readable by its "
        "owner only (mode 600); exclusive with the *_env names.")

    @field_validator("api_key_env", "api_secret_env", "password_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> CredentialsSettings:
        named = [n for n in (self.api_key_env, self.api_secret_env, self.password_env) if n]
        if self.key_file is not None and named:
            raise ValueError("give either key_file or environment variable names, not both")
        return self


class CcxtSettings(BaseModel):
    """One venue reached through ccxt's REST API. Frozen; unknown fields are rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange: str = Field(
        "binance", description="ccxt exchange id (``binance``, ``kraken``...); Binance spot is "
        "the tested reference.")
    sandbox: bool = Field(
        True, description="Trade on the venue's testnet (ccxt sandbox mode). True by default: "
        "going live is an explicit ``sandbox = false``.")
    market_type: Literal["spot"] = Field(
        "spot", description="Market type; only spot for now.")
    credentials: CredentialsSettings = Field(
        default_factory=CredentialsSettings, description="Where the API key is (see above).")
    rate_limit_ms: int | None = Field(
        None, ge=1, le=60_000, description="Least time between two requests, milliseconds, "
        "[1, 60000]; default: ccxt's figure for the venue (50 ms for Binance).")
    request_timeout_ms: int = Field(
        10_000, ge=100, le=120_000, description="Timeout of one HTTP request, milliseconds, "
        "[100, 120000].")
    deadline_ms: int = Field(
        30_000, ge=100, le=600_000, description="Total time one operation (an order, a cancel, "
        "a query) may take with its retries, milliseconds, [100, 600000].")
    retry_initial_ms: int = Field(
        200, ge=1, le=60_000, description="First retry delay, milliseconds; doubles per retry "
        "with full jitter, [1, 60000].")
    retry_max_ms: int = Field(
        5_000, ge=1, le=600_000, description="Cap of one retry delay, milliseconds, [1, 600000].")
    recv_window_ms: int = Field(
        5_000, ge=100, le=60_000, description="Validity of a signed request after its timestamp, "
        "milliseconds, [100, 60000] (Binance's recvWindow). An order whose answer was lost is "
        "sent again only after this window has passed and the venue still does not know it.")
    markets_refresh_s: float = Field(
        3_600.0, ge=1, le=86_400, description="Markets (precision, limits) are reloaded when "
        "older than this, seconds, [1, 86400].")
    api_base_url: str | None = Field(
        None, description="Replace the scheme and host of every API URL of the exchange, e.g. "
        "``http://127.0.0.1:8765`` for the local exchange simulator. Leave unset for the venue.")

    @field_validator("exchange")
    @classmethod
    def _known_exchange(cls, value: str) -> str:
        import ccxt

        if value not in ccxt.exchanges:
            raise ValueError(f"{value!r} is not a ccxt exchange id (see ccxt.exchanges)")
        return value

    @field_validator("api_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+$", value):
            raise ValueError(f"{value!r} must be scheme and host only, like http://127.0.0.1:8765")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CcxtSettings:
        if self.retry_initial_ms > self.retry_max_ms:
            raise ValueError(f"retry_initial_ms ({self.retry_initial_ms}) exceeds retry_max_ms "
                             f"({self.retry_max_ms})")
        if self.request_timeout_ms > self.deadline_ms:
            raise ValueError(f"request_timeout_ms ({self.request_timeout_ms}) exceeds deadline_ms "
                             f"({self.deadline_ms}): not one request could finish")
        return self
