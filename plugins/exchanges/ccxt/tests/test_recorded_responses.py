"""Parsing checked against responses recorded from the real venue (not our simulator's).

``fixtures/binance_spot_recorded.json`` holds real Binance spot answers recorded in ccxt's
test data; the markets are the real exchangeInfo records the simulator also serves. They go
through unmodified ccxt and then through this plugin's mapping, offline.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import ccxt
import pytest

from bot_core import OrderStatus, OrderType, Side, TimeInForce
from bot_core_ccxt.mapping import fill_from_trade, venue_order
from bot_core_ccxt.markets import check_order, rules_from_market
from bot_core_ccxt.testing import recorded_exchange_info

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "binance_spot_recorded.json").read_text())


@pytest.fixture(scope="module")
def exchange():
    binance = ccxt.binance()
    # what fetch_markets sets before parsing (no margin pair lists: fetchMargins is off)
    binance.options.update(crossMarginPairsData=[], isolatedMarginPairsData=[])
    binance.set_markets([binance.parse_market(s) for s in recorded_exchange_info()["symbols"]])
    return binance


def test_real_markets_give_the_venue_grid_and_minimums(exchange) -> None:
    rules = rules_from_market(exchange.market("BTC/USDT"), exchange.precisionMode)
    assert (rules.base, rules.quote, rules.venue_symbol) == ("BTC", "USDT", "BTCUSDT")
    assert rules.amount_step == Decimal("0.00001") and rules.price_tick == Decimal("0.01")
    assert rules.min_amount == 0.00001 and rules.max_amount == 9000.0
    assert rules.min_notional == 5.0
    ok = check_order(rules, Side.BUY, 0.00123456, 30_000.129, None)
    assert (ok.amount, ok.price, ok.reason) == (0.00123, 30_000.12, "")
    assert check_order(rules, Side.BUY, 0.0001, 30_000.0, None).reason.startswith("min_notional")


def test_a_real_closed_market_order(exchange) -> None:
    order = exchange.parse_order(RECORDED["fetchOrder_closed_market_sell"], exchange.market("LTC/USDT"))
    parsed = venue_order(order, {"x-R4BD3S825806ed40c861260428a48c": "ours-1"})
    assert parsed.client_order_id == "ours-1"
    assert parsed.status is OrderStatus.FILLED and parsed.side is Side.SELL
    assert parsed.order_type is OrderType.MARKET and parsed.limit_price is None
    assert (parsed.quantity, parsed.filled_quantity, parsed.average_price) == \
        (0.1, 0.1, pytest.approx(90.8))
    assert parsed.venue_order_id == "3397148653" and parsed.instrument == "LTC/USDT"
    assert parsed.ts_ns == 1679571174472 * 1_000_000


def test_a_real_open_limit_order(exchange) -> None:
    (raw,) = RECORDED["fetchOpenOrders_limit_maker_buy"]
    parsed = venue_order(exchange.parse_order(raw, exchange.market("LTC/USDT")), {})
    assert parsed.status is OrderStatus.ACCEPTED
    assert parsed.client_order_id == "x-R4BD3S82102a551f8c1642bba06728"  # not ours: as it is
    assert parsed.order_type is OrderType.LIMIT and parsed.limit_price == 50.0
    assert parsed.time_in_force is TimeInForce.GTC
    assert (parsed.quantity, parsed.filled_quantity) == (0.2, 0.0)


def test_a_real_trade_becomes_a_fill(exchange) -> None:
    (raw,) = RECORDED["fetchMyTrades_spot"]
    trade = exchange.parse_trade(raw, exchange.market("LTC/USDT"))
    fill = fill_from_trade(trade, venue="binance", client_order_id="ours-2", base="LTC", quote="USDT")
    assert fill.trade_id == "LTC/USDT:309520010"
    assert fill.side is Side.SELL and fill.liquidity == "taker"
    assert (fill.quantity, fill.price) == (0.2, 69.63)
    assert fill.fee == pytest.approx(0.013926)  # paid in USDT, the quote asset
    assert fill.ts_ns == 1698138992358 * 1_000_000


def test_a_real_spot_balance(exchange) -> None:
    balance = exchange.parse_balance_custom(RECORDED["fetchBalance_spot"], "spot")
    assert balance["free"]["LTC"] == pytest.approx(0.919741)
    assert balance["total"]["ETH"] == pytest.approx(0.02229833)
