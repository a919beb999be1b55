"""Signals: the first SIGINT / SIGTERM (Ctrl-Break on Windows) stops the run gracefully, a
second one forces the process out at once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from bot_core.runtime.scheduler import Scheduler

__all__ = ["install_signal_handlers"]


def install_signal_handlers(scheduler: Scheduler, *, stream: TextIO | None = None
                            ) -> Callable[[], None]:
    """Route SIGINT and SIGTERM (and SIGBREAK on Windows) to ``scheduler.request_stop``;
    returns a function that removes the handlers. Call from inside the running loop.

    After the first signal a plain (non-loop) handler takes over, so that the second one
    forces the exit even while a strategy's or a venue's code keeps the loop busy."""
    loop = asyncio.get_running_loop()
    out = stream or sys.stderr
    wanted = [signal.SIGINT, signal.SIGTERM]
    windows = sys.platform == "win32"
    if windows:
        wanted.append(signal.SIGBREAK)  # type: ignore[attr-defined,unused-ignore]
    previous = {sig: signal.getsignal(sig) for sig in wanted}

    def force(signum: int, _frame: object = None) -> None:
        try:
            out.write(f"{signal.Signals(signum).name} again: forced exit\n")
            out.flush()
            sys.stdout.flush()
        except BaseException:  # the signal may have cut into a write on that stream (a
            pass  # reentrant flush raises) or a closed pipe: the exit must not depend on it
        finally:
            os._exit(128 + signum)

    def first(signum: int) -> None:
        name = signal.Signals(signum).name
        for sig in wanted:
            if not windows:
                loop.remove_signal_handler(sig)
            signal.signal(sig, force)
        out.write(f"{name}: stopping gracefully (send it again to force exit)\n")
        out.flush()
        scheduler.request_stop(f"interrupted: {name}")

    for sig in wanted:
        if windows:  # no loop signal handlers there: hand over from the plain handler
            signal.signal(sig, lambda num, _frame: loop.call_soon_threadsafe(first, num))
        else:
            loop.add_signal_handler(sig, first, int(sig))

    def remove() -> None:
        for sig, old in previous.items():
            if not windows:
                loop.remove_signal_handler(sig)
            signal.signal(sig, old)

    return remove
