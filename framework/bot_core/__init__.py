"""bot-core: the host of a plugin-based algorithmic trading framework.

Plugin authors import what they need from here: the hook marker, the component contracts, the
order and market-data types and the host's error types.
"""

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
from bot_core.risk.check import NoSettings, RiskCheck, RiskContext, TradingState, Verdict
from bot_core.runtime.promotion import GateContext, GateOutcome, PromotionGate
from bot_core.strategy import DecisionRule, Strategy, StrategyContext, StrategySettings
from bot_core.targets import TargetTracker, target_intent

__version__ = "0.1.0"

__all__ = [
    "PLUGIN_API_VERSION",
    "Bar",
    "BarFillModel",
    "BotCoreError",
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
    "Order",
    "OrderIntent",
    "OrderStatus",
    "OrderType",
    "PluginError",
    "PluginHost",
    "PromotionGate",
    "Quote",
    "RiskCheck",
    "RiskContext",
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
    "hookimpl",
    "load_plugins",
    "rules",
    "split_symbol",
    "target_intent",
]
