"""Binding strategies to datasets no config mentions: the universe a backtest builds itself.

``bot-core backtest --strategy mean_reversion --dataset goog`` with no config that defines the
strategy trades it on the datasets given: their instruments on paper venues named after the
datasets' venues, the portfolio accounting in the instruments' quote currency, one bucket per
dataset (unless the config puts the instrument in a bucket), the strategy on the datasets' bar
length (so it gets its profile's defaults for that bar length). The result is a configuration
layer (:class:`~bot_core.config.resolve.Layer`) laid under the preset and the config file, so
their limits, strategy defaults and parameters apply on top of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot_core.config.resolve import Layer
from bot_core.errors import UsageError
from bot_core.market import split_symbol

if TYPE_CHECKING:
    from bot_core.plugins import PluginHost

__all__ = ["Binding", "DatasetInfo", "bind_to_datasets"]

UNNAMED_VENUE = "paper"
"""Venue of a dataset that names none (a frame given directly)."""


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """What a dataset is, from its manifest entry (or a frame's description)."""

    id: str
    kind: str
    instrument: str
    venue: str | None
    timeframe: str | None

    @classmethod
    def from_library(cls, dataset_id: str, option: str = "--dataset") -> DatasetInfo:
        """The dataset of this id in the library (shipped or imported).

        :raises UsageError: naming ``option`` and the id, for an unknown id or a library that
            cannot be read.
        """
        from bot_core.data.library import get_dataset
        from bot_core.errors import DataError

        try:
            entry = get_dataset(dataset_id)
        except DataError as exc:
            raise UsageError(f"{option} {dataset_id}: {exc}") from None
        return cls(dataset_id, entry.kind, entry.instrument, entry.venue, entry.timeframe)

    def describe(self) -> str:
        what = f"{self.timeframe} bars" if self.kind == "ohlcv" and self.timeframe else self.kind
        return f"{self.id} ({self.instrument} {what} on {self.venue or UNNAMED_VENUE})"


@dataclass(frozen=True, slots=True)
class Binding:
    layer: Layer
    """The universe layer: instruments, venues, buckets, base currency, strategies."""
    note: str
    """One line saying what was bound to what."""


def bind_to_datasets(host: PluginHost, strategy_ids: Sequence[str],
                     datasets: Sequence[DatasetInfo], configured: Mapping[str, Any]) -> Binding:
    """Bind each strategy (a plugin id) to the datasets of its data kind.

    :param configured: the config's layers merged (``layered_document``), for the buckets it
        already gives.
    :raises UsageError: an unknown strategy, a strategy no dataset feeds, a dataset no
        strategy reads, a bar strategy on datasets of several venues, or instruments quoted in
        different currencies (the portfolio accounts in one; bot-core converts none).
    """
    _one_currency(datasets)
    strategies: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for ident in strategy_ids:
        cls = host.strategies.get(ident)
        if cls is None:
            installed = ", ".join(sorted(host.strategies)) or "none"
            raise UsageError(f"--strategy {ident}: no installed strategy has this id, and no "
                             f"config defines it (installed: {installed})")
        mine = [d for d in datasets if d.kind == cls.data_kind]
        if not mine:
            given = ", ".join(f"{d.id}: {d.kind}" for d in datasets)
            raise UsageError(f"--strategy {ident}: reads {cls.data_kind} data, but the "
                             f"datasets hold other data ({given})")
        venues = _unique(d.venue or UNNAMED_VENUE for d in mine)
        if cls.data_kind == "ohlcv" and len(venues) > 1:
            raise UsageError(f"--strategy {ident}: a bar strategy trades on one venue, but the "
                             f"datasets are on {', '.join(venues)}: backtest each venue on its "
                             "own, or define one instance per venue in a config")
        entry: dict[str, Any] = {"plugin": ident, "instruments": _unique(d.instrument for d in mine),
                                 "venues": venues}
        timeframes = _unique(d.timeframe for d in mine if d.timeframe)
        if cls.data_kind == "ohlcv" and len(timeframes) == 1:
            entry["timeframe"] = timeframes[0]
        strategies[ident] = entry
        used.update(d.id for d in mine)
    for dataset in datasets:
        if dataset.id not in used:
            raise UsageError(f"--dataset {dataset.id}: {dataset.kind} data, which none of "
                             f"{', '.join(strategy_ids)} reads")
    instruments = _unique(d.instrument for d in datasets)
    venues = _unique(d.venue or UNNAMED_VENUE for d in datasets)
    buckets = _buckets(datasets, configured)
    quote = split_symbol(instruments[0])[1]
    doc = {"instruments": instruments, "runtime": {"base_currency": quote},
           "venues": {v: {"adapter": "paper"} for v in venues},
           "buckets": {name: {"instruments": held} for name, held in buckets.items()},
           "strategies": strategies}
    bucket_text = (f"bucket{'s' if len(buckets) > 1 else ''} {', '.join(buckets)}" if buckets
                   else "the config's buckets")
    note = (f"no config defines {', '.join(strategy_ids)}: bound to "
            f"{', '.join(d.describe() for d in datasets)}; paper venue"
            f"{'s' if len(venues) > 1 else ''} {', '.join(venues)}, base currency {quote}, "
            f"{bucket_text}")
    return Binding(Layer("--dataset " + ",".join(d.id for d in datasets), doc), note)


def _one_currency(datasets: Sequence[DatasetInfo]) -> None:
    by_quote: dict[str, list[str]] = {}
    for dataset in datasets:
        by_quote.setdefault(split_symbol(dataset.instrument)[1], []).append(dataset.id)
    if len(by_quote) > 1:
        listed = " and ".join(f"{quote} ({', '.join(ids)})" for quote, ids in by_quote.items())
        raise UsageError(f"--dataset: instruments quoted in {listed}; the portfolio accounts in "
                         "one currency and bot-core converts none: backtest each currency on "
                         "its own")


def _buckets(datasets: Sequence[DatasetInfo], configured: Mapping[str, Any]
             ) -> dict[str, list[str]]:
    """One bucket per dataset, named after it, for each instrument no configured bucket holds
    (the datasets of one instrument on several venues share the first one's)."""
    held: set[str] = set()
    table = configured.get("buckets")
    if isinstance(table, Mapping):
        for bucket in table.values():
            if isinstance(bucket, Mapping) and isinstance(bucket.get("instruments"), list):
                held.update(i for i in bucket["instruments"] if isinstance(i, str))
    out: dict[str, list[str]] = {}
    for dataset in datasets:
        if dataset.instrument not in held:
            held.add(dataset.instrument)
            out[dataset.id] = [dataset.instrument]
    return out


def _unique(values: Any) -> list[Any]:
    return list(dict.fromkeys(values))
