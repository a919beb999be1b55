"""The ``bot-core`` command: a thin layer over library functions.

Each command group lives in its own module with an ``add_parser(subparsers)`` function. Errors
of the host's types become one clear line on stderr and their exit code; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from bot_core.errors import BotCoreError

__all__ = ["main", "run", "settle_heap"]

# Command modules, imported when the parser is built; each must stay cheap to import.
COMMAND_MODULES = (
    "bot_core.cli.plugins_cmd",
    "bot_core.cli.presets_cmd",
    "bot_core.cli.config_cmd",
    "bot_core.cli.data_cmd",
    "bot_core.cli.backtest_cmd",
    "bot_core.cli.rerun_cmd",
    "bot_core.cli.sweep_cmd",
    "bot_core.cli.demo_cmd",
    "bot_core.cli.journal_cmd",
    "bot_core.cli.pipeline_cmd",
    "bot_core.cli.run_cmd",
    "bot_core.cli.metrics_cmd",
    "bot_core.cli.control_cmd",
    "bot_core.cli.certs_cmd",
    "bot_core.cli.security_cmd",
    "bot_core.cli.smoke_cmd",
    "bot_core.cli.loadtest_cmd",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    from bot_core import __version__

    parser = _Parser(prog="bot-core", description="Plugin-based algorithmic trading framework.")
    parser.add_argument("--version", action="version", version=f"bot-core {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except BotCoreError as exc:
        from bot_core.cli.output import print_error

        print_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        return 141


def settle_heap() -> None:
    """Start-up is over: keep the garbage collector off what it built, and turn it back on.

    :func:`run` starts the process with the cyclic collector off: importing pandas, numba,
    pyarrow and pydantic and loading the plugins creates ~150,000 objects that live as long as
    the process, and collecting them as they appear took two full collections (~0.1 s) per
    start. A command calls this once it has loaded what it needs and before its long part (the
    backtest itself; a live runtime must call it too): the objects alive then move to the
    permanent generation (:func:`gc.freeze`), so later full collections scan only what the run
    allocates, and collection is enabled again. Outside :func:`run` (tests, library use) the
    collector was never turned off and this only freezes.
    """
    gc.freeze()
    gc.enable()


def run() -> int:
    """The ``bot-core`` process: :func:`main`, then a quick interpreter exit.

    At exit CPython runs full garbage collections over everything still alive: with pandas,
    numba, pyarrow and pydantic loaded that takes ~0.15 s, a tenth of a warm backtest. The
    process is ending, so its objects are moved to the permanent generation
    (:func:`gc.freeze`) first. Everything else about the exit is unchanged: ``atexit``
    handlers run, streams are flushed and modules are torn down; only objects kept alive by
    reference cycles are left to the operating system instead of being finalised one by one
    (Python never promises ``__del__`` for objects alive at exit). Tests call :func:`main`.
    """
    gc.disable()  # until the command's start-up is done: see settle_heap
    trapped = _trap_interrupts()
    try:
        return main()
    finally:
        if trapped:
            # The command is over; an interrupt now must not turn its exit into a traceback.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        gc.freeze()
        gc.enable()


def _trap_interrupts() -> bool:
    """First Ctrl-C: ``KeyboardInterrupt`` as usual, so the command cleans up and :func:`main`
    prints ``interrupted`` and returns 130. A second Ctrl-C while that is under way exits at
    once with 130, quietly: no traceback from inside the clean-up. Temporary files it leaves
    are removed by the next write (see :mod:`bot_core.data.staging`).

    Only when SIGINT has Python's default handler (not when the parent ignores it, as ``nohup``
    does); returns whether the handler was installed.
    """
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return False
    interrupted = False

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        if interrupted:
            os._exit(130)
        interrupted = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_interrupt)
    return True
