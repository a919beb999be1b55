"""Vol-target settings: defaults, presets, bounds and clear errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot_core_vol_target import VolTargetSettings


def test_defaults_and_profiles_validate() -> None:
    VolTargetSettings()
    levels = []
    for values in VolTargetSettings.profile_defaults.values():
        levels.append(VolTargetSettings(**values).target_vol_pct)
    assert levels == sorted(levels)  # conservative < balanced < aggressive
    assert VolTargetSettings.profile_defaults["conservative"]["estimator"] == "max"


def test_every_field_is_documented() -> None:
    for name, field in VolTargetSettings.model_fields.items():
        assert field.description and len(field.description) > 15, name


@pytest.mark.parametrize("field,value,needle", [
    ("target_vol_pct", 0.0, "greater than 0"),
    ("max_leverage", 20.0, "less than or equal to 10"),
    ("vol_floor_pct", 0.0, "greater than 0"),
    ("rebalance_band_pct", -1.0, "greater than or equal to 0"),
    ("estimator", "garch", "'ewma', 'rolling' or 'max'"),
    ("bar_seconds", 0.5, "greater than or equal to 1"),
    ("rolling_window_bars", 1, "greater than or equal to 2"),
])
def test_out_of_range_values_name_the_field(field: str, value: object, needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        VolTargetSettings(**{field: value})
    assert field in str(info.value) and needle in str(info.value)


def test_unknown_field_and_cross_field_rule() -> None:
    with pytest.raises(ValidationError, match="target_vol"):
        VolTargetSettings(target_vol=10)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match=r"min_periods_bars \(100\) must not exceed"):
        VolTargetSettings(rolling_window_bars=50, min_periods_bars=100)


def test_frozen() -> None:
    with pytest.raises(ValidationError):
        VolTargetSettings().max_leverage = 3.0  # type: ignore[misc]
