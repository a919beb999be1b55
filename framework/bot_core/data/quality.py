"""DataQualityValidator: vectorized checks that say where a dataset is wrong and how.

Each check (see :data:`~bot_core.data.findings.CHECKS`) is a numpy mask over the columns, so a
million rows validate in well under a second; messages are formatted only for the first
``max_findings_per_check`` hits of a check, followed by one summary finding with the count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot_core.data.findings import CHECKS, Finding, format_duration, iso_ms
from bot_core.data.reader import Table
from bot_core.data.schema import CALENDAR_MONTH, columns_of, step_gaps, timeframe_ms

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DataQualityValidator", "ValidatorSettings"]

NO_TS = np.iinfo(np.int64).min


@dataclass(frozen=True)
class ValidatorSettings:
    """Thresholds of the checks that need one."""

    outlier_sigmas: float = 15.0
    """A return is an outlier beyond this many robust sigmas (1.4826 x MAD) of its block."""
    outlier_block_rows: int = 256
    """Rows per block over which the median and MAD of returns are estimated."""
    stale_rows_ohlcv: int = 30
    """A run of this many identical flat bars (O=H=L=C, unchanged) is stale."""
    stale_rows_quotes: int = 600
    """A run of this many quotes with unchanged bid and ask is stale."""
    max_findings_per_check: int = 20
    """Individual findings per check before a single summary finding."""


class DataQualityValidator:
    """Runs every check on a table, a frame, a file or a library entry."""

    def __init__(self, settings: ValidatorSettings | None = None) -> None:
        self.settings = settings or ValidatorSettings()

    # -- entry points ----------------------------------------------------------------------

    def validate_table(self, table: Table, *, dataset: str,
                       timeframe: str | None = None) -> list[Finding]:
        """All content checks on already parsed columns."""
        run = _Run(dataset, table, self.settings)
        run.nan_values()
        timeframe_ms(timeframe)  # an unknown timeframe: ValueError naming the known ones
        run.timestamps(timeframe)
        if table.kind == "ohlcv":
            run.ohlc()
            run.negative_volume()
        else:
            run.quotes()
        run.non_positive_prices()
        run.outlier_returns()
        run.stale_runs()
        return run.findings

    def validate_frame(self, frame: pd.DataFrame, *, kind: str, dataset: str = "<frame>",
                       timeframe: str | None = None) -> list[Finding]:
        """Check a DataFrame shaped like :func:`~bot_core.data.load_dataset`'s result."""
        import pandas as pd

        expected = list(columns_of(kind))
        problems = []
        if list(frame.columns) != expected:
            problems.append(f"columns are {list(frame.columns)}")
        wrong = [f"{c}: {frame[c].dtype}" for c in frame.columns if c in expected
                 and frame[c].dtype != np.float64]
        if wrong:
            problems.append("non-float64 columns " + ", ".join(wrong))
        index = frame.index
        if not isinstance(index, pd.DatetimeIndex) or str(index.tz) != "UTC":
            problems.append(f"index is {type(index).__name__} ({getattr(index, 'tz', None)})")
        if problems:
            return [Finding(dataset, "schema", "error", None, None, "; ".join(problems),
                            f"a UTC DatetimeIndex named timestamp and float64 columns "
                            f"{','.join(expected)}")]
        ts_ms = index.as_unit("ms").asi8.astype("int64")
        table = Table(kind, ts_ms, {c: frame[c].to_numpy() for c in expected})
        return self.validate_table(table, dataset=dataset, timeframe=timeframe)

    def validate_file(self, path: Path, *, kind: str | None = None, timeframe: str | None = None,
                      dataset: str | None = None) -> list[Finding]:
        """Read a normalized file tolerantly and check it; bad cells become findings."""
        from bot_core.data.file_checks import read_for_validation

        name = dataset or str(path)
        table, findings, kind, timeframe = read_for_validation(path, kind, timeframe, name)
        if table is not None and table.rows:
            findings += self.validate_table(table, dataset=name, timeframe=timeframe)
        return findings


