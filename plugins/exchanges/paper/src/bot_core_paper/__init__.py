"""bot-core's simulated venue: the exchange of demo, paper trading and backtests."""

from bot_core_paper.settings import PaperSettings
from bot_core_paper.venue import PaperVenue

__all__ = ["PaperSettings", "PaperVenue"]
__version__ = "0.1.0"
