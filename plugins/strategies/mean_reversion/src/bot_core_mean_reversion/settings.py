"""Settings of the mean-reversion strategy: every field with its unit and allowed range."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from bot_core.strategy import StrategySettings

__all__ = ["MeanReversionSettings"]


class MeanReversionSettings(StrategySettings):
    """Rolling z-score mean reversion; see docs/strategies/mean_reversion.md for the rule."""

    window_bars: int = Field(
        60, ge=2, le=100_000,
        description="Bars in the rolling window of the z-score, current bar included, "
        "[2, 100000].",
    )
    min_periods_bars: int | None = Field(
        None, ge=2, le=100_000,
        description="Valid (non-missing) bars the window needs before a z-score is defined, "
        "[2, window_bars]; default: window_bars (as pandas' rolling).",
    )
    use_log_price: bool = Field(
        True, description="Z-score of log(close) instead of close (scale-free for trending "
        "prices).",
    )
    entry_z: float = Field(
        2.0, gt=0, le=10,
        description="Enter long when z <= -entry_z (short when z >= entry_z and shorting is "
        "allowed); standard deviations, (0, 10].",
    )
    exit_z: float = Field(
        0.0, ge=-10, le=10,
        description="Exit a long when z >= exit_z, a short when z <= -exit_z; standard "
        "deviations, [-10, 10], must be > -entry_z.",
    )
    allow_short: bool = Field(
        False, description="Also enter short positions at z >= entry_z.",
    )
    stop_loss_pct: float | None = Field(
        None, gt=0, le=50,
        description="Exit when the close moves this far against the entry price, percent, "
        "(0, 50]; none by default.",
    )
    max_holding_bars: int | None = Field(
        None, ge=1, le=1_000_000,
        description="Exit after holding this many bars, [1, 1000000]; none by default.",
    )
    sizing: Literal["equity_pct", "fixed_quantity"] = Field(
        "equity_pct",
        description="equity_pct: position = equity_pct % of equity / close at entry; "
        "fixed_quantity: position = quantity base units.",
    )
    equity_pct: float = Field(
        10.0, gt=0, le=100,
        description="Position notional at entry as a percentage of equity, (0, 100]; "
        "used with sizing = equity_pct.",
    )
    quantity: float | None = Field(
        None, gt=0, le=1e12,
        description="Position size in base units, (0, 1e12]; required with sizing = "
        "fixed_quantity.",
    )

    # Made for 1-minute bars: a window of hours, not minutes, so that the distance to the
    # mean at entry (entry_z x the window's standard deviation) is several times the
    # round-trip cost of ~12 bps (2 x (5 bps taker fee + 1 bp slippage) on the paper venue),
    # and a holding limit of two to three windows (the time a reversion is expected to take).
    # equity_pct plus vol_target's max_leverage and band on the shared instruments (BTC, ETH)
    # stays at or below 4/5 of the preset's risk.max_position_pct. See
    # docs/strategies/mean_reversion.md, "Defaults per preset".
    profile_timeframe = "1m"
    profile_defaults = {
        "conservative": {"window_bars": 720, "entry_z": 3.0, "exit_z": 0.0,
                         "allow_short": False, "stop_loss_pct": 3.0, "max_holding_bars": 1440,
                         "equity_pct": 3.0},
        "balanced": {"window_bars": 480, "entry_z": 2.5, "exit_z": 0.0, "allow_short": True,
                     "stop_loss_pct": 4.0, "max_holding_bars": 1440, "equity_pct": 7.0},
        "aggressive": {"window_bars": 360, "entry_z": 2.0, "exit_z": 0.0, "allow_short": True,
                       "stop_loss_pct": 6.0, "max_holding_bars": 720, "equity_pct": 11.0},
    }

    # The same profiles on longer bars (docs/strategies/mean_reversion.md, "Timeframes"): a
    # window of days on hourly bars, of one to three months on daily bars, of a quarter to a
    # year on weekly bars and of half a year to two years on monthly bars, a holding limit of
    # two windows, and from daily bars on a stop a few bars' moves away.
    timeframe_defaults = {
        "1h": {"conservative": {"window_bars": 120, "max_holding_bars": 240},
               "balanced": {"window_bars": 72, "max_holding_bars": 144},
               "aggressive": {"window_bars": 48, "max_holding_bars": 96}},
        "1d": {"conservative": {"window_bars": 60, "max_holding_bars": 120,
                                "stop_loss_pct": 12.0},
               "balanced": {"window_bars": 40, "max_holding_bars": 80, "stop_loss_pct": 10.0},
               "aggressive": {"window_bars": 20, "max_holding_bars": 40, "stop_loss_pct": 8.0}},
        "1w": {"conservative": {"window_bars": 52, "max_holding_bars": 104,
                                "stop_loss_pct": 20.0},
               "balanced": {"window_bars": 26, "max_holding_bars": 52, "stop_loss_pct": 15.0},
               "aggressive": {"window_bars": 13, "max_holding_bars": 26, "stop_loss_pct": 12.0}},
        "1M": {"conservative": {"window_bars": 24, "max_holding_bars": 48,
                                "stop_loss_pct": 30.0},
               "balanced": {"window_bars": 12, "max_holding_bars": 24, "stop_loss_pct": 25.0},
               "aggressive": {"window_bars": 6, "max_holding_bars": 12, "stop_loss_pct": 20.0}},
    }

    @model_validator(mode="after")
    def _consistent(self) -> MeanReversionSettings:
        if self.min_periods_bars is not None and self.min_periods_bars > self.window_bars:
            raise ValueError(f"min_periods_bars ({self.min_periods_bars}) must not exceed "
                             f"window_bars ({self.window_bars})")
        if self.exit_z <= -self.entry_z:
            raise ValueError(f"exit_z ({self.exit_z}) must be greater than -entry_z "
                             f"({-self.entry_z}), or every entry would exit at once")
        if self.sizing == "fixed_quantity" and self.quantity is None:
            raise ValueError("sizing = 'fixed_quantity' needs quantity (base units)")
        return self

    @property
    def min_periods(self) -> int:
        return self.window_bars if self.min_periods_bars is None else self.min_periods_bars
