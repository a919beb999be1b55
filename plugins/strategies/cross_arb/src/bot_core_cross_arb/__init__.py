"""Cross-exchange arbitrage strategy plugin for bot-core (component id ``cross_arb``).

Importing this package does not import numba or pandas; the strategy imports its kernel when
it first needs it.
"""

from bot_core_cross_arb.settings import CrossArbSettings
from bot_core_cross_arb.strategy import CrossArbStrategy

__all__ = ["CrossArbSettings", "CrossArbStrategy"]
__version__ = "0.1.0"
