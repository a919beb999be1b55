"""The batch kernels' fast organisation changes nothing: blocks, anchors and threads.

The incremental classes run only the scalar step. The batch kernels run vectorised blocks,
start segments at anchors and split them over threads. These tests hold every batch output
*bit for bit* equal to the incremental one on long series that cross several anchors and mix
the cases that leave the fast blocks (gaps, warm-up, flat stretches, jumps that force rebuilds).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot_core.kernels import (
    EwmaVol,
    RollingMoments,
    RollingVol,
    ewma_vol,
    rolling_mean_std,
    rolling_vol,
    rolling_zscore,
)
from bot_core.kernels._segments import (
    ANCHOR,
    default_workers,
    run_segments,
    segment_count,
    usable_cpus,
)
from bot_core.kernels.volatility import bar_returns, log_return

SIZE = 2 * ANCHOR + 5_000  # three segments: 0, ANCHOR, 2 * ANCHOR


def awkward_prices(seed: int, size: int = SIZE) -> np.ndarray:
    """Prices ~1e5: tiny-variance and trending stretches, flat runs, jumps and NaN gaps, with
    some of them placed right at and around the anchors."""
    rng = np.random.default_rng(seed)
    x = 1e5 * np.exp(np.cumsum(rng.normal(0.0, 1e-4, size)))
    x[10_000:12_000] = 100_000.0                                   # flat run
    x[20_000:20_500] = 1e5 + 1e-7 * rng.standard_normal(500)       # tiny variance
    x[30_000:30_400] = 1e5 + 500.0 * np.arange(400.0)              # trend: stale shift
    x[ANCHOR - 50:ANCHOR + 3] = np.nan                              # gap across an anchor
    x[2 * ANCHOR - 1] = np.nan                                      # hole just before one
    x[2 * ANCHOR + 100:2 * ANCHOR + 300] = 123_456.789              # flat after an anchor
    holes = rng.choice(size, size=300, replace=False)
    x[holes] = np.nan
    x[50_000:] *= 1.3                                               # jump
    return x


def assert_same(actual: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_array_equal(actual, expected)  # NaN equals NaN here, bits otherwise


@pytest.mark.parametrize("window,min_periods", [(2, 2), (100, 100), (1_000, 10)])
def test_rolling_batch_equals_incremental_bit_for_bit_across_anchors(
        window: int, min_periods: int) -> None:
    x = awkward_prices(window)
    live = RollingMoments(window, min_periods)
    z, mean, std = (np.empty(SIZE) for _ in range(3))
    for i, value in enumerate(x):
        z[i] = live.update(value)
        mean[i], std[i] = live.mean, live.std
    batch_mean, batch_std = rolling_mean_std(x, window, min_periods)
    assert_same(rolling_zscore(x, window, min_periods), z)
    assert_same(batch_mean, mean)
    assert_same(batch_std, std)
    assert np.isfinite(z).sum() > SIZE // 2  # most bars have a z-score: the test compares values


@pytest.mark.parametrize("log_returns", [True, False])
def test_rolling_vol_batch_equals_incremental_bit_for_bit_across_anchors(
        log_returns: bool) -> None:
    p = awkward_prices(5)
    live = RollingVol(60, 20, log_returns)
    expected = np.array([live.update(v) for v in p])
    assert_same(rolling_vol(p, 60, 20, log_returns), expected)
    assert np.isfinite(expected).sum() > SIZE // 2


@pytest.mark.parametrize("log_returns", [True, False])
def test_ewma_batch_equals_incremental_bit_for_bit(log_returns: bool) -> None:
    p = awkward_prices(6)
    live = EwmaVol(0.01, 30, log_returns)
    expected = np.array([live.update(v) for v in p])
    assert_same(ewma_vol(p, 0.01, 30, log_returns), expected)
    assert np.isfinite(expected).sum() > SIZE // 2


def test_thread_count_does_not_change_results() -> None:
    x = awkward_prices(9, 5 * ANCHOR + 123)
    for workers in (2, 3, 8):
        assert_same(rolling_zscore(x, 200, workers=workers), rolling_zscore(x, 200, workers=1))
        for a, b in zip(rolling_mean_std(x, 50, 5, workers=workers),
                        rolling_mean_std(x, 50, 5, workers=1), strict=True):
            assert_same(a, b)
        assert_same(rolling_vol(x, 30, workers=workers), rolling_vol(x, 30, workers=1))


@pytest.mark.parametrize("log_returns", [True, False])
def test_threaded_ewma_equals_the_single_thread_kernel(log_returns: bool) -> None:
    x = awkward_prices(4, 2 * (1 << 20) + 12_345)  # three chunks of the threaded path
    for alpha, minp in [(0.01, 1), (0.3, (1 << 20) + 7)]:  # ready inside the second chunk
        assert_same(ewma_vol(x, alpha, minp, log_returns, workers=2),
                    ewma_vol(x, alpha, minp, log_returns, workers=1))
    missing = np.full(2 * (1 << 20) + 1, np.nan)
    assert np.isnan(ewma_vol(missing, 0.1, workers=2)).all()


def test_segments_cover_every_bar_once_whatever_the_thread_count() -> None:
    def covered(segments: int, workers: int) -> list[int]:
        seen: list[int] = []
        run_segments(lambda first, last: seen.extend(range(first, last)), segments, workers)
        return sorted(seen)

    for segments in (0, 1, 2, 7):
        for workers in (1, 2, 3, 16):
            assert covered(segments, workers) == list(range(segments))
    assert segment_count(0) == 0 and segment_count(1) == 1 and segment_count(ANCHOR + 1) == 2
    assert default_workers(segment_count(100_000)) == 1  # small inputs stay on one thread
    assert 1 <= default_workers(segment_count(10_000_000)) <= min(usable_cpus(), 8)


def test_errors_in_a_thread_reach_the_caller() -> None:
    def boom(first: int, last: int) -> None:
        if first > 0:
            raise RuntimeError("segment failed")

    with pytest.raises(RuntimeError, match="segment failed"):
        run_segments(boom, 4, 2)


def test_an_error_preparing_the_ewma_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper thread that computes the squared returns ahead fails on the second chunk:
    the caller raises its error instead of waiting for a chunk that never comes."""
    from bot_core.kernels import volatility

    real = volatility._squared_returns

    def second_fails(prices: np.ndarray, lo: int, hi: int, log_returns: bool,
                     out: np.ndarray) -> None:
        if lo > 0:
            raise RuntimeError("returns failed")
        real(prices, lo, hi, log_returns, out)

    monkeypatch.setattr(volatility, "_squared_returns", second_fails)
    with pytest.raises(RuntimeError, match="returns failed"):
        ewma_vol(awkward_prices(5, 2 * (1 << 20) + 3), 0.1, workers=2)


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_bad_worker_count_is_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match="workers must be a whole number >= 1"):
        rolling_zscore(np.ones(10), 3, workers=bad)  # type: ignore[arg-type]


