"""What differs between venues behind the same ccxt calls: one profile per exchange id.

ccxt unifies the calls, not every venue's rules: which options keep ``load_markets`` to the
public endpoints we need, what a client order id may look like, how "my trades" can be paged,
which of the venue's error codes ccxt classifies differently depending on the URL. Venues
without a profile get :data:`GENERIC` (conservative: ids hashed to 32 characters, paging by
time).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["GENERIC", "VenueProfile", "profile_for", "venue_error_code"]

ErrorKind = Literal["clock", "auth", "rate_limited", "not_found"]


@dataclass(frozen=True, slots=True)
class VenueProfile:
    ccxt_options: Mapping[str, Any] = field(default_factory=dict)
    """Merged into the ccxt exchange's ``options``."""
    client_id_pattern: re.Pattern[str] = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
    """Client order ids the venue accepts as they are; others are hashed to fit."""
    client_id_param: str = "clientOrderId"
    """The create-order parameter carrying our id."""
    trade_cursor_param: str | None = None
    """Parameter of ``fetch_my_trades`` that pages from a trade id (inclusive), if any."""
    recv_window: bool = False
    """Whether signed requests carry a validity window (``options['recvWindow']``)."""
    error_codes: Mapping[int, ErrorKind] = field(default_factory=dict)
    """Venue error codes whose meaning we decide ourselves rather than by ccxt's class."""

    def venue_client_id(self, client_order_id: str) -> str:
        """Our client order id as sent to the venue: the same id when the venue accepts it,
        else a digest of it (deterministic, so it can be looked up again after a restart)."""
        if self.client_id_pattern.match(client_order_id):
            return client_order_id
        return "bc-" + hashlib.sha256(client_order_id.encode()).hexdigest()[:29]


BINANCE = VenueProfile(
    ccxt_options={
        # load_markets would otherwise call sapi/capital/config/getall (private, no testnet)
        # and the margin pair lists, and load futures markets from fapi/dapi
        "fetchCurrencies": False,
        "fetchMargins": False,
        "fetchMarkets": {"types": ["spot"]},
        "defaultType": "spot",
        # market orders are sized in the base asset, never converted to a quote amount
        "createOrder": {"timeInForce": "GTC", "quoteOrderQty": False},
        "newOrderRespType": {"market": "FULL", "limit": "FULL"},
        # reconciliation lists every open order of the account at once (weight 80 vs 6)
        "fetchOpenOrders": {"warnWithoutSymbol": False},
    },
    client_id_pattern=re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$"),
    client_id_param="newClientOrderId",
    trade_cursor_param="fromId",
    recv_window=True,
    # ccxt's table for the production spot URL calls -1021 and -1022 BadRequest, its generic
    # table (any other URL: testnet proxies, the simulator) InvalidNonce / AuthenticationError;
    # decide them here so that the venue and the simulator behave the same
    error_codes={-1021: "clock", -1022: "auth", -2014: "auth", -2015: "auth",
                 -1003: "rate_limited", -2011: "not_found", -2013: "not_found"},
)

GENERIC = VenueProfile()

_PROFILES = {"binance": BINANCE}

_CODE = re.compile(r'"code"\s*:\s*"?(-?\d+)')


def profile_for(exchange_id: str) -> VenueProfile:
    return _PROFILES.get(exchange_id, GENERIC)


def venue_error_code(message: str) -> int | None:
    """The venue's numeric error code in a ccxt error message (ccxt puts the venue's JSON body
    in it), or None."""
    match = _CODE.search(message)
    return int(match.group(1)) if match else None
