"""Built-in presets (one TOML file per risk profile) and universes, shipped inside the host wheel.

A preset is a risk profile: limits, promotion gates, resource limits and per-profile strategy
defaults. A universe (``presets/universes/<name>.toml``) is what a bot trades: instruments,
venues, buckets and strategy bindings; ``demo`` is the shipped demo data's. The two are separate
layers: a config ``extends`` a preset and may name a ``universe``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from bot_core.errors import ConfigError

__all__ = ["preset_dir", "preset_names", "preset_path", "universe_names", "universe_path"]

UNIVERSES = "universes"
"""Sub-folder of the preset folder holding the universes."""


def preset_dir() -> Path:
    """Where the presets are: inside the installed wheel, or ``presets/`` of a source checkout."""
    packaged = Path(str(resources.files("bot_core"))) / "presets"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "presets"


def preset_names() -> list[str]:
    """Public presets; files starting with "_" are building blocks that presets extend."""
    return sorted(p.stem for p in preset_dir().glob("*.toml") if not p.stem.startswith("_"))


def preset_path(name: str) -> Path:
    path = preset_dir() / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(preset_names()) or "none"
        raise ConfigError(f"unknown preset {name!r}; available: {known}", source=f"preset:{name}")
    return path


def universe_names() -> list[str]:
    """The shipped universes (``demo``)."""
    return sorted(p.stem for p in (preset_dir() / UNIVERSES).glob("*.toml"))


def universe_path(name: str) -> Path:
    path = preset_dir() / UNIVERSES / f"{name}.toml"
    if not name.isidentifier() or not path.is_file():
        known = ", ".join(universe_names()) or "none"
        raise ConfigError(f"unknown universe {name!r}; available: {known}",
                          source=f"universe:{name}")
    return path
