"""bot-core's live venues over ccxt (REST only; Binance spot is the tested reference).

``bot_core_ccxt.testing`` holds a local simulator of the reference venue for tests.
"""

__version__ = "0.1.0"
