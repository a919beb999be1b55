"""Smoke venues: local stand-ins for real venues that ``bot-core smoke --mode paper`` runs on.

A paper smoke needs live market data, but a smoke must not depend on the internet or on a real
exchange being up. A plugin that can serve market data on this machine (the ccxt plugin's
simulator of Binance spot) registers a :class:`SmokeVenue` through
``bot_core_register_smoke_venues``. ``bot-core smoke --mode paper`` (without ``--config``) then
takes the one installed smoke venue, opens it (the plugin starts its server on loopback), runs
the shipped presets' smoke configs with the :class:`SmokeOverlay` it yields (their market data
source and its settings, and a short bar length), and closes it whatever happened. Orders still
fill on the paper venue, as in paper trading. The host knows the plugin only through this
contract and never imports it.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from bot_core.errors import PluginError, UsageError

if TYPE_CHECKING:
    from bot_core.plugins import PluginHost

__all__ = ["SmokeOverlay", "SmokeVenue", "open_smoke_venue", "overlay_lines", "smoke_venue"]


@dataclass(frozen=True, slots=True)
class SmokeOverlay:
    """What a started smoke venue gives every smoke config."""

    description: str
    """One line: what serves the data and where (shown with the results)."""
    url: str
    """Where it listens, on loopback (``http://127.0.0.1:<port>``)."""
    source: str
    """``runtime.source`` of the smoke configs: an installed live market data source's id."""
    source_settings: Callable[[Sequence[str]], Mapping[str, Any]]
    """``runtime.source_settings`` for configs that trade on the given venue names (TOML
    values: strings, numbers, booleans, lists and tables of them)."""
    timeframe: str | None = None
    """Bar length of every bar strategy (``1s`` keeps a cycle to a second); None: their own."""


class SmokeVenue(abc.ABC):
    """A local stand-in for real venues, serving market data for ``bot-core smoke --mode paper``.

    ============ ========= ===========================================================
    member       required  meaning
    ============ ========= ===========================================================
    ``id``       yes       lower-case identifier, unique across plugins
    ``title``    yes       what it simulates, one line
    ``open()``   yes       a context manager: start serving, yield a
                           :class:`SmokeOverlay`, stop when the block ends
    ============ ========= ===========================================================

    Instantiated with no arguments for each smoke. What ``open()`` starts must listen on
    127.0.0.1 only (an ephemeral port), answer within bounded time, and be stopped when the
    block ends, also on an error.
    """

    id: ClassVar[str]
    title: ClassVar[str] = ""

    @abc.abstractmethod
    def open(self) -> AbstractContextManager[SmokeOverlay]:
        """Start serving; the context manager yields the overlay and stops serving on exit."""

    @classmethod
    def contract_problems(cls) -> list[str]:
        if not isinstance(cls.title, str) or not cls.title:
            return ["has no 'title'"]
        return []


def smoke_venue(host: PluginHost) -> SmokeVenue:
    """The one installed smoke venue; UsageError (exit 2) when there is none or several."""
    found = sorted(host.smoke_venues.items())
    if not found:
        raise UsageError("smoke --mode paper: no installed plugin provides a smoke venue (local "
                         "market data to run on; the ccxt exchange plugin has one); smoke your "
                         "own paper configs with --config")
    if len(found) > 1:
        shown = ", ".join(f"{sid} ({host.owners[('smoke_venue', sid)]})" for sid, _ in found)
        raise UsageError(f"smoke --mode paper: several installed plugins provide a smoke venue "
                         f"({shown}); block all but one with BOT_CORE_DISABLE_PLUGINS")
    return found[0][1]()


@contextmanager
def open_smoke_venue(venue: SmokeVenue) -> Iterator[SmokeOverlay]:
    """Open ``venue`` for the length of the block; a venue that cannot start, or yields no
    :class:`SmokeOverlay`, is one :class:`~bot_core.errors.PluginError` line naming it."""
    with ExitStack() as stack:
        try:
            overlay = stack.enter_context(venue.open())
        except Exception as exc:
            raise PluginError(f"smoke venue {venue.id!r} did not start: {type(exc).__name__}: "
                              f"{exc}", plugin=venue.id) from exc
        if not isinstance(overlay, SmokeOverlay):
            raise PluginError(f"smoke venue {venue.id!r} yielded {overlay!r}, not a SmokeOverlay",
                              plugin=venue.id)
        yield overlay


def overlay_lines(overlay: SmokeOverlay, venues: Sequence[str]) -> list[str]:
    """The overlay's ``[runtime]`` table, as TOML lines, for configs trading on ``venues``."""
    return ["[runtime]", f"source = {_toml(overlay.source)}",
            f"source_settings = {_toml(overlay.source_settings(venues))}"]


def _toml(value: Any) -> str:
    """``value`` as an inline TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):  # a JSON string is a TOML basic string, but for DEL
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"{value!r} is not a TOML value")
