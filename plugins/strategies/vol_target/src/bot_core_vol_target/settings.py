"""Settings of the volatility-targeting strategy: every field with its unit and allowed range."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from bot_core.strategy import StrategySettings

__all__ = ["VolTargetSettings"]


class VolTargetSettings(StrategySettings):
    """Long exposure scaled to a volatility target; see docs/strategies/vol_target.md."""

    target_vol_pct: float = Field(
        20.0, gt=0, le=500,
        description="Annualized volatility the position aims for, percent, (0, 500].",
    )
    estimator: Literal["ewma", "rolling", "max"] = Field(
        "ewma",
        description="Realized-vol estimate: ewma, rolling, or max (the larger of the two, the "
        "cautious choice).",
    )
    ewma_halflife_bars: float = Field(
        360.0, ge=1, le=1_000_000,
        description="Half-life of the EWMA of squared returns, bars, [1, 1000000].",
    )
    rolling_window_bars: int = Field(
        1440, ge=2, le=1_000_000,
        description="Returns in the rolling-volatility window, bars, [2, 1000000].",
    )
    min_periods_bars: int = Field(
        60, ge=2, le=1_000_000,
        description="Valid returns needed before a volatility estimate is used, bars, "
        "[2, rolling_window_bars]; flat until then.",
    )
    log_returns: bool = Field(True, description="Log returns (else simple returns).")
    bar_seconds: float | None = Field(
        None, ge=1, le=604_800,
        description="Length of one bar, seconds, [1, 604800]; none (the default) = the data's "
        "bar length. When set, it must agree with the data's timeframe.",
    )
    days_per_year: float | None = Field(
        None, ge=1, le=366,
        description="Days per year of a market open around the clock, [1, 366], to annualize "
        "per-bar volatility as days_per_year x 86400 / bar_seconds bars a year; none (the "
        "default) = the data's own calendar (bars observed per year: ~525,960 for 24/7 "
        "1-minute bars, ~252 for a stock exchange's daily bars).",
    )
    vol_floor_pct: float = Field(
        5.0, gt=0, le=500,
        description="Annualized volatility below this is taken as this, percent, (0, 500]: a "
        "flat or zero-volatility market must not ask for infinite size.",
    )
    max_leverage: float = Field(
        1.0, gt=0, le=10,
        description="Largest position notional / equity, (0, 10].",
    )
    rebalance_band_pct: float = Field(
        2.0, ge=0, le=100,
        description="Trade only when the target differs from the position by at least this "
        "share of equity (notional), percent, [0, 100].",
    )

    # Per-instrument weight caps (max_leverage) leave room on BTC and ETH for mean_reversion,
    # which trades the same instruments on the same venue: vol_target's cap and rebalance band
    # plus mean_reversion's equity_pct stay at or below 4/5 of the preset's
    # risk.max_position_pct (10 / 20 / 35 %), the rest is headroom for price moves and for
    # cross_arb's legs. target_vol_pct is this instrument's share of the risk budget: about
    # max_leverage x a typical crypto volatility of 50 %, so the cap binds only in quiet
    # markets. See docs/strategies/vol_target.md, "Defaults per preset".
    profile_timeframe = "1m"
    profile_defaults = {
        "conservative": {"target_vol_pct": 2.0, "estimator": "max", "max_leverage": 0.04,
                         "rebalance_band_pct": 0.5, "ewma_halflife_bars": 720.0},
        "balanced": {"target_vol_pct": 4.0, "estimator": "ewma", "max_leverage": 0.08,
                     "rebalance_band_pct": 1.0, "ewma_halflife_bars": 360.0},
        "aggressive": {"target_vol_pct": 7.5, "estimator": "ewma", "max_leverage": 0.15,
                       "rebalance_band_pct": 2.0, "ewma_halflife_bars": 180.0},
    }

    # The same profiles on longer bars (docs/strategies/vol_target.md, "Timeframes"): a
    # half-life of days on hourly bars, of weeks on daily bars and of months on weekly and
    # monthly bars, with a rolling window and a warm-up that a few months (daily), a quarter
    # (weekly) or half a year (monthly) of data fill.
    timeframe_defaults = {
        "1h": {"conservative": {"ewma_halflife_bars": 120.0, "rolling_window_bars": 240,
                                "min_periods_bars": 24},
               "balanced": {"ewma_halflife_bars": 72.0, "rolling_window_bars": 240,
                            "min_periods_bars": 24},
               "aggressive": {"ewma_halflife_bars": 48.0, "rolling_window_bars": 240,
                              "min_periods_bars": 24}},
        "1d": {"conservative": {"ewma_halflife_bars": 40.0, "rolling_window_bars": 60,
                                "min_periods_bars": 20},
               "balanced": {"ewma_halflife_bars": 20.0, "rolling_window_bars": 60,
                            "min_periods_bars": 20},
               "aggressive": {"ewma_halflife_bars": 10.0, "rolling_window_bars": 60,
                              "min_periods_bars": 20}},
        "1w": {"conservative": {"ewma_halflife_bars": 26.0, "rolling_window_bars": 52,
                                "min_periods_bars": 13},
               "balanced": {"ewma_halflife_bars": 13.0, "rolling_window_bars": 52,
                            "min_periods_bars": 13},
               "aggressive": {"ewma_halflife_bars": 8.0, "rolling_window_bars": 52,
                              "min_periods_bars": 13}},
        "1M": {"conservative": {"ewma_halflife_bars": 12.0, "rolling_window_bars": 24,
                                "min_periods_bars": 6},
               "balanced": {"ewma_halflife_bars": 6.0, "rolling_window_bars": 24,
                            "min_periods_bars": 6},
               "aggressive": {"ewma_halflife_bars": 4.0, "rolling_window_bars": 24,
                              "min_periods_bars": 6}},
    }

    @model_validator(mode="after")
    def _consistent(self) -> VolTargetSettings:
        if self.min_periods_bars > self.rolling_window_bars:
            raise ValueError(f"min_periods_bars ({self.min_periods_bars}) must not exceed "
                             f"rolling_window_bars ({self.rolling_window_bars})")
        return self
