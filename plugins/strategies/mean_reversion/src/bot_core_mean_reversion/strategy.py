"""The mean-reversion strategy: rolling z-score entries and exits on closed bars."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import bot_core
from bot_core_mean_reversion.settings import MeanReversionSettings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from bot_core.kernels import RollingMoments

__all__ = ["MeanReversionStrategy"]


class MeanReversionStrategy(bot_core.Strategy[MeanReversionSettings]):
    """Buy weakness, sell strength, relative to a rolling mean of the (log) close.

    Per closed bar: ``z = (p - mean(p, window)) / std(p, window, ddof=1)`` with ``p`` the close
    or its log; enter long at ``z <= -entry_z`` (short at ``z >= entry_z`` when
    ``allow_short``), exit a long at ``z >= exit_z`` (a short at ``z <= -exit_z``), or on the
    stop (``stop_loss_pct`` against the entry close) or after ``max_holding_bars``. The
    position is sized at entry: ``equity_pct`` % of equity / close, or ``quantity``.

    It offers the batch contract (``bot_core.Strategy``): the z-score of every bar at once
    (:meth:`signal`, :func:`bot_core.kernels.rolling_zscore`) or bar by bar
    (:meth:`signal_update`, the incremental :class:`bot_core.kernels.RollingMoments`, O(1)), and
    the rule as one compiled step (``rules.decide``), which ``on_bar`` and a backtest's
    compiled replay both run.
    """

    id: ClassVar[str] = "mean_reversion"
    Settings: ClassVar[type[bot_core.StrategySettings]] = MeanReversionSettings
    data_kind = "ohlcv"

    def __init__(self, settings: MeanReversionSettings, *, name: str | None = None,
                 instruments: Sequence[str] = (), venues: Sequence[str] = ()) -> None:
        super().__init__(settings, name=name, instruments=instruments, venues=venues)
        self._moments: dict[str, tuple[RollingMoments, np.ndarray]] = {}
        """instrument -> the incremental z-score and the row it fills in for ``decide``."""

    # -- the data ---------------------------------------------------------------------------

    def bind_feeds(self, feeds: Sequence[bot_core.FeedSpec]) -> list[str]:
        """Refuse a window that a feed is too short to fill: its z-score would never be
        defined and the strategy would never trade it. The base class warns about the
        profiles' windows (made for 1-minute bars) on bars of another length."""
        warnings = super().bind_feeds(feeds)
        need = self.settings.min_periods
        field = "window_bars" if self.settings.min_periods_bars is None else "min_periods_bars"
        for spec in self.feeds:
            if spec.rows is not None and spec.rows <= need:
                bars = f"{need} {spec.timeframe} bars" if spec.timeframe else f"{need} bars"
                raise self.config_error(
                    f"params.{field}", f"{bars} ({spec.span(need)}) come before the first "
                    f"z-score, but {spec.source} has "
                    f"{spec.rows} rows: the strategy could never trade; choose a window for "
                    "this timeframe (docs/strategies/mean_reversion.md, Timeframes)")
        return warnings

    # -- the batch contract -------------------------------------------------------------------

    def decision_rule(self) -> bot_core.DecisionRule:
        from bot_core_mean_reversion.rules import REASONS, STATE_SIZE, decide, pack_params

        return bot_core.DecisionRule(decide, pack_params(self.settings), STATE_SIZE, REASONS)

    def signal(self, frame: pd.DataFrame) -> np.ndarray:
        """The z-score of every bar of an OHLCV frame (batch kernel, causal)."""
        import numpy as np

        from bot_core.kernels import rolling_zscore

        close = frame["close"].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            price = np.where(close > 0, close, np.nan)
            if self.settings.use_log_price:
                np.log(price, out=price)  # in place: np.where made it
        return rolling_zscore(price, self.settings.window_bars, self.settings.min_periods)

    def signal_update(self, bar: bot_core.Bar) -> np.ndarray:
        """This bar's z-score, from the incremental window."""
        moments, row = self._window(bar.instrument)
        row[0] = moments.update(self._signal_price(bar.close))
        return row

    def _window(self, instrument: str) -> tuple[RollingMoments, np.ndarray]:
        found = self._moments.get(instrument)
        if found is None:
            import numpy as np

            from bot_core.kernels import RollingMoments

            found = (RollingMoments(self.settings.window_bars, self.settings.min_periods),
                     np.full(1, math.nan))
            self._moments[instrument] = found
        return found

    def _signal_price(self, close: float) -> float:
        if not (close > 0.0 and math.isfinite(close)):
            return math.nan
        return math.log(close) if self.settings.use_log_price else close

    # -- live path ----------------------------------------------------------------------------

    def warm_up(self, history: Any) -> None:
        """Feed past closes (a DataFrame, or instrument -> DataFrame) into the z-score only.

        The rule's position state starts flat: warm-up never implies a position.
        """
        frames: Mapping[str, Any]
        if isinstance(history, Mapping):
            frames = history
        else:
            frames = {instrument: history for instrument in self.instruments[:1]}
        for instrument, frame in frames.items():
            moments, _ = self._window(instrument)
            for close in frame["close"].to_numpy(dtype=float):
                moments.update(self._signal_price(float(close)))

    def zscore(self, instrument: str) -> float:
        """The latest live z-score of ``instrument`` (NaN before the window is filled)."""
        found = self._moments.get(instrument)
        return math.nan if found is None else found[0].zscore

    # -- analysis -----------------------------------------------------------------------------

    def target_positions(self, frame: pd.DataFrame, equity: float) -> np.ndarray:
        """Signed target position (base units) of every bar of ``frame``, starting flat, every
        order filled at once and equity staying ``equity``."""
        return self._path(frame, equity)[0]

    def decisions(self, frame: pd.DataFrame, equity: float) -> pd.DataFrame:
        """Per bar: z-score, target position and the reason tag (for analysis and docs)."""
        import numpy as np
        import pandas as pd

        from bot_core_mean_reversion.rules import REASONS

        targets, reasons = self._path(frame, equity)
        return pd.DataFrame({"zscore": self.signal(frame), "target": targets,
                             "reason": np.asarray(REASONS, dtype=object)[reasons]},
                            index=frame.index)

    def _path(self, frame: pd.DataFrame, equity: float) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        from bot_core.kernels import decide_path

        rule = self.decision_rule()
        close = np.ascontiguousarray(frame["close"].to_numpy(dtype=np.float64))
        return decide_path(rule.decide, self.signal(frame), close, float(equity),
                           rule.state_size, rule.params)
