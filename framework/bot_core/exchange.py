"""The exchange-adapter contract.

An adapter is a venue: the paper venue of demo, paper trading and backtests, or a live one over
REST. The host sends it only orders the risk engine approved; it answers with
:class:`~bot_core.orders.ExecutionReport` objects. Simulated venues fill against the market data
the host forwards to them; live venues report through ``poll``.

After a restart the host reconciles its books with each venue before the first new decision
(docs/state.md): it asks the venue for its open orders, for one order by client order id, for
the fills since the last one it saw and for its positions (:meth:`ExchangeAdapter.open_orders`,
:meth:`~ExchangeAdapter.order_status`, :meth:`~ExchangeAdapter.fills_since`,
:meth:`~ExchangeAdapter.positions`). These are optional: a venue without them cannot be
checked, and a bot restarted with open orders or positions on it only reduces risk until an
operator clears it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, cast

from pydantic import BaseModel

from bot_core.orders import OrderStatus, OrderType, Side, TimeInForce
from bot_core.risk.check import ComponentSettingsT, NoSettings, component_settings

if TYPE_CHECKING:
    from bot_core.market import Bar, Quote
    from bot_core.orders import ExecutionReport, Fill, Order

__all__ = ["BarFillModel", "ExchangeAdapter", "FillsPage", "VenueOrder"]


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """An order as the venue reports it, for reconciliation after a restart."""

    client_order_id: str
    """Our client order id (an adapter maps its venue's id back to ours where it can)."""
    instrument: str
    side: Side
    status: OrderStatus
    quantity: float
    filled_quantity: float
    average_price: float = 0.0
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    strategy_id: str = ""
    """The strategy that placed it, when the venue can tell (simulated venues); else empty."""
    venue_order_id: str = ""
    ts_ns: int = 0
    """When the venue created it, UTC ns (0: unknown)."""


@dataclass(frozen=True, slots=True)
class FillsPage:
    """What :meth:`ExchangeAdapter.fills_since` returns: fills oldest first and the cursor to
    pass next time (JSON-able; the host stores it as it is)."""

    fills: Sequence[Fill]
    cursor: Mapping[str, Any]


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


class ExchangeAdapter(ABC, Generic[ComponentSettingsT]):
    """Base class of venues, generic in their settings model
    (``class PaperVenue(ExchangeAdapter[PaperSettings])``).

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
    ``open_orders()``                   no        reconciliation: every open order of the account
    ``order_status(id, instrument)``    no        reconciliation: one order by client order id
    ``fills_since(cursor, instruments)`` no       reconciliation: fills after a cursor
    ``positions()``                     no        reconciliation: net position per instrument
    ==================================  ========  ===================================================

    The reconciliation queries raise :class:`NotImplementedError` unless an adapter implements
    them; the host then treats the venue as one it cannot check.
    """

    id: ClassVar[str]
    Settings: ClassVar[type[BaseModel]] = NoSettings
    simulated: ClassVar[bool]

    def __init__(self, settings: ComponentSettingsT | None = None, *,
                 name: str | None = None) -> None:
        self.settings = cast("ComponentSettingsT", component_settings(self, settings))
        self.name = name or self.id

    def connect(self) -> None:
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

    def close(self) -> None:
        """Optional: release connections; called once at shutdown."""

    def bar_fill_model(self) -> BarFillModel | None:
        """Optional: the venue's fill rule for market orders on bars (see
        :class:`BarFillModel`), or None (the default) when it has none or its state does not
        fit one; backtests then replay its orders through ``submit`` and ``on_market_data``."""
        return None

    # -- reconciliation (optional) ------------------------------------------------------------

    def open_orders(self) -> Sequence[VenueOrder]:
        """Optional: every open (accepted or partially filled) order of the account at the
        venue, ours or not. Called after :meth:`connect`, before the first new order."""
        raise NotImplementedError(f"{type(self).__name__} cannot list its open orders")

    def order_status(self, client_order_id: str, instrument: str) -> VenueOrder | None:
        """Optional: the venue's view of one order by our client order id (open or final),
        or None when the venue never received it. A live adapter also starts tracking the
        order, so that :meth:`poll` reports its later fills."""
        raise NotImplementedError(f"{type(self).__name__} cannot look up an order")

    def fills_since(self, cursor: Mapping[str, Any] | None,
                    instruments: Sequence[str]) -> FillsPage:
        """Optional: every fill of the account on ``instruments`` after ``cursor`` (None: all
        the venue still has), oldest first, with the venue's trade ids and our client order
        ids, and the cursor to pass next time. Fills the host booked already may come again:
        it drops them by trade id."""
        raise NotImplementedError(f"{type(self).__name__} cannot list its fills")

    def positions(self) -> Mapping[str, float]:
        """Optional: the account's signed net quantity per instrument that its trading at the
        venue built up (what the bot's books should show for this venue)."""
        raise NotImplementedError(f"{type(self).__name__} cannot report its positions")
