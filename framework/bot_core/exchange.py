"""The exchange-adapter contract.

An adapter is a venue: the paper venue of demo, paper trading and backtests, or a live one over
REST. The host sends it only orders the risk engine approved; it answers with
:class:`~bot_core.orders.ExecutionReport` objects. Simulated venues fill against the market data
the host forwards to them; live venues report through ``poll``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from bot_core.risk.check import NoSettings

if TYPE_CHECKING:
    from bot_core.market import Bar, Quote
    from bot_core.orders import ExecutionReport, Order

__all__ = ["ExchangeAdapter"]


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
