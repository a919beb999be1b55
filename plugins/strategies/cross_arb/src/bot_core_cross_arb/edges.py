"""Top-of-book edge between two venues: one compiled function for the live and batch paths.

Importing this module imports numba.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["best_edge", "edge_path"]


@njit(cache=True, nogil=True, error_model="numpy")
def best_edge(bid_a: float, ask_a: float, bid_size_a: float, ask_size_a: float,
              bid_b: float, ask_b: float, bid_size_b: float, ask_size_b: float,
              threshold_bps: float, max_notional: float) -> tuple[int, float, float]:
    """``(direction, gross edge bps, quantity)`` of the better of the two crossings.

    direction ``+1``: buy on A at ``ask_a``, sell on B at ``bid_b``; ``-1``: buy on B, sell on A;
    ``0``: no edge above ``threshold_bps`` (then quantity is 0). Edge is in basis points of the
    buy price. Quantity is limited by the ask size on the buy venue, the bid size on the sell
    venue and ``max_notional`` at the buy price. Missing or non-positive prices: no edge.
    """
    if not (ask_a > 0.0 and ask_b > 0.0 and bid_a > 0.0 and bid_b > 0.0):
        return 0, math.nan, 0.0
    edge_ab = (bid_b - ask_a) / ask_a * 1e4
    edge_ba = (bid_a - ask_b) / ask_b * 1e4
    if edge_ab >= edge_ba:
        if not edge_ab > threshold_bps:
            return 0, edge_ab, 0.0
        qty = min(ask_size_a, bid_size_b, max_notional / ask_a)
        return (1, edge_ab, qty) if qty > 0.0 else (0, edge_ab, 0.0)
    if not edge_ba > threshold_bps:
        return 0, edge_ba, 0.0
    qty = min(ask_size_b, bid_size_a, max_notional / ask_b)
    return (-1, edge_ba, qty) if qty > 0.0 else (0, edge_ba, 0.0)


@njit(cache=True, nogil=True, error_model="numpy")
def edge_path(venue_is_a: np.ndarray, ts_ns: np.ndarray, bid: np.ndarray, ask: np.ndarray,
              bid_size: np.ndarray, ask_size: np.ndarray, threshold_bps: float,
              max_notional: float, max_age_ns: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Replay a merged quote stream (one row per quote event, in arrival order).

    Keeps the latest quote of each venue, as ``on_quote`` does, and returns per event
    ``(direction, edge_bps, quantity, buy_price, sell_price)``. Events where either venue has no
    quote yet, or the two quotes are more than ``max_age_ns`` apart, have direction 0.
    """
    size = bid.shape[0]
    direction = np.zeros(size, dtype=np.int8)
    edge = np.full(size, math.nan)
    qty = np.zeros(size)
    buy = np.full(size, math.nan)
    sell = np.full(size, math.nan)
    qa = np.full(4, math.nan)
    qb = np.full(4, math.nan)
    ts_a = -1
    ts_b = -1
    for i in range(size):
        q = qa if venue_is_a[i] else qb
        q[0] = bid[i]
        q[1] = ask[i]
        q[2] = bid_size[i]
        q[3] = ask_size[i]
        if venue_is_a[i]:
            ts_a = ts_ns[i]
        else:
            ts_b = ts_ns[i]
        if ts_a < 0 or ts_b < 0 or abs(ts_a - ts_b) > max_age_ns:
            continue
        d, e, n = best_edge(qa[0], qa[1], qa[2], qa[3], qb[0], qb[1], qb[2], qb[3],
                            threshold_bps, max_notional)
        direction[i] = d
        edge[i] = e
        qty[i] = n
        if d > 0:
            buy[i] = qa[1]
            sell[i] = qb[0]
        elif d < 0:
            buy[i] = qb[1]
            sell[i] = qa[0]
    return direction, edge, qty, buy, sell
