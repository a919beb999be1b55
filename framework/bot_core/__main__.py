"""``python -m bot_core`` is the ``bot-core`` command."""

import sys

from bot_core.cli import run

sys.exit(run())
