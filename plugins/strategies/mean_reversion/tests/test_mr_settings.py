"""Mean-reversion settings: defaults, presets, bounds and clear errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot_core_mean_reversion import MeanReversionSettings


def test_defaults_and_every_profile_validate() -> None:
    assert MeanReversionSettings().min_periods == 60
    for profile, values in MeanReversionSettings.profile_defaults.items():
        s = MeanReversionSettings(**values)
        assert s.entry_z > 0, profile
    assert MeanReversionSettings.profile_defaults["conservative"]["allow_short"] is False


def test_every_field_documents_unit_or_meaning() -> None:
    for name, field in MeanReversionSettings.model_fields.items():
        assert field.description and len(field.description) > 20, name


@pytest.mark.parametrize("field,value,needle", [
    ("entry_z", 0.0, "greater than 0"),
    ("entry_z", 11.0, "less than or equal to 10"),
    ("window_bars", 1, "greater than or equal to 2"),
    ("equity_pct", 150.0, "less than or equal to 100"),
    ("stop_loss_pct", -1.0, "greater than 0"),
    ("max_holding_bars", 0, "greater than or equal to 1"),
    ("sizing", "kelly", "'equity_pct' or 'fixed_quantity'"),
])
def test_out_of_range_values_name_the_field(field: str, value: object, needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        MeanReversionSettings(**{field: value})
    text = str(info.value)
    assert field in text and needle in text


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError, match="entry_zz"):
        MeanReversionSettings(entry_zz=2.0)  # type: ignore[call-arg]


def test_cross_field_rules_have_clear_messages() -> None:
    with pytest.raises(ValidationError, match=r"exit_z \(-2.5\) must be greater than -entry_z"):
        MeanReversionSettings(entry_z=2.0, exit_z=-2.5)
    with pytest.raises(ValidationError, match="needs quantity"):
        MeanReversionSettings(sizing="fixed_quantity")
    with pytest.raises(ValidationError, match=r"min_periods_bars \(80\) must not exceed"):
        MeanReversionSettings(window_bars=50, min_periods_bars=80)


def test_settings_are_frozen() -> None:
    s = MeanReversionSettings()
    with pytest.raises(ValidationError):
        s.entry_z = 3.0  # type: ignore[misc]
