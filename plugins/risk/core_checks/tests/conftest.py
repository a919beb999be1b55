"""Plugin test fixtures: an isolated BOT_CORE_HOME for every test (bot_core.testing)."""

from bot_core.testing import bot_core_home  # noqa: F401 - autouse fixture
