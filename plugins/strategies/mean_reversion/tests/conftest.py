"""Fixtures of the mean_reversion plugin tests.

Every test gets an isolated BOT_CORE_HOME (bot_core.testing's autouse fixture); the tests import
the helpers (a context whose orders fill at once, synthetic frames) from :mod:`bot_core.testing`.
"""

from __future__ import annotations

from bot_core.testing import bot_core_home  # noqa: F401 - an autouse fixture
