"""Pre-trade risk: the check contract (:mod:`.check`) and the engine that runs the checks."""

from bot_core.risk.check import (
    NoSettings,
    RiskCheck,
    RiskContext,
    TradingState,
    Verdict,
    VerdictAction,
)

__all__ = ["NoSettings", "RiskCheck", "RiskContext", "TradingState", "Verdict", "VerdictAction"]
