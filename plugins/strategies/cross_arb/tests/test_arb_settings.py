"""Cross-arb settings: defaults, presets, bounds and clear errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot_core_cross_arb import CrossArbSettings


def test_defaults_profiles_and_threshold() -> None:
    s = CrossArbSettings()
    assert s.threshold_bps == 5 + 5 + 2 + 5
    edges = [CrossArbSettings(**v).min_edge_bps for v in CrossArbSettings.profile_defaults.values()]
    assert edges == sorted(edges, reverse=True)  # conservative demands the most edge


def test_every_field_is_documented() -> None:
    for name, field in CrossArbSettings.model_fields.items():
        assert field.description and len(field.description) > 15, name


@pytest.mark.parametrize("field,value,needle", [
    ("taker_fee_bps_a", -1.0, "greater than or equal to 0"),
    ("slippage_bps", 101.0, "less than or equal to 100"),
    ("max_order_notional", 0.0, "greater than 0"),
    ("leg_failure_action", "pray", "'hedge' or 'unwind'"),
    ("max_hedge_attempts", 11, "less than or equal to 10"),
    ("max_quote_age_ms", 0.0, "greater than or equal to 1"),
])
def test_out_of_range_values_name_the_field(field: str, value: object, needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        CrossArbSettings(**{field: value})
    assert field in str(info.value) and needle in str(info.value)


def test_cross_field_rules() -> None:
    with pytest.raises(ValidationError, match=r"min_order_notional \(500.0\) exceeds"):
        CrossArbSettings(min_order_notional=500.0, max_order_notional=100.0)
    with pytest.raises(ValidationError, match=r"max_order_notional \(9000.0\) exceeds "
                                              r"max_inventory_notional"):
        CrossArbSettings(max_order_notional=9000.0, max_inventory_notional=5000.0)
    with pytest.raises(ValidationError, match="fee_bps"):
        CrossArbSettings(fee_bps=3)  # type: ignore[call-arg]
