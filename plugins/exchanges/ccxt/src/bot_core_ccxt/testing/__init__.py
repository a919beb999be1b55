"""A local exchange simulator for tests: the reference venue's spot REST API on loopback.

>>> with ExchangeSimulator() as sim:          # doctest: +SKIP
...     settings = CcxtSettings(exchange="binance", api_base_url=sim.url, ...)

:class:`ExchangeSimulator` serves the Binance spot endpoints the adapter uses with the venue's
response shapes (exchangeInfo from records of the real venue), checks request signatures and
the recvWindow like the venue, matches orders against a scripted price path and injects
:class:`Fault` s on demand. Shipped in the plugin so that other plugins' and the host's tests
(paper smoke runs) can use it too.
"""

from bot_core_ccxt.testing.engine import VenueState, recorded_exchange_info
from bot_core_ccxt.testing.server import ExchangeSimulator, Fault

__all__ = ["ExchangeSimulator", "Fault", "VenueState", "recorded_exchange_info"]
