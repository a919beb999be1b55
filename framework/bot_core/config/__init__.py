"""Configuration: models, presets and resolution (preset -> file -> environment)."""

from bot_core.config.models import PROFILES, BotConfig, BucketConfig, RiskLimits, StrategyConfig
from bot_core.config.presets import preset_dir, preset_names, preset_path
from bot_core.config.resolve import ResolvedConfig, load_toml, resolve_config

__all__ = [
    "PROFILES",
    "BotConfig",
    "BucketConfig",
    "ResolvedConfig",
    "RiskLimits",
    "StrategyConfig",
    "load_toml",
    "preset_dir",
    "preset_names",
    "preset_path",
    "resolve_config",
]
