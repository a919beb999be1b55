"""bot-core's core pre-trade risk checks (plugin ``core_checks``).

Each check is a :class:`bot_core.RiskCheck` judging one order intent against the engine's
read-only context. Checks are cheap (plain floats and dict lookups) because the backtest sends
every order through them, and they fail closed: a missing or NaN input is a rejection.
"""

from bot_core_risk_checks.exposure import BucketExposureCheck, MaxLeverageCheck, MaxPositionCheck
from bot_core_risk_checks.guards import FatFingerCheck, StaleDataCheck
from bot_core_risk_checks.losses import DailyLossCheck, DrawdownCheck
from bot_core_risk_checks.orderflow import DuplicateOrderCheck, OrderRateCheck

__version__ = "0.1.0"

ALL_CHECKS = (
    MaxPositionCheck,
    BucketExposureCheck,
    MaxLeverageCheck,
    DailyLossCheck,
    DrawdownCheck,
    OrderRateCheck,
    DuplicateOrderCheck,
    FatFingerCheck,
    StaleDataCheck,
)

__all__ = [
    "ALL_CHECKS",
    "BucketExposureCheck",
    "DailyLossCheck",
    "DrawdownCheck",
    "DuplicateOrderCheck",
    "FatFingerCheck",
    "MaxLeverageCheck",
    "MaxPositionCheck",
    "OrderRateCheck",
    "StaleDataCheck",
]
