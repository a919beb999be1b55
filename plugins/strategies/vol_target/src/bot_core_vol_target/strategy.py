"""The volatility-targeting strategy: a long position sized to a volatility target."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from bot_core.market import FeedSpec
from bot_core.orders import OrderIntent
from bot_core.strategy import Strategy, StrategyContext, StrategySettings
from bot_core.targets import TargetTracker
from bot_core_vol_target.settings import VolTargetSettings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from bot_core.market import Bar

__all__ = ["VolTargetStrategy"]

class _Book:
    """Per-instrument live state: the incremental volatility estimators."""

    __slots__ = ("ever_valid", "ewma", "factor", "last_reason", "last_vol", "rolling",
                 "tracker")

    def __init__(self, cfg: VolTargetSettings) -> None:
        from bot_core.kernels import EwmaVol, RollingVol, alpha_from_halflife

        self.ewma = EwmaVol(alpha_from_halflife(cfg.ewma_halflife_bars), cfg.min_periods_bars,
                            cfg.log_returns)
        self.rolling = RollingVol(cfg.rolling_window_bars, cfg.min_periods_bars,
                                  cfg.log_returns)
        self.ever_valid = False
        self.last_reason = 0
        self.tracker = TargetTracker()
        self.last_vol = math.nan
        self.factor = 0.0
        """Per-bar to annualized volatility (0 until the first bar asks for it)."""


class VolTargetStrategy(Strategy):
    """Hold ``min(target_vol / realized_vol, max_leverage) x equity`` of the instrument, long.

    Realized volatility is the EWMA or rolling standard deviation of bar returns (or the larger
    of the two), annualized with the square root of the data's bars per year (its
    ``FeedSpec.periods_per_year``, observed from the data's own calendar), or of
    ``days_per_year * 86400 / bar_seconds`` when ``days_per_year`` is set, and floored at
    ``vol_floor_pct``. The position moves to the target only when the difference is worth at
    least ``rebalance_band_pct`` % of equity. Missing volatility or price holds the position;
    before the first estimate the strategy stays flat.

    **Live path** (``on_bar``): O(1) per bar with :class:`bot_core.kernels.EwmaVol` and
    :class:`bot_core.kernels.RollingVol`; it trades ``target - ctx.position`` as a market IOC
    order.

    **Batch path** (``target_positions(frame, equity)``): the position of every bar of an OHLCV
    frame from :func:`bot_core.kernels.ewma_vol` / :func:`bot_core.kernels.rolling_vol` and the
    same compiled rule step as ``on_bar``; the backtest engine uses it as its fast path. It
    equals what ``on_bar`` decides bar by bar when every order fills and equity stays
    ``equity``.
    """

    target_positions_exact: ClassVar[bool] = False
    """The rebalancing band is a share of *current* equity, so batch targets computed at one
    equity rebalance on other bars than ``on_bar`` once equity moves: backtests run this
    strategy event by event rather than approximately."""

    id: ClassVar[str] = "vol_target"
    Settings: ClassVar[type[StrategySettings]] = VolTargetSettings
    data_kind = "ohlcv"

    def __init__(self, settings: StrategySettings, *, name: str | None = None,
                 instruments: Sequence[str] = (), venues: Sequence[str] = ()) -> None:
        if not isinstance(settings, VolTargetSettings):
            raise TypeError(f"{type(self).__name__} needs VolTargetSettings, got "
                            f"{type(settings).__name__}")
        super().__init__(settings, name=name, instruments=instruments, venues=venues)
        self.cfg: VolTargetSettings = settings
        self._books: dict[str, _Book] = {}
        self._params: np.ndarray | None = None
        self._rule: tuple[Any, tuple[str, ...]] | None = None
        """``rules.decide`` and ``rules.REASONS``, imported on the first bar (importing them
        imports numba; an import statement on every bar cost more than the rule itself)."""

    # -- the data's bar length and calendar ---------------------------------------------------

    def bind_feeds(self, feeds: Sequence[FeedSpec]) -> list[str]:
        """Check the settings against the data: one bar length for the instance (its parameters
        count bars), ``bar_seconds`` (when set) equal to it, a calendar to annualize with, and
        enough rows for a first volatility estimate."""
        warnings = super().bind_feeds(feeds)
        cfg = self.cfg
        lengths = sorted({f.bar_seconds for f in self.feeds if f.bar_seconds is not None})
        if len(lengths) > 1:
            listed = "; ".join(f"{f.timeframe}: {f.source}" for f in self.feeds)
            raise self.config_error("instruments", f"bars of different lengths ({listed}): its "
                                    "parameters count bars, so each bar length needs its own "
                                    "vol_target instance", list(self.instruments))
        for spec in self.feeds:
            if cfg.bar_seconds is not None and spec.bar_seconds is not None \
                    and spec.bar_seconds != cfg.bar_seconds:
                raise self.config_error(
                    "params.bar_seconds", f"disagrees with the {spec.timeframe} bars "
                    f"({spec.bar_seconds:g} s) of {spec.source}; leave it unset to take the bar "
                    "length from the data")
            self._factor(spec)  # a missing bar length or calendar is refused here
            if spec.rows is not None and spec.rows <= cfg.min_periods_bars + 1:
                raise self.config_error(
                    "params.min_periods_bars", f"{cfg.min_periods_bars} returns of "
                    f"{spec.timeframe} bars ({spec.span(cfg.min_periods_bars)}) come before the "
                    f"first volatility estimate, but {spec.source} has {spec.rows} rows: the "
                    "strategy would stay flat")
        return warnings

    def _factor(self, spec: FeedSpec) -> float:
        """Multiplier from per-bar to annualized volatility on the data of ``spec``."""
        from bot_core.kernels import annualization_factor

        cfg = self.cfg
        if cfg.days_per_year is not None:
            seconds = cfg.bar_seconds or spec.bar_seconds
            if seconds is None:
                raise self.config_error("params.bar_seconds", f"the bar length of "
                                        f"{spec.source or spec.instrument} is unknown: set it "
                                        "to annualize with days_per_year")
            return annualization_factor(seconds, cfg.days_per_year)
        if spec.periods_per_year is None:
            raise self.config_error("params.days_per_year", f"the calendar of "
                                    f"{spec.source or spec.instrument} is unknown (no bars per "
                                    "year): set days_per_year (365 for a market open 24/7) and "
                                    "bar_seconds")
        return math.sqrt(spec.periods_per_year)

    def _live_factor(self, instrument: str, venue: str) -> float:
        spec = self.feed(instrument, venue) or self.feed(instrument) or FeedSpec(
            venue, instrument, "ohlcv", f"{instrument} (no feed bound)", None, None, None)
        return self._factor(spec)

    def _frame_factor(self, frame: pd.DataFrame) -> float:
        """The annualization of a batch frame: from its own timestamps, with the same function
        the host describes a dataset with, so the batch and live paths agree."""
        if len(frame) < 2:
            return math.nan  # no return, no volatility
        bound = next((f.timeframe for f in self.feeds if f.timeframe is not None), None)
        spec = FeedSpec.from_timestamps(frame.index.as_unit("ns").asi8, venue="",
                                        instrument="", timeframe=bound, source="the frame")
        return self._factor(spec)

    def _rule_params(self) -> np.ndarray:
        if self._params is None:
            from bot_core_vol_target.rules import pack_params

            self._params = pack_params(self.cfg)
        return self._params

    def _book(self, instrument: str) -> _Book:
        book = self._books.get(instrument)
        if book is None:
            book = self._books[instrument] = _Book(self.cfg)
        return book

    def _combine(self, ewma: float, rolling: float) -> float:
        """Per-bar estimate of the configured estimator (NaN when it is missing)."""
        if self.cfg.estimator == "ewma":
            return ewma
        if self.cfg.estimator == "rolling":
            return rolling
        if ewma != ewma or rolling != rolling:
            return math.nan
        return max(ewma, rolling)

    @staticmethod
    def _clean(close: float) -> float:
        return close if close > 0.0 and math.isfinite(close) else math.nan

    # -- live path ----------------------------------------------------------------------------

    def warm_up(self, history: Any) -> None:
        """Feed past closes (a DataFrame, or instrument -> DataFrame) into the estimators."""
        frames: Mapping[str, Any]
        if isinstance(history, Mapping):
            frames = history
        else:
            frames = {instrument: history for instrument in self.instruments[:1]}
        for instrument, frame in frames.items():
            book = self._book(instrument)
            for close in frame["close"].to_numpy(dtype=float):
                price = self._clean(float(close))
                vol = self._combine(book.ewma.update(price), book.rolling.update(price))
                book.ever_valid = book.ever_valid or vol == vol

    def on_bar(self, bar: Bar, ctx: StrategyContext) -> Sequence[OrderIntent]:
        if self._rule is None:
            from bot_core_vol_target.rules import REASONS, decide

            self._rule = (decide, REASONS)
        decide, reasons = self._rule
        book = self._book(bar.instrument)
        price = self._clean(float(bar.close))
        vol = self._combine(book.ewma.update(price), book.rolling.update(price))
        venue = self.venues[0] if self.venues else bar.venue
        if not book.factor:
            book.factor = self._live_factor(bar.instrument, venue)
        vol_annual = vol * book.factor
        book.last_vol = vol_annual
        book.ever_valid = book.ever_valid or vol_annual == vol_annual
        current = float(ctx.position(bar.instrument, venue))
        target, reason = decide(current, vol_annual, float(bar.close), float(ctx.equity),
                                self._rule_params(), book.ever_valid)
        book.last_reason = int(reason)
        return book.tracker.intents(self.name, venue, bar.instrument, float(target), current,
                                    ctx, bar.ts_ns, reasons[reason])

    def realized_vol(self, instrument: str) -> float:
        """The latest live annualized volatility of ``instrument`` (NaN before the first)."""
        book = self._books.get(instrument)
        return math.nan if book is None else book.last_vol

    # -- batch path ---------------------------------------------------------------------------

    def signal(self, frame: pd.DataFrame) -> np.ndarray:
        """Annualized realized volatility of every bar (batch kernels, causal)."""
        import numpy as np

        from bot_core.kernels import alpha_from_halflife, ewma_vol, rolling_vol

        close = frame["close"].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            close = np.where((close > 0) & np.isfinite(close), close, np.nan)
        cfg = self.cfg
        ewma = rolling = None
        if cfg.estimator in ("ewma", "max"):
            ewma = ewma_vol(close, alpha_from_halflife(cfg.ewma_halflife_bars),
                            cfg.min_periods_bars, cfg.log_returns)
        if cfg.estimator in ("rolling", "max"):
            rolling = rolling_vol(close, cfg.rolling_window_bars, cfg.min_periods_bars,
                                  cfg.log_returns)
        if ewma is not None and rolling is not None:
            vol = np.maximum(ewma, rolling)  # NaN when either is NaN, as _combine
        else:
            vol = ewma if ewma is not None else rolling
        assert vol is not None  # the estimator is one of ewma, rolling, max
        annual: np.ndarray = vol * self._frame_factor(frame)
        return annual

    def target_positions(self, frame: pd.DataFrame, equity: float) -> np.ndarray:
        """Signed target position (base units) of every bar of ``frame``, starting flat."""
        import numpy as np

        from bot_core_vol_target.rules import target_path

        close = np.ascontiguousarray(frame["close"].to_numpy(dtype=np.float64))
        positions, _ = target_path(self.signal(frame), close, self._rule_params(),
                                   float(equity))
        return positions

    def target_fractions(self, frame: pd.DataFrame) -> tuple[np.ndarray, float]:
        """Target of every bar as a fraction of equity (NaN: hold), and the rebalancing band
        as a share of equity: what ``on_bar`` decides with the equity of each bar, for the
        backtest's compiled replay (see ``bot_core.Strategy``)."""
        from bot_core_vol_target.rules import leverage_path

        return leverage_path(self.signal(frame), self._rule_params())

    def decisions(self, frame: pd.DataFrame, equity: float) -> pd.DataFrame:
        """Per bar: annualized volatility, position and the reason tag."""
        import numpy as np
        import pandas as pd

        from bot_core_vol_target.rules import REASONS, target_path

        vol = self.signal(frame)
        close = np.ascontiguousarray(frame["close"].to_numpy(dtype=np.float64))
        positions, reasons = target_path(vol, close, self._rule_params(), float(equity))
        return pd.DataFrame({"vol_annual": vol, "target": positions,
                             "reason": np.asarray(REASONS, dtype=object)[reasons]},
                            index=frame.index)
