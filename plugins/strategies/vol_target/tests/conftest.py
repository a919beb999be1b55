"""Fixtures of the vol_target plugin tests.

Every test gets an isolated BOT_CORE_HOME (bot_core.testing's autouse fixture). The helpers (a
context whose orders fill at once, synthetic frames) come from :mod:`bot_core.testing` and are
handed to tests through the session fixture ``vt`` because test directories are not
importable under ``--import-mode=importlib``.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot_core.testing import (  # noqa: F401 - bot_core_home is an autouse fixture
    FillingContext,
    bars_from_frame,
    bot_core_home,
    frame_from_closes,
    random_walk,
    run_bars,
)


@pytest.fixture(scope="session")
def vt() -> SimpleNamespace:
    """The helpers, for tests (including hypothesis tests, hence session scope)."""
    return SimpleNamespace(FillingContext=FillingContext, frame_from_closes=frame_from_closes,
                           bars=bars_from_frame, random_walk=random_walk, run_live=run_bars)
