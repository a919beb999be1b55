"""The strategy finds and trades opportunities in the shipped demo quote datasets."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot_core.data import load_dataset
from bot_core_cross_arb import CrossArbSettings, CrossArbStrategy


@pytest.mark.parametrize("symbol", ["btc", "eth"])
@pytest.mark.parametrize("profile", ["conservative", "balanced", "aggressive"])
def test_opportunities_in_shipped_quotes(symbol: str, profile: str) -> None:
    qa = load_dataset(f"demo-{symbol}-usdt-quotes-venue_a")
    qb = load_dataset(f"demo-{symbol}-usdt-quotes-venue_b")
    settings = CrossArbSettings(**CrossArbSettings.profile_defaults[profile])
    found = CrossArbStrategy(settings, venues=["venue_a", "venue_b"]).opportunities(qa, qb)
    assert len(found) >= 50
    assert set(found["direction"]) == {-1, 1}
    assert (found["net_edge_bps"] > settings.min_edge_bps).all()


def test_live_replay_on_shipped_quotes_stays_hedged(arb: SimpleNamespace) -> None:
    qa = load_dataset("demo-eth-usdt-quotes-venue_a").iloc[:6000]
    qb = load_dataset("demo-eth-usdt-quotes-venue_b").iloc[:6000]
    settings = CrossArbSettings(**CrossArbSettings.profile_defaults["balanced"])
    strategy = CrossArbStrategy(settings, name="arb", instruments=["ETH/USDT"],
                                venues=["venue_a", "venue_b"])
    sent, _ = arb.replay(strategy, arb.events(qa, qb, "ETH/USDT"))
    assert len([i for i in sent if i.tag == "arb"]) >= 20
    assert strategy.groups == {} and not strategy.halted
    assert sum(strategy.inventory.values()) == pytest.approx(0.0, abs=1e-9)
