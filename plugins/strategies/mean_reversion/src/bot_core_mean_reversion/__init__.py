"""Mean-reversion strategy plugin for bot-core (component id ``mean_reversion``).

Importing this package does not import numba or pandas; the strategy imports its kernels when
it first needs them.
"""

from bot_core_mean_reversion.settings import MeanReversionSettings
from bot_core_mean_reversion.strategy import MeanReversionStrategy

__all__ = ["MeanReversionSettings", "MeanReversionStrategy"]
__version__ = "0.1.0"
