"""The simulator itself, talked to by unmodified ccxt: it must refuse what the venue refuses."""

from __future__ import annotations

import ccxt
import pytest

from bot_core_ccxt.client import _rebase


def raw_ccxt(sim, secret: str) -> ccxt.binance:
    exchange = ccxt.binance({"apiKey": sim.api_key, "secret": secret, "timeout": 2_000,
                             "options": {"fetchCurrencies": False, "fetchMargins": False,
                                         "fetchMarkets": {"types": ["spot"]}}})
    exchange.urls["api"] = _rebase(exchange.urls["api"], sim.url)
    return exchange


def test_loading_markets_needs_only_public_spot_endpoints(sim) -> None:
    exchange = raw_ccxt(sim, sim.api_secret)
    assert sorted(exchange.load_markets()) == ["ADA/USDT", "BTC/USDT", "ETH/USDT", "LTC/USDT",
                                              "SOL/USDT"]
    assert sim.requests == [("GET", "/api/v3/exchangeInfo")]  # no sapi, fapi or dapi call


def test_a_bad_signature_is_refused_like_the_venue(sim) -> None:
    exchange = raw_ccxt(sim, "wrong-secret")
    with pytest.raises(ccxt.AuthenticationError, match='"code": -1022'):
        exchange.fetch_balance()


def test_an_unknown_key_is_refused(sim) -> None:
    exchange = raw_ccxt(sim, sim.api_secret)
    exchange.apiKey = "someone-else"
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        exchange.fetch_balance()


@pytest.mark.parametrize("skew_ms, message", [(20_000, "outside of the recvWindow"),
                                              (-20_000, "1000ms ahead of the server")])
def test_timestamps_outside_the_window_are_refused(sim, skew_ms, message) -> None:
    exchange = raw_ccxt(sim, sim.api_secret)
    sim.clock_skew_ms = skew_ms
    with pytest.raises(ccxt.InvalidNonce, match=message):
        exchange.fetch_balance()
    exchange.load_time_difference()  # what the adapter does on -1021
    assert exchange.fetch_balance()["free"]["USDT"] == 100_000.0


def test_klines_end_with_the_bar_still_open(sim) -> None:
    exchange = raw_ccxt(sim, sim.api_secret)
    bars = exchange.fetch_ohlcv("BTC/USDT", "1m", limit=3)
    assert len(bars) == 3 and bars[1][0] - bars[0][0] == 60_000
    assert bars[-1][0] <= sim.now_ms() < bars[-1][0] + 60_000
    assert bars[-1][4] == 30_000.0  # the open bar closes at the current (pinned) price
