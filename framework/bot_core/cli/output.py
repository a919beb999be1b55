"""Shared output helpers: JSON to stdout, rich tables, one-line errors on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from bot_core.errors import BotCoreError, ConfigError

__all__ = ["console", "print_error", "print_json"]


def console(stderr: bool = False) -> Any:
    import os

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output (logs, CI, grep) gets wide tables rather than names cut at 80 columns.
    width = None if stream.isatty() or "COLUMNS" in os.environ else 160
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def print_error(exc: BotCoreError) -> None:
    """One line per problem, prefixed ``error:``; no traceback."""
    lines = ([str(p) for p in exc.problems] if isinstance(exc, ConfigError)
             else str(exc).splitlines() or [""])
    for line in lines:
        sys.stderr.write(f"error: {line}\n")
