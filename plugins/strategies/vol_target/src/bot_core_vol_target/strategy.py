"""The volatility-targeting strategy: a long position sized to a volatility target."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import bot_core
from bot_core import FeedSpec
from bot_core_vol_target.settings import VolTargetSettings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["VolTargetStrategy"]


class _Book:
    """Per-instrument live state: the incremental volatility estimators and the signal row."""

    __slots__ = ("ewma", "factor", "rolling", "row")

    def __init__(self, cfg: VolTargetSettings) -> None:
        import numpy as np

        from bot_core.kernels import EwmaVol, RollingVol, alpha_from_halflife

        self.ewma = EwmaVol(alpha_from_halflife(cfg.ewma_halflife_bars), cfg.min_periods_bars,
                            cfg.log_returns)
        self.rolling = RollingVol(cfg.rolling_window_bars, cfg.min_periods_bars,
                                  cfg.log_returns)
        self.row = np.array([math.nan, 0.0])
        """The rule's signal: annualized volatility, 1.0 once any estimate was seen."""
        self.factor = 0.0
        """Per-bar to annualized volatility (0 until the first bar asks for it)."""


class VolTargetStrategy(bot_core.Strategy[VolTargetSettings]):
    """Hold ``min(target_vol / realized_vol, max_leverage) x equity`` of the instrument, long.

    Realized volatility is the EWMA or rolling standard deviation of bar returns (or the larger
    of the two), annualized with the square root of the data's bars per year (its
    ``FeedSpec.periods_per_year``, observed from the data's own calendar), or of
    ``days_per_year * 86400 / bar_seconds`` when ``days_per_year`` is set, and floored at
    ``vol_floor_pct``. The position moves to the target only when the difference is worth at
    least ``rebalance_band_pct`` % of equity. Missing volatility or price holds the position;
    before the first estimate the strategy stays flat.

    It offers the batch contract (``bot_core.Strategy``): the annualized volatility of every bar
    at once (:meth:`signal`: :func:`bot_core.kernels.ewma_vol` /
    :func:`bot_core.kernels.rolling_vol`) or bar by bar (:meth:`signal_update`: the O(1)
    :class:`bot_core.kernels.EwmaVol` and :class:`bot_core.kernels.RollingVol`), and the rule,
    band included, as one compiled step (``rules.decide``) that ``on_bar`` and a backtest's
    compiled replay both run with the equity of each bar.
    """

    id: ClassVar[str] = "vol_target"
    Settings: ClassVar[type[bot_core.StrategySettings]] = VolTargetSettings
    data_kind = "ohlcv"

    def __init__(self, settings: VolTargetSettings, *, name: str | None = None,
                 instruments: Sequence[str] = (), venues: Sequence[str] = ()) -> None:
        super().__init__(settings, name=name, instruments=instruments, venues=venues)
        self._books: dict[str, _Book] = {}

    # -- the data's bar length and calendar ---------------------------------------------------

    def bind_feeds(self, feeds: Sequence[FeedSpec]) -> list[str]:
        """Check the settings against the data: one bar length for the instance (its parameters
        count bars), ``bar_seconds`` (when set) equal to it, a calendar to annualize with, and
        enough rows for a first volatility estimate."""
        warnings = super().bind_feeds(feeds)
        cfg = self.settings
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

        cfg = self.settings
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

    def _book(self, instrument: str) -> _Book:
        book = self._books.get(instrument)
        if book is None:
            book = self._books[instrument] = _Book(self.settings)
        return book

    def _combine(self, ewma: float, rolling: float) -> float:
        """Per-bar estimate of the configured estimator (NaN when it is missing)."""
        if self.settings.estimator == "ewma":
            return ewma
        if self.settings.estimator == "rolling":
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
                if vol == vol:
                    book.row[1] = 1.0

    # -- the batch contract -------------------------------------------------------------------

    def decision_rule(self) -> bot_core.DecisionRule:
        from bot_core_vol_target.rules import REASONS, STATE_SIZE, decide, pack_params

        return bot_core.DecisionRule(decide, pack_params(self.settings), STATE_SIZE, REASONS)

    def signal_update(self, bar: bot_core.Bar) -> np.ndarray:
        """This bar's annualized volatility (and whether any estimate was seen yet), from the
        incremental estimators."""
        book = self._book(bar.instrument)
        price = self._clean(float(bar.close))
        vol = self._combine(book.ewma.update(price), book.rolling.update(price))
        if not book.factor:
            venue = self.venues[0] if self.venues else bar.venue
            book.factor = self._live_factor(bar.instrument, venue)
        vol_annual = vol * book.factor
        book.row[0] = vol_annual
        if vol_annual == vol_annual:
            book.row[1] = 1.0
        return book.row

    def realized_vol(self, instrument: str) -> float:
        """The latest live annualized volatility of ``instrument`` (NaN before the first)."""
        book = self._books.get(instrument)
        return math.nan if book is None else float(book.row[0])

    def signal(self, frame: pd.DataFrame) -> np.ndarray:
        """Per bar: the annualized realized volatility (batch kernels, causal) and whether any
        estimate was seen up to that bar (:func:`rules.with_history`)."""
        from bot_core_vol_target.rules import with_history

        return with_history(self.realized_vols(frame))

    def realized_vols(self, frame: pd.DataFrame) -> np.ndarray:
        """Annualized realized volatility of every bar (batch kernels, causal)."""
        import numpy as np

        from bot_core.kernels import alpha_from_halflife, ewma_vol, rolling_vol

        close = frame["close"].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            close = np.where((close > 0) & np.isfinite(close), close, np.nan)
        cfg = self.settings
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

    # -- analysis -----------------------------------------------------------------------------

    def target_positions(self, frame: pd.DataFrame, equity: float) -> np.ndarray:
        """Signed target position (base units) of every bar of ``frame``, starting flat, every
        order filled at once and equity staying ``equity``."""
        return self._path(frame, equity)[0]

    def decisions(self, frame: pd.DataFrame, equity: float) -> pd.DataFrame:
        """Per bar: annualized volatility, position and the reason tag."""
        import numpy as np
        import pandas as pd

        from bot_core_vol_target.rules import REASONS

        positions, reasons = self._path(frame, equity)
        return pd.DataFrame({"vol_annual": self.realized_vols(frame), "target": positions,
                             "reason": np.asarray(REASONS, dtype=object)[reasons]},
                            index=frame.index)

    def _path(self, frame: pd.DataFrame, equity: float) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        from bot_core.kernels import decide_path

        rule = self.decision_rule()
        close = np.ascontiguousarray(frame["close"].to_numpy(dtype=np.float64))
        return decide_path(rule.decide, self.signal(frame), close, float(equity),
                           rule.state_size, rule.params)
