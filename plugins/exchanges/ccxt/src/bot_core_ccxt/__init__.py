"""bot-core's live venues over ccxt (REST only)."""

__version__ = "0.1.0"
