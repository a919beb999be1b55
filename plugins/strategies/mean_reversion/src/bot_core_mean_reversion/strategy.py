"""The mean-reversion strategy: rolling z-score entries and exits on closed bars."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from bot_core.orders import OrderIntent
from bot_core.strategy import Strategy, StrategyContext, StrategySettings
from bot_core.targets import TargetTracker
from bot_core_mean_reversion.settings import MeanReversionSettings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from bot_core.market import Bar, FeedSpec

__all__ = ["MeanReversionStrategy"]

class _Book:
    """Per-instrument live state: the incremental z-score and the rule's state vector."""

    __slots__ = ("last_reason", "moments", "state", "tracker")

    def __init__(self, window: int, min_periods: int) -> None:
        from bot_core.kernels import RollingMoments
        from bot_core_mean_reversion.rules import new_state

        self.moments = RollingMoments(window, min_periods)
        self.state = new_state()
        self.last_reason = 0
        self.tracker = TargetTracker()


class MeanReversionStrategy(Strategy):
    """Buy weakness, sell strength, relative to a rolling mean of the (log) close.

    Per closed bar: ``z = (p - mean(p, window)) / std(p, window, ddof=1)`` with ``p`` the close
    or its log; enter long at ``z <= -entry_z`` (short at ``z >= entry_z`` when
    ``allow_short``), exit a long at ``z >= exit_z`` (a short at ``z <= -exit_z``), or on the
    stop (``stop_loss_pct`` against the entry close) or after ``max_holding_bars``. The
    position is sized at entry: ``equity_pct`` % of equity / close, or ``quantity``.

    **Live path** (``on_bar``): O(1) per bar with the incremental
    :class:`bot_core.kernels.RollingMoments`; the intent trades the difference between the
    target and ``ctx.position`` as a market IOC order (nothing rests on the book, so the next
    bar sees the true position).

    **Batch path** (``target_positions(frame, equity)``): the target position of every bar of
    an OHLCV frame, computed by :func:`bot_core.kernels.rolling_zscore` and the same compiled
    rule step as ``on_bar``; the backtest engine uses it as its fast path. It equals what
    ``on_bar`` decides bar by bar when every order fills and equity stays ``equity``.
    """

    id: ClassVar[str] = "mean_reversion"
    Settings: ClassVar[type[StrategySettings]] = MeanReversionSettings
    data_kind = "ohlcv"

    def __init__(self, settings: StrategySettings, *, name: str | None = None,
                 instruments: Sequence[str] = (), venues: Sequence[str] = ()) -> None:
        if not isinstance(settings, MeanReversionSettings):
            raise TypeError(f"{type(self).__name__} needs MeanReversionSettings, got "
                            f"{type(settings).__name__}")
        super().__init__(settings, name=name, instruments=instruments, venues=venues)
        self.cfg: MeanReversionSettings = settings
        self._books: dict[str, _Book] = {}
        self._params: np.ndarray | None = None

    # -- the data ---------------------------------------------------------------------------

    def bind_feeds(self, feeds: Sequence[FeedSpec]) -> list[str]:
        """Refuse a window that a feed is too short to fill: its z-score would never be
        defined and the strategy would never trade it. The base class warns about the
        profiles' windows (made for 1-minute bars) on bars of another length."""
        warnings = super().bind_feeds(feeds)
        need = self.cfg.min_periods
        field = "window_bars" if self.cfg.min_periods_bars is None else "min_periods_bars"
        for spec in self.feeds:
            if spec.rows is not None and spec.rows <= need:
                bars = f"{need} {spec.timeframe} bars" if spec.timeframe else f"{need} bars"
                raise self.config_error(
                    f"params.{field}", f"{bars} ({spec.span(need)}) come before the first "
                    f"z-score, but {spec.source} has "
                    f"{spec.rows} rows: the strategy could never trade; choose a window for "
                    "this timeframe (docs/strategies/mean_reversion.md, Timeframes)")
        return warnings

    # -- shared helpers -----------------------------------------------------------------------

    def _rule_params(self) -> np.ndarray:
        if self._params is None:
            from bot_core_mean_reversion.rules import pack_params

            self._params = pack_params(self.cfg)
        return self._params

    def _book(self, instrument: str) -> _Book:
        book = self._books.get(instrument)
        if book is None:
            book = self._books[instrument] = _Book(self.cfg.window_bars, self.cfg.min_periods)
        return book

    def _signal_price(self, close: float) -> float:
        if not (close > 0.0 and math.isfinite(close)):
            return math.nan
        return math.log(close) if self.cfg.use_log_price else close

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
            book = self._book(instrument)
            for close in frame["close"].to_numpy(dtype=float):
                book.moments.update(self._signal_price(float(close)))

    def on_bar(self, bar: Bar, ctx: StrategyContext) -> Sequence[OrderIntent]:
        from bot_core_mean_reversion.rules import REASONS, decide

        book = self._book(bar.instrument)
        z = book.moments.update(self._signal_price(bar.close))
        target, reason = decide(book.state, self._rule_params(), z, float(bar.close),
                                float(ctx.equity))
        book.last_reason = int(reason)
        venue = self.venues[0] if self.venues else bar.venue
        current = float(ctx.position(bar.instrument, venue))
        return book.tracker.intents(self.name, venue, bar.instrument, float(target), current,
                                    ctx, bar.ts_ns, REASONS[reason] if reason else "resync")

    def zscore(self, instrument: str) -> float:
        """The latest live z-score of ``instrument`` (NaN before the window is filled)."""
        book = self._books.get(instrument)
        return math.nan if book is None else book.moments.zscore

    # -- batch path ---------------------------------------------------------------------------

    def signal(self, frame: pd.DataFrame) -> np.ndarray:
        """The z-score of every bar of an OHLCV frame (batch kernel, causal)."""
        import numpy as np

        from bot_core.kernels import rolling_zscore

        close = frame["close"].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            price = np.where(close > 0, close, np.nan)
            if self.cfg.use_log_price:
                price = np.log(price)
        return rolling_zscore(price, self.cfg.window_bars, self.cfg.min_periods)

    @property
    def targets_scale_with_equity(self) -> bool:
        """Sizing in % of equity scales every target with equity; a fixed quantity does not
        (see ``bot_core.Strategy``)."""
        return self.cfg.sizing == "equity_pct"

    def target_positions(self, frame: pd.DataFrame, equity: float) -> np.ndarray:
        """Signed target position (base units) of every bar of ``frame``, starting flat."""
        import numpy as np

        from bot_core_mean_reversion.rules import target_path

        close = frame["close"].to_numpy(dtype=np.float64)
        targets, _ = target_path(self.signal(frame), np.ascontiguousarray(close),
                                 self._rule_params(), float(equity))
        return targets

    def decisions(self, frame: pd.DataFrame, equity: float) -> pd.DataFrame:
        """Per bar: z-score, target position and the reason tag (for analysis and docs)."""
        import numpy as np
        import pandas as pd

        from bot_core_mean_reversion.rules import REASONS, target_path

        z = self.signal(frame)
        close = np.ascontiguousarray(frame["close"].to_numpy(dtype=np.float64))
        targets, reasons = target_path(z, close, self._rule_params(), float(equity))
        return pd.DataFrame({"zscore": z, "target": targets,
                             "reason": np.asarray(REASONS, dtype=object)[reasons]},
                            index=frame.index)
