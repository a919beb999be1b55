"""The strategies' profile defaults fit the risk presets they run under.

The demo runs mean_reversion and vol_target on BTC/USDT and ETH/USDT of the same venue and
cross_arb's legs through the same instruments; the risk engine caps the *net* position of an
instrument over all strategies, gross exposure, buckets and leverage. If the strategies' own
caps add up beyond the preset's, the demo drowns in ``max_position_pct`` reductions and
rejections (as it did with vol_target at 150 % of equity per instrument under a 20 % cap).

Two locks: the arithmetic of the defaults against each preset's limits (worst case, every
strategy at its cap at once), and the real ``bot-core demo`` under every preset: almost no
risk interventions and trades for every strategy the preset enables.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot_core.config.resolve import ResolvedConfig, resolve_config
from bot_core.plugins import load_plugins

PRESETS = ["conservative", "balanced", "aggressive"]
HEADROOM = 0.95
"""Share of ``risk.max_position_pct`` the strategies' worst cases may use together; the rest
is room for price moves while positions are held."""
MAX_INTERVENTIONS = 10
"""Risk reductions plus rejections a demo run may show (0 when the defaults were written)."""


def _resolved(preset: str) -> ResolvedConfig:
    return resolve_config(None, preset=preset, universe="demo", plugins=load_plugins())


def _net_pct(plugin: str, settings: Any, equity: float) -> float:
    """Worst-case net exposure one strategy adds to one of its instruments, % of equity."""
    if plugin == "vol_target":
        # set at most max_leverage x equity, left alone while it drifts by less than the band
        return float(settings.max_leverage * 100.0 + settings.rebalance_band_pct)
    if plugin == "mean_reversion":
        assert settings.sizing == "equity_pct"
        return float(settings.equity_pct)
    if plugin == "cross_arb":
        # one leg until its pair fills (the two venues' inventories are opposite)
        return float(settings.max_order_notional / equity * 100.0)
    raise AssertionError(f"no exposure model for strategy plugin {plugin!r}")


def _gross_pct(plugin: str, settings: Any, equity: float, venues: int) -> float:
    """Worst-case gross exposure one strategy adds per instrument, % of equity."""
    if plugin == "cross_arb":
        return float(venues * settings.max_inventory_notional / equity * 100.0)
    return _net_pct(plugin, settings, equity)


@pytest.mark.parametrize("preset", PRESETS)
def test_profile_defaults_fit_the_preset_limits(preset: str) -> None:
    resolved = _resolved(preset)
    config = resolved.config
    limits = config.risk
    equity = config.runtime.initial_equity
    net: dict[str, float] = {}
    gross = 0.0
    # every strategy of the universe, also those the preset disables (conservative turns
    # cross_arb off; turned back on, it must still fit the exposure limits)
    assert sorted(config.strategies) == ["cross_arb", "mean_reversion", "vol_target"]
    for name, strat in config.strategies.items():
        settings = resolved.strategy_settings[name]
        for instrument in strat.instruments:
            net[instrument] = net.get(instrument, 0.0) + _net_pct(strat.plugin, settings, equity)
            gross += _gross_pct(strat.plugin, settings, equity, len(strat.venues))
    for instrument, pct in net.items():
        assert pct <= HEADROOM * limits.max_position_pct + 1e-9, (
            f"{preset}: strategies together can hold {pct:g}% of equity in {instrument}, "
            f"over {HEADROOM:g} x max_position_pct {limits.max_position_pct:g}%")
    assert gross <= limits.max_total_position_pct + 1e-9, (preset, gross)
    assert gross <= limits.max_leverage * 100.0 + 1e-9, (preset, gross)
    for bucket_name, bucket in config.buckets.items():
        cap = bucket.max_exposure_pct or limits.max_bucket_exposure_pct
        used = sum(net.get(i, 0.0) for i in bucket.instruments)
        assert used <= cap + 1e-9, f"{preset}: bucket {bucket_name} {used:g}% > {cap:g}%"


def test_the_model_knows_every_demo_strategy() -> None:
    resolved = _resolved("balanced")
    for name, strat in resolved.config.strategies.items():
        assert _net_pct(strat.plugin, resolved.strategy_settings[name], 1e5) > 0.0
    with pytest.raises(AssertionError, match="no exposure model"):
        _net_pct("unknown", object(), 1e5)


@pytest.mark.parametrize("preset", PRESETS)
def test_demo_trades_every_strategy_with_few_risk_interventions(run_cli, preset: str) -> None:
    proc = run_cli("demo", "--preset", preset, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    verdicts = out["risk"]["verdicts"]
    interventions = verdicts.get("reduce", 0) + verdicts.get("reject", 0)
    assert interventions <= MAX_INTERVENTIONS, out["risk"]
    assert verdicts.get("approve", 0) > 100
    assert out["risk"]["final_state"] == "active" and not out["risk"]["state_changes"]
    config = _resolved(preset).config
    expected = sorted(n for n, s in config.strategies.items() if s.enabled)
    rows = {row["strategy"]: row for row in out["per_strategy"]}
    assert sorted(rows) == expected
    for name in expected:
        assert rows[name]["fills"] >= 10, (name, rows[name])
        if config.strategies[name].plugin != "vol_target":
            # the others go flat between signals; vol_target holds its position and
            # rebalances it, so it may close no round trip at all
            assert rows[name]["closed_trades"] >= 5, (name, rows[name])
    # risk never stepped in, so it cannot be what ended the compiled fast path
    note = out["fast_path_note"]
    assert not any(cause in note for cause in ("risk verdict", "trading state", "short of")), note
    # honest accounting: equity moves by the trades' PnL (fees included) and nothing else
    pnl = sum(row["pnl"] for row in out["per_strategy"])
    assert out["final_equity"] - out["initial_equity"] == pytest.approx(pnl, abs=1.0)
