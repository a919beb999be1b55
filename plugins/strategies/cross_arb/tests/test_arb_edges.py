"""The compiled edge function: threshold, direction, size limits."""

from __future__ import annotations

import math

import pytest

from bot_core_cross_arb.edges import best_edge


def edge(bid_a: float, ask_a: float, bid_b: float, ask_b: float, threshold: float = 10.0,
         sizes: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0),
         max_notional: float = 1e9) -> tuple[int, float, float]:
    bsa, asa, bsb, asb = sizes
    return best_edge(bid_a, ask_a, bsa, asa, bid_b, ask_b, bsb, asb, threshold, max_notional)


def test_buy_on_a_sell_on_b_when_b_bid_beats_a_ask_by_more_than_threshold() -> None:
    direction, bps, qty = edge(99.9, 100.0, 100.2, 100.3)
    assert direction == 1 and bps == pytest.approx(20.0) and qty == 1.0


def test_other_direction() -> None:
    direction, bps, _ = edge(100.2, 100.3, 99.9, 100.0)
    assert direction == -1 and bps == pytest.approx(20.0)


def test_threshold_is_strict() -> None:
    assert edge(99.9, 100.0, 100.1, 100.2, threshold=10.0 + 1e-9)[0] == 0
    assert edge(99.9, 100.0, 100.1, 100.2, threshold=9.99)[0] == 1
    direction, bps, qty = edge(99.9, 100.0, 100.05, 100.1)
    assert direction == 0 and qty == 0.0 and bps == pytest.approx(5.0)


def test_size_limited_by_quoted_sizes_and_notional() -> None:
    # buy on A: limited by A's ask size and B's bid size
    assert edge(99.9, 100.0, 100.2, 100.3, sizes=(9.0, 0.4, 0.7, 9.0))[2] == 0.4
    assert edge(99.9, 100.0, 100.2, 100.3, sizes=(9.0, 5.0, 0.7, 9.0))[2] == 0.7
    assert edge(99.9, 100.0, 100.2, 100.3, sizes=(9.0, 5.0, 5.0, 9.0),
                max_notional=250.0)[2] == pytest.approx(2.5)
    # no size on the book: no trade
    assert edge(99.9, 100.0, 100.2, 100.3, sizes=(1.0, 0.0, 1.0, 1.0))[0] == 0


def test_missing_or_bad_prices_are_no_opportunity() -> None:
    assert edge(math.nan, 100.0, 100.2, 100.3)[0] == 0
    assert edge(99.9, 0.0, 100.2, 100.3)[0] == 0
