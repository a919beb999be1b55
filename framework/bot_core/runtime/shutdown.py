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
    returns a function that removes the handlers. Call from inside the running loop."""
    loop = asyncio.get_running_loop()
    out = stream or sys.stderr
    received: list[str] = []

    def handle(signum: int) -> None:
        name = signal.Signals(signum).name
        received.append(name)
        if len(received) == 1:
            out.write(f"{name}: stopping gracefully (send it again to force exit)\n")
            out.flush()
            scheduler.request_stop(f"interrupted: {name}")
            return
        out.write(f"{name} again: forced exit\n")
        out.flush()
        sys.stdout.flush()
        os._exit(128 + signum)

    wanted = [signal.SIGINT, signal.SIGTERM]
    if sys.platform == "win32":  # no loop signal handlers there: hand over from the C handler
        wanted.append(signal.SIGBREAK)  # type: ignore[attr-defined,unused-ignore]
        previous = {sig: signal.getsignal(sig) for sig in wanted}
        for sig in wanted:
            signal.signal(sig, lambda num, _frame: loop.call_soon_threadsafe(handle, num))

        def remove() -> None:
            for sig, old in previous.items():
                signal.signal(sig, old)

        return remove
    for sig in wanted:
        loop.add_signal_handler(sig, handle, int(sig))

    def remove_posix() -> None:
        for sig in wanted:
            loop.remove_signal_handler(sig)

    return remove_posix
