"""The risk-check contract.

A risk check looks at one :class:`~bot_core.orders.OrderIntent` against a read-only
:class:`RiskContext` and returns a :class:`Verdict`. Checks are plugins (``plugins/risk/``)
registered through ``bot_core_register_risk_checks`` and enabled per risk profile. The engine
treats an exception inside a check as a rejection with reason ``check_error``: risk fails closed.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, cast

from pydantic import BaseModel, ConfigDict
from typing_extensions import TypeVar

if TYPE_CHECKING:
    import numpy as np

    from bot_core.config.models import BucketConfig, RiskLimits
    from bot_core.orders import Fill, OrderIntent
    from bot_core.risk.batch import OrderBatch

__all__ = ["ComponentSettingsT", "NoSettings", "RiskCheck", "RiskContext", "TradingState",
           "Verdict", "VerdictAction"]


class TradingState(enum.StrEnum):
    """Trading state of the whole bot (as NautilusTrader's RiskEngine)."""

    ACTIVE = "active"
    """Every order that passes the checks goes through."""
    REDUCING = "reducing"
    """Only orders that reduce an open position, never flipping its sign."""
    HALTED = "halted"
    """Only cancels."""


class VerdictAction(enum.StrEnum):
    APPROVE = "approve"
    REDUCE = "reduce"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A check's answer. ``reason`` is a short machine-readable code (``max_position_pct``,
    ``check_error``, ...); ``detail`` is the human sentence; ``quantity`` is the allowed quantity
    for ``REDUCE`` (always < the intent's)."""

    action: VerdictAction
    reason: str
    detail: str = ""
    quantity: float | None = None
    check_id: str = ""

    @classmethod
    def approve(cls, reason: str = "ok", detail: str = "") -> Verdict:
        return cls(VerdictAction.APPROVE, reason, detail)

    @classmethod
    def reject(cls, reason: str, detail: str = "") -> Verdict:
        return cls(VerdictAction.REJECT, reason, detail)

    @classmethod
    def reduce(cls, quantity: float, reason: str, detail: str = "") -> Verdict:
        return cls(VerdictAction.REDUCE, reason, detail, quantity)


class RiskContext(Protocol):
    """What a check may read. Implemented by the engine; a snapshot at the intent's time."""

    @property
    def now_ns(self) -> int: ...
    @property
    def limits(self) -> RiskLimits: ...
    @property
    def buckets(self) -> Mapping[str, BucketConfig]: ...
    @property
    def trading_state(self) -> TradingState: ...
    @property
    def equity(self) -> float:
        """Total portfolio equity in the quote currency (NaN when unknown: checks must reject)."""
        ...

    def position(self, instrument: str, venue: str | None = None) -> float:
        """Signed position quantity, across all strategies (and venues when ``venue`` is None)."""
        ...

    def last_price(self, instrument: str, venue: str | None = None) -> float:
        """Last traded/mark price (NaN when unknown)."""
        ...

    def last_update_ns(self, instrument: str, venue: str | None = None) -> int:
        """When market data for the instrument last arrived (0 when never)."""
        ...

    # Added with the risk engine (additive, API 1.0): the figures the loss and exposure checks
    # need. All are quote-currency amounts; NaN when unknown.

    @property
    def gross_exposure(self) -> float:
        """Sum over (venue, instrument) of ``|net position| * last price``."""
        ...
    @property
    def equity_peak(self) -> float:
        """Highest equity seen since the start (or since an operator cleared a drawdown)."""
        ...
    @property
    def day_start_equity(self) -> float:
        """Equity at the start of the current trading day."""
        ...
    @property
    def pending_notional(self) -> float:
        """Notional of the unfilled part of every approved, still open order."""
        ...

    def pending_quantity(self, instrument: str, side_sign: float, venue: str | None = None) -> float:
        """Unfilled quantity (>= 0) of approved, still open orders in the direction ``side_sign``
        (+1 buys, -1 sells), on ``venue`` or on all venues: exposure that is already committed."""
        ...


class NoSettings(BaseModel):
    """Settings model of a component that has no settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")


ComponentSettingsT = TypeVar("ComponentSettingsT", bound=BaseModel, default=BaseModel,
                             covariant=True)
"""A risk check's or venue's own settings model: ``class MyCheck(RiskCheck[MySettings])``
(a bare ``RiskCheck`` is ``RiskCheck[BaseModel]``)."""


def component_settings(component: object, settings: BaseModel | None) -> Any:
    """``settings``, or the component's ``Settings()`` defaults when None; a settings object of
    another model than the component's ``Settings`` is a TypeError (a bug in the caller)."""
    expected = getattr(type(component), "Settings", None)
    if settings is None:
        return expected() if isinstance(expected, type) else None
    if isinstance(expected, type) and not isinstance(settings, expected):
        raise TypeError(f"{type(component).__name__} needs {expected.__name__}, got "
                        f"{type(settings).__name__}")
    return settings


class RiskCheck(ABC, Generic[ComponentSettingsT]):
    """Base class of pre-trade risk checks, generic in their settings model
    (``class FatFingerCheck(RiskCheck[FatFingerSettings])``: ``self.settings`` is one).

    ===========================  ========  =====================================================
    member                       required  meaning
    ===========================  ========  =====================================================
    ``id``                       yes       unique component id, used in presets and configs
    ``check(intent, ctx)``       yes       return a :class:`Verdict`; never raise on bad input
    ``Settings``                 no        pydantic model of the check's own settings
    ``on_fill(fill, ctx)``       no        update internal state (e.g. counters) after a fill
    ``reset_day(ctx)``           no        called once per trading-day boundary
    ``on_accepted(i, qty, ctx)`` no        the combined verdict let the intent through
    ``snapshot()``/``restore()`` no        JSON-able state that survives a restart
    ``check_batch(batch)``       no        judge a whole :class:`~bot_core.risk.batch.OrderBatch`
    ``accept_batch(batch)``      no        a judged batch went through: update internal state
    ===========================  ========  =====================================================
    """

    id: ClassVar[str]
    Settings: ClassVar[type[BaseModel]] = NoSettings

    def __init__(self, settings: ComponentSettingsT | None = None) -> None:
        self.settings = cast("ComponentSettingsT", component_settings(self, settings))

    @abstractmethod
    def check(self, intent: OrderIntent, ctx: RiskContext) -> Verdict:
        """Judge one intent. Missing or NaN inputs must give a rejection, never an approval."""

    def on_fill(self, fill: Fill, ctx: RiskContext) -> None:
        """Optional: observe a fill."""

    def reset_day(self, ctx: RiskContext) -> None:
        """Optional: the trading day rolled over."""

    def on_accepted(self, intent: OrderIntent, quantity: float, ctx: RiskContext) -> None:
        """Optional: the combined verdict let ``intent`` through with ``quantity`` (after any
        reduction). Rate limits count here, so an order another check rejected is not counted."""

    def snapshot(self) -> dict[str, Any]:
        """Optional: JSON-able internal state to survive a restart (default: none)."""
        return {}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Optional: reload what :meth:`snapshot` returned."""

    def check_batch(self, batch: OrderBatch) -> np.ndarray | None:
        """Optional: judge every order of ``batch`` at once (see :mod:`bot_core.risk.batch`).

        Return a boolean array: ``True`` at ``i`` exactly when :meth:`check` would return an
        ``APPROVE`` verdict for order ``i`` in the context the batch gives for it, every earlier
        order having been approved, accepted and filled. Entries after the first ``False`` are
        not read. Must not change the check's state (that is :meth:`accept_batch`). Return None
        (the default) when there is no batch form, or none for this batch: the engine then
        calls :meth:`check` order by order. A check with a batch form proves it equal to
        :meth:`check` in its tests.
        """
        return None

    def accept_batch(self, batch: OrderBatch) -> None:
        """Optional, with :meth:`check_batch`: every order of ``batch`` was approved, accepted
        and filled. Leave the state :meth:`check`, :meth:`on_accepted` and :meth:`on_fill` would
        have left, order by order (a stateless check has nothing to do)."""
