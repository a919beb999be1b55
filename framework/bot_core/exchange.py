"""The exchange-adapter contract.

An adapter is a venue: the paper venue of demo, paper trading and backtests, or a live one over
REST. The host sends it only orders the risk engine approved; it answers with
:class:`~bot_core.orders.ExecutionReport` objects. Simulated venues fill against the market data
the host forwards to them; live venues report through ``poll``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from bot_core.risk.check import NoSettings

if TYPE_CHECKING:
    from bot_core.market import Bar, Quote
    from bot_core.orders import ExecutionReport, Order

__all__ = ["BarFillModel", "ExchangeAdapter"]


@dataclass(frozen=True, slots=True)
class BarFillModel:
    """How a simulated venue fills market IOC orders on bars, stated as numbers so that the
    backtest's compiled replay (:mod:`bot_core.backtest.compiled`) can do it without the adapter.

    A venue returning one from :meth:`ExchangeAdapter.bar_fill_model` promises that its own
    ``submit`` and ``on_market_data`` fill such orders exactly so: eligible from the deciding
    bar's close + ``latency_ms`` (or at once at that close with ``fill_on_close``), at the bar's
    open moved against the order by ``slippage_bps`` plus ``volume_impact_bps`` x participation,
    at most ``participation_rate`` x the bar's volume over all fills of a bar (any quantity
    when ``volume_cap`` is False), paying
    ``taker_fee_bps``, within the account's buying power (``margin`` up to ``max_leverage``,
    else spot), starting from ``cash`` of ``cash_asset`` and nothing else.
    """

    taker_fee_bps: float
    slippage_bps: float
    volume_impact_bps: float
    participation_rate: float
    latency_ms: float
    fill_on_close: bool
    margin: bool
    max_leverage: float
    cash_asset: str
    cash: float
    volume_cap: bool = True
    """Whether ``participation_rate`` bounds the fills of a bar (False: no volume bound)."""


class ExchangeAdapter(ABC):
    """Base class of venues.

    ==================================  ========  ===================================================
    member                              required  meaning
    ==================================  ========  ===================================================
    ``id``                              yes       component id (``paper``), used in configs
    ``Settings``                        no        pydantic model of the adapter's settings
    ``simulated``                       yes       True for venues that never move real money
    ``submit(order)``                   yes       send an order; return the reports known at once
    ``cancel(client_order_id)``         yes       cancel; return the reports known at once
    ``balances()``                      yes       free balance per asset
    ``on_market_data(event)``           no        simulated venues fill resting orders here
    ``poll()``                          no        live venues: reports that arrived since the last
    ``connect()`` / ``close()``         no        open and release sessions
    ``bar_fill_model()``                no        simulated venues: their fill rule as numbers
    ==================================  ========  ===================================================
    """

    id: ClassVar[str]
    Settings: ClassVar[type[BaseModel]] = NoSettings
    simulated: ClassVar[bool]

    def __init__(self, settings: BaseModel | None = None, *, name: str | None = None) -> None:
        self.settings = settings if settings is not None else self.Settings()
        self.name = name or self.id

    def connect(self) -> None:  # noqa: B027 - optional hook
        """Optional: open connections; called before the first order."""

    @abstractmethod
    def submit(self, order: Order) -> Sequence[ExecutionReport]:
        """Send an approved order; return the reports that are known at once."""

    @abstractmethod
    def cancel(self, client_order_id: str) -> Sequence[ExecutionReport]:
        """Cancel a resting order; unknown ids give a ``REJECTED`` report, never an exception."""

    @abstractmethod
    def balances(self) -> Mapping[str, float]:
        """Free balance per asset."""

    def on_market_data(self, event: Bar | Quote) -> Sequence[ExecutionReport]:
        """Optional: simulated venues match resting orders against this event."""
        return ()

    def poll(self) -> Sequence[ExecutionReport]:
        """Optional: reports that arrived since the last poll (live venues)."""
        return ()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Optional: release connections; called once at shutdown."""

    def bar_fill_model(self) -> BarFillModel | None:
        """Optional: the venue's fill rule for market orders on bars (see
        :class:`BarFillModel`), or None (the default) when it has none or its state does not
        fit one; backtests then replay its orders through ``submit`` and ``on_market_data``."""
        return None