def test_log_return_is_within_a_few_ulps_of_log1p() -> None:
    rng = np.random.default_rng(1)
    previous = 1e5 * np.exp(rng.uniform(-5, 5, 30_000))
    moves = np.concatenate([rng.uniform(-0.07, 0.07, 10_000), rng.normal(0, 1e-4, 10_000),
                            rng.normal(0, 1e-9, 10_000)])
    for q, u in zip(previous, moves, strict=True):
        p = float(q * (1.0 + u))
        expected = math.log1p((p - q) / q)
        assert abs(log_return(float(q), p) - expected) <= 4 * math.ulp(expected) + 1e-300, (q, p)
    for q, p in ((100.0, 107.0), (100.0, 50.0), (1.0, 1e10)):  # far moves: log1p itself
        assert log_return(q, p) == math.log1p((p - q) / q)
    assert log_return(100.0, 100.0) == 0.0
    assert math.isnan(log_return(math.nan, 1.0)) and math.isnan(log_return(1.0, math.nan))


def test_returns_kernel_equals_the_scalar_return_bar_by_bar() -> None:
    p = awkward_prices(3)[:20_000]
    p[100] = p[99] * 1.5  # a return far outside the series' range
    r = bar_returns(p)
    simple = bar_returns(p, log_returns=False)
    assert math.isnan(r[0]) and math.isnan(simple[0])
    for i in range(1, len(p)):
        assert r[i] == log_return(p[i - 1], p[i]) or (math.isnan(r[i]) and math.isnan(p[i] - p[i - 1]))
        assert simple[i] == (p[i] - p[i - 1]) / p[i - 1] or math.isnan(simple[i])