@dataclass
class _Run:
    """One validation pass: the table, its derived arrays and the findings so far."""

    dataset: str
    table: Table
    settings: ValidatorSettings

    def __post_init__(self) -> None:
        self.findings: list[Finding] = []
        self.valid_ts = self.table.ts_ms != NO_TS

    def _ts(self, position: int) -> str | None:
        value = int(self.table.ts_ms[position])
        return None if value == NO_TS else iso_ms(value)

    def emit(self, check: str, positions: np.ndarray, describe: Callable[[int], str],
             expected: str) -> None:
        """One finding per position (capped), then one summary finding with the count."""
        severity = CHECKS[check][0]
        cap = self.settings.max_findings_per_check
        for position in positions[:cap]:
            p = int(position)
            self.findings.append(Finding(self.dataset, check, severity, self.table.row_of(p),
                                         self._ts(p), describe(p), expected))
        if positions.size > cap:
            first = int(positions[cap])
            self.findings.append(Finding(
                self.dataset, check, severity, self.table.row_of(first), self._ts(first),
                f"{positions.size - cap} more rows fail this check ({positions.size} in total; "
                f"only the first {cap} are listed)", expected))

    def nan_values(self) -> None:
        reported = self.table.bad_cells or {}
        for column, values in self.table.values.items():
            bad = np.flatnonzero(np.isnan(values))
            if column in reported and reported[column].size:
                bad = np.setdiff1d(bad, reported[column], assume_unique=True)
            self.emit("nan_value", bad, _constant(f"{column} is NaN or empty"),
                      f"a number in {column}")

    def timestamps(self, timeframe: str | None) -> None:
        ts = self.table.ts_ms
        if ts.size < 2:
            return
        both = self.valid_ts[1:] & self.valid_ts[:-1]
        delta = np.diff(ts)
        back = np.flatnonzero(both & (delta < 0)) + 1
        self.emit("non_increasing_timestamp", back,
                  lambda p: f"timestamp goes back {(ts[p - 1] - ts[p]) / 1000:g} s from the "
                            f"previous row ({iso_ms(int(ts[p - 1]))})",
                  "a timestamp after the previous row's")
        dup = np.flatnonzero(both & (delta == 0)) + 1
        self.emit("duplicate_timestamp", dup,
                  lambda p: f"same timestamp as row {self.table.row_of(p - 1)}",
                  "each timestamp once")
        if timeframe is None:
            return
        longer, missing_in = step_gaps(timeframe, ts)
        gaps = np.flatnonzero(both & longer) + 1
        if gaps.size == 0:
            return
        expected = f"rows every {_every(timeframe)}"
        closed = _market_closures(ts, gaps, timeframe)
        if closed.size:
            self.findings.append(_closure_summary(self, gaps, closed, missing_in, expected))
            gaps = np.setdiff1d(gaps, closed)
            if gaps.size == 0:
                return
        missing = missing_in[gaps - 1]
        largest = int(gaps[np.argmax(delta[gaps - 1])])
        self.findings.append(Finding(
            self.dataset, "gap", "warning", self.table.row_of(largest), self._ts(largest),
            f"{gaps.size} gaps, {int(missing.sum())} missing rows in total; the largest is "
            f"{format_duration(int(ts[largest] - ts[largest - 1]))} before this row",
            expected))
        self.emit("gap", gaps,
                  lambda p: f"{format_duration(int(ts[p] - ts[p - 1]))} since the previous row "
                            f"({int(missing_in[p - 1])} missing)",
                  expected)

    def ohlc(self) -> None:
        v = self.table.values
        o, h, low, c = v["open"], v["high"], v["low"], v["close"]
        bad = np.flatnonzero((low > np.minimum(o, c)) | (h < np.maximum(o, c)) | (low > h))
        self.emit("ohlc_inconsistent", bad,
                  lambda p: f"open={o[p]:g} high={h[p]:g} low={low[p]:g} close={c[p]:g}",
                  "low <= min(open, close) <= max(open, close) <= high")

    def negative_volume(self) -> None:
        volume = self.table.values["volume"]
        self.emit("negative_volume", np.flatnonzero(volume < 0),
                  lambda p: f"volume is {volume[p]:g}", "volume >= 0")

    def quotes(self) -> None:
        v = self.table.values
        bid, ask = v["bid"], v["ask"]
        self.emit("bid_above_ask", np.flatnonzero(bid > ask),
                  lambda p: f"bid {bid[p]:g} above ask {ask[p]:g}", "bid <= ask")
        for column in ("bid_size", "ask_size"):
            size = v[column]
            self.emit("non_positive_size", np.flatnonzero(size <= 0),
                      _value_of(column, size), f"{column} > 0")

    def non_positive_prices(self) -> None:
        from bot_core.data.schema import PRICE_COLUMNS

        for column in PRICE_COLUMNS[self.table.kind]:
            values = self.table.values[column]
            self.emit("non_positive_price", np.flatnonzero(values <= 0),
                      _value_of(column, values), f"{column} > 0")

    def _price(self) -> np.ndarray:
        v = self.table.values
        if self.table.kind == "ohlcv":
            return v["close"]
        mid: np.ndarray = (v["bid"] + v["ask"]) / 2.0
        return mid

    def outlier_returns(self) -> None:
        price = self._price()
        if price.size < 3:
            return
        with np.errstate(divide="ignore", invalid="ignore"):
            log_price = np.log(np.where(price > 0, price, np.nan))
        returns = np.diff(log_price)
        usable = np.isfinite(returns)
        filled = np.where(usable, returns, 0.0)
        block = max(8, self.settings.outlier_block_rows)
        blocks = -(-filled.size // block)
        padded = np.zeros(blocks * block)
        padded[: filled.size] = filled
        shaped = padded.reshape(blocks, block)
        if filled.size % block:  # the short last block borrows its median from the full ones
            shaped[-1, filled.size % block:] = np.median(shaped[-1, : filled.size % block])
        center = np.median(shaped, axis=1)
        mad = np.median(np.abs(shaped - center[:, None]), axis=1)
        neighbours = np.maximum(mad, np.maximum(np.r_[mad[1:], 0.0], np.r_[0.0, mad[:-1]]))
        fallback = float(np.median(np.abs(filled - np.median(filled))))
        if fallback == 0.0:
            fallback = float(np.mean(np.abs(filled - np.mean(filled))))
        if fallback == 0.0:
            return  # every price identical: the stale check reports it
        scale = 1.4826 * np.where(neighbours > 0, neighbours, fallback)
        z = np.abs(filled - np.repeat(center, block)[: filled.size]) / np.repeat(scale, block)[: filled.size]
        hits = np.flatnonzero(usable & (z > self.settings.outlier_sigmas)) + 1
        label = "close" if self.table.kind == "ohlcv" else "mid"
        self.emit("outlier_return", hits,
                  lambda p: f"{label} moves {100 * (np.exp(returns[p - 1]) - 1):+.2f}% "
                            f"({z[p - 1]:.0f} robust sigmas) from {price[p - 1]:g} to {price[p]:g}",
                  f"moves within {self.settings.outlier_sigmas:g} robust sigmas of nearby returns")

    def stale_runs(self) -> None:
        v = self.table.values
        if self.table.kind == "ohlcv":
            flat = (v["open"] == v["high"]) & (v["high"] == v["low"]) & (v["low"] == v["close"])
            same = flat[1:] & flat[:-1] & (v["close"][1:] == v["close"][:-1])
            limit = self.settings.stale_rows_ohlcv
        else:
            same = (v["bid"][1:] == v["bid"][:-1]) & (v["ask"][1:] == v["ask"][:-1])
            limit = self.settings.stale_rows_quotes
        if same.size == 0:
            return
        edges = np.diff(np.concatenate(([0], same.astype(np.int8), [0])))
        starts = np.flatnonzero(edges == 1)
        lengths = np.flatnonzero(edges == -1) - starts + 1  # identical rows in the run
        long_runs = lengths >= limit
        runs = dict(zip(starts[long_runs].tolist(), lengths[long_runs].tolist(), strict=True))
        price = self._price()
        self.emit("stale_run", starts[long_runs],
                  lambda p: f"{runs[p]} consecutive rows with identical prices ({price[p]:g}) "
                            f"starting here", f"fewer than {limit} identical rows in a row")


def _constant(message: str) -> Callable[[int], str]:
    return lambda _position: message


def _value_of(column: str, values: np.ndarray) -> Callable[[int], str]:
    return lambda position: f"{column} is {values[position]:g}"


def _every(timeframe: str) -> str:
    return "calendar month" if timeframe == CALENDAR_MONTH else format_duration(
        int(timeframe_ms(timeframe) or 0))


DAY_MS = 86_400_000
_WEEK_DAYS = 7
_HOLIDAYS_PER_GAP = 2
"""Weekdays without a row a step may skip, besides the weekend, and still be a market
closure (a holiday, Christmas and Boxing Day)."""


def _weekdays(days: np.ndarray) -> np.ndarray:
    return (days + 3) % _WEEK_DAYS  # 1970-01-01 was a Thursday: Monday is 0


def _weekend(days: np.ndarray) -> np.ndarray | None:
    """The two consecutive days of the week on which daily data never has a row (whatever
    day the timezone of the timestamps put them on), or None."""
    seen = np.bincount(_weekdays(days), minlength=_WEEK_DAYS) > 0
    closed = [d for d in range(_WEEK_DAYS) if not seen[d]]
    if len(closed) == 2 and closed[1] - closed[0] in (1, _WEEK_DAYS - 1):
        return np.asarray(closed)
    return None


def _market_closures(ts: np.ndarray, gaps: np.ndarray, timeframe: str) -> np.ndarray:
    """The gaps of daily bars that a market's calendar explains: in data with no row on two
    consecutive days of the week (a weekend), a step that skips only weekend days and at
    most two other days (holidays).

    Empty for any other bar length and for data with rows on every day of the week (a market
    open every day has no weekend: its gaps are missing data).
    """
    none = np.empty(0, dtype=np.int64)
    if timeframe != "1d" or ts.size < 3 * _WEEK_DAYS:
        return none
    days = ts // DAY_MS
    weekend = _weekend(days)
    if weekend is None:
        return none
    explained = [int(p) for p in gaps if _holidays(days, int(p), weekend) <= _HOLIDAYS_PER_GAP]
    return np.asarray(explained, dtype=np.int64)


def _holidays(days: np.ndarray, position: int, weekend: np.ndarray) -> int:
    """Days outside the weekend skipped between row ``position - 1`` and row ``position``."""
    skipped = np.arange(days[position - 1] + 1, days[position])
    return int(np.count_nonzero(~np.isin(_weekdays(skipped), weekend)))


def _closure_summary(run: _Run, gaps: np.ndarray, closed: np.ndarray, missing_in: np.ndarray,
                     expected: str) -> Finding:
    """One finding for every gap the market's calendar explains (weekends, holidays)."""
    days = run.table.ts_ms // DAY_MS
    weekend = _weekend(days)
    assert weekend is not None  # closures are only found in data with a weekend
    holidays = sum(_holidays(days, int(p), weekend) for p in closed)
    first = int(closed[0])
    share = f"all {gaps.size} gaps are" if closed.size == gaps.size else \
        f"{closed.size} of the {gaps.size} gaps are"
    what = (f"{share} market closures: weekends"
            + (f" and {holidays} weekday holidays" if holidays else "")
            + f", {int(missing_in[closed - 1].sum())} days without a row in total (an "
            "exchange's calendar, which the backtest and its annualization follow)")
    return Finding(run.dataset, "gap", "warning", run.table.row_of(first), run._ts(first), what,
                   expected)
