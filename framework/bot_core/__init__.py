"""bot-core: the host of a plugin-based algorithmic trading framework.

Plugin authors import what they need from here: the hook marker, the component contracts, the
order and market-data types, the host's error types, the simulation's rules (:mod:`rules`) and
the helpers a contract's batch forms use. This and the public modules ``bot_core.kernels``
(signal kernels, the compiled decision's signature) and ``bot_core.testing`` (fixtures and the
equality harnesses) are the plugin API that ``BOT_CORE_API`` versions; plugins import nothing
else from the host. Names whose modules need numpy or the config models are loaded on first use,
so ``import bot_core`` stays cheap.
"""

from typing import TYPE_CHECKING, Any

from bot_core import rules
from bot_core.errors import (
    BotCoreError,
    ConfigError,
    DataError,
    DataQualityError,
    PluginError,
    StateError,
    UsageError,
    VenueAuthenticationError,
    VenueError,
    VenueInsufficientFundsError,
    VenueInvalidOrderError,
    VenueRateLimitedError,
    VenueUnavailableError,
)
from bot_core.exchange import BarFillModel, ExchangeAdapter, FillsPage, VenueOrder
from bot_core.hookspecs import hookimpl
from bot_core.market import Bar, FeedSpec, Quote, split_symbol
from bot_core.orders import (
    ExecutionReport,
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from bot_core.plugins import PLUGIN_API_VERSION, PluginHost, load_plugins
from bot_core.risk.check import (
    NoSettings,
    RiskCheck,
    RiskContext,
    TradingState,
    Verdict,
    VerdictAction,
)
from bot_core.risk.exposure import QTY_EPSILON, capped_quantity, is_finite_positive, reducing_quantity
from bot_core.runtime.promotion import GateContext, GateOutcome, PromotionGate
from bot_core.strategy import DecisionRule, Strategy, StrategyContext, StrategySettings
from bot_core.targets import TargetTracker, target_intent

if TYPE_CHECKING:
    from bot_core.config.models import BucketConfig, RiskLimits
    from bot_core.orderids import NumberedIds
    from bot_core.risk.batch import OrderBatch, capped_quantities, reducing_quantities

__version__ = "0.1.0"

_LAZY = {
    "BucketConfig": "bot_core.config.models",
    "RiskLimits": "bot_core.config.models",
    "NumberedIds": "bot_core.orderids",
    "OrderBatch": "bot_core.risk.batch",
    "capped_quantities": "bot_core.risk.batch",
    "reducing_quantities": "bot_core.risk.batch",
}
"""Exported names loaded on first use (their modules import numpy or the config models)."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bot_core' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)

__all__ = [
    "PLUGIN_API_VERSION",
    "QTY_EPSILON",
    "Bar",
    "BarFillModel",
    "BotCoreError",
    "BucketConfig",
    "ConfigError",
    "DataError",
    "DataQualityError",
    "DecisionRule",
    "ExchangeAdapter",
    "ExecutionReport",
    "FeedSpec",
    "Fill",
    "FillsPage",
    "GateContext",
    "GateOutcome",
    "NoSettings",
    "NumberedIds",
    "Order",
    "OrderBatch",
    "OrderIntent",
    "OrderStatus",
    "OrderType",
    "PluginError",
    "PluginHost",
    "PromotionGate",
    "Quote",
    "RiskCheck",
    "RiskContext",
    "RiskLimits",
    "Side",
    "StateError",
    "Strategy",
    "StrategyContext",
    "StrategySettings",
    "TargetTracker",
    "TimeInForce",
    "TradingState",
    "UsageError",
    "VenueAuthenticationError",
    "VenueError",
    "VenueInsufficientFundsError",
    "VenueInvalidOrderError",
    "VenueOrder",
    "VenueRateLimitedError",
    "VenueUnavailableError",
    "Verdict",
    "VerdictAction",
    "capped_quantities",
    "capped_quantity",
    "hookimpl",
    "is_finite_positive",
    "load_plugins",
    "reducing_quantities",
    "reducing_quantity",
    "rules",
    "split_symbol",
    "target_intent",
]
