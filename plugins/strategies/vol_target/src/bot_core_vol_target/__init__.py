"""Volatility-targeting strategy plugin for bot-core (component id ``vol_target``).

Importing this package does not import numba or pandas; the strategy imports its kernels when
it first needs them.
"""

from bot_core_vol_target.settings import VolTargetSettings
from bot_core_vol_target.strategy import VolTargetStrategy

__all__ = ["VolTargetSettings", "VolTargetStrategy"]
__version__ = "0.1.0"
