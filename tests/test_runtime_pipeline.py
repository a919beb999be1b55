"""Promotion demo -> paper -> live through the real CLI, with run history seeded as real files.

Run records are written by the runtime's own ``RunRecorder`` (timestamps on a fake scheduler
clock), into the same ``BOT_CORE_HOME`` the CLI subprocess reads.
"""

from __future__ import annotations

import json
import shutil
import textwrap
import time
from importlib import metadata
from pathlib import Path

import pytest

import bot_core
from bot_core.config.resolve import resolve_config
from bot_core.errors import PromotionError, StateError
from bot_core.runtime.history import RunRecorder, config_hash, mode_state_dir
from bot_core.runtime.promotion import (
    GateContext,
    GateOutcome,
    PromotionGate,
    check_can_start,
    decide,
    promote,
)

HOUR_NS = 3_600_000_000_000
T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z on the scheduler's clock
MONEY_PATH = ("bot-core-mean-reversion", "bot-core-vol-target", "bot-core-cross-arb",
              "bot-core-paper", "bot-core-risk-checks")


def _live_source_distributions() -> tuple[str, ...]:
    """A live bot without ``runtime.source`` pins every installed live source's distribution
    (any of them may be its default source)."""
    host = bot_core.load_plugins(environ={})
    return tuple(sorted({host.owners[("source", sid)]
                         for sid, cls in host.sources.items() if cls.live}))


LIVE_SOURCES = _live_source_distributions()


def _pins(upper: bool = True) -> str:
    specs = [f"{d}=={metadata.version(d)}" if upper else f"{d}>={metadata.version(d)}"
             for d in MONEY_PATH + LIVE_SOURCES]
    return json.dumps(specs)


def _config(tmp_path: Path, *, name: str = "alpha", pinned: bool = True, file: str = "") -> Path:
    path = tmp_path / (file or f"{name}.toml")
    path.write_text(textwrap.dedent(f"""\
        extends = "balanced"
        universe = "demo"
        name = "{name}"

        [plugins]
        require = {_pins(upper=pinned)}

        [runtime.promotion.to_paper]
        min_cycles = 10
        min_hours = 2.0

        [runtime.promotion.to_live]
        min_cycles = 20
        min_hours = 4.0
        """))
    return path


def _seed(home: Path, bot: str, mode: str, *, cycles: int, hours: float, halted: bool = False,
          drawdown: bool = False, daily_loss: bool = False, closed: bool = True) -> None:
    """One run of ``cycles`` cycles spread over ``hours`` on the scheduler's clock."""
    rec = RunRecorder(bot=bot, mode=mode, run_id=f"{mode}-{time.time_ns()}", config_hash="seed",
                      started_ns=T0, home=home)
    step = int(hours * HOUR_NS / max(cycles - 1, 1))
    for i in range(cycles):
        bad = i == cycles // 2
        rec.cycle(ts_ns=T0 + i * step, trading_state="halted" if halted and bad else "active",
                  daily_loss_breached=daily_loss and bad, drawdown_breached=drawdown and bad)
    if closed:
        rec.close(ended_ns=T0 + cycles * step, reason="completed")


def _status(run_cli, *args: str) -> list[dict]:
    result = run_cli("pipeline", "status", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _gates(payload: dict) -> dict[str, bool]:
    return {g["gate"]: g["passed"] for g in payload["gates"]}


def test_demo_to_paper_to_live_when_every_gate_passes(run_cli, bot_core_home: Path,
                                                      tmp_path: Path) -> None:
    config = _config(tmp_path)
    _seed(bot_core_home, "alpha", "demo", cycles=6, hours=1.5)
    _seed(bot_core_home, "alpha", "demo", cycles=6, hours=1.5)
    # a crashed run counts up to its last flush (here its first cycle)
    _seed(bot_core_home, "alpha", "demo", cycles=6, hours=1.5, closed=False)
    [status] = _status(run_cli, "--config", str(config))
    assert (status["bot"], status["mode"], status["next_mode"]) == ("alpha", "demo", "paper")
    assert status["ready"] and all(_gates(status).values())
    assert set(_gates(status)) == {"min_cycles", "min_hours", "never_halted",
                                   "no_daily_loss_breach", "no_drawdown_breach"}
    assert status["evidence"]["runs"] == 3
    assert status["evidence"]["cycles"] == 13 and status["evidence"]["hours"] == pytest.approx(3.0)

    promoted = run_cli("pipeline", "promote", "--config", str(config), "--to", "paper")
    assert promoted.returncode == 0, promoted.stderr
    assert "promoted alpha: demo -> paper" in promoted.stdout

    [record] = [json.loads(line) for line in
                (bot_core_home / "state" / "alpha" / "promotions.jsonl").read_text().splitlines()]
    resolved = resolve_config(config, plugins=bot_core.load_plugins()).config
    assert record["from_mode"] == "demo" and record["to_mode"] == "paper"
    assert record["config_hash"] == config_hash(resolved)
    assert record["who"] and record["when_ns"] <= time.time_ns()
    assert all(record["gates"].values())

    [status] = _status(run_cli, "--config", str(config))
    assert status["mode"] == "paper" and status["next_mode"] == "live"
    assert status["evidence"]["runs"] == 0  # demo evidence does not count towards live
    assert status["time_in_mode_s"] >= 0 and status["since"].endswith("Z")
    assert _gates(status)["min_cycles"] is False and _gates(status)["confirmed"] is False
    check_can_start(resolved, "paper", home=bot_core_home)

    _seed(bot_core_home, "alpha", "paper", cycles=25, hours=5.0)
    paper_key = {"BOT_CORE_JOURNAL_KEY": "k" * 40}  # what the paper bot signs its journal with
    keyless = run_cli("pipeline", "promote", "--config", str(config), "--to", "live",
                      "--confirm", "alpha")
    assert keyless.returncode == 2 and "journal key" in keyless.stderr  # nothing recorded
    live = run_cli("pipeline", "promote", "--config", str(config), "--to", "live",
                   "--confirm", "alpha", "--json", env=paper_key)
    assert live.returncode == 0, live.stderr
    payload = json.loads(live.stdout)
    assert payload["promoted"] and payload["record"]["to_mode"] == "live"
    pinned = next(g for g in payload["gates"] if g["gate"] == "plugins_pinned")
    assert pinned["passed"] and "bot-core-paper==" in pinned["evidence"]

    [status] = _status(run_cli, "--config", str(config))
    assert (status["mode"], status["next_mode"], status["gates"]) == ("live", None, [])
    check_can_start(resolved, "live", "alpha", home=bot_core_home)

    # each promotion is a record in the bot's signed journal, and the chain verifies
    journal = bot_core_home / "journal" / "alpha"
    shown = run_cli("journal", "show", str(journal), "--type", "promotion", "--json")
    assert shown.returncode == 0, shown.stderr
    steps = [(r["payload"]["from_mode"], r["payload"]["to_mode"]) for r in json.loads(shown.stdout)]
    assert steps == [("demo", "paper"), ("paper", "live")]


def test_a_refused_promotion_names_every_failed_gate_and_records_nothing(
        run_cli, bot_core_home: Path, tmp_path: Path) -> None:
    config = _config(tmp_path)
    _seed(bot_core_home, "alpha", "demo", cycles=4, hours=3.0, halted=True, drawdown=True)
    result = run_cli("pipeline", "promote", "--config", str(config), "--to", "paper")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: bot 'alpha' not promoted to paper: 3 gate(s) failed:")
    for gate in ("min_cycles (4 of 10 cycles in demo", "never_halted (HALTED state in 1 run(s)",
                 "no_drawdown_breach (drawdown breach in 1 run(s)"):
        assert gate in line
    assert "min_hours" not in line and "no_daily_loss_breach" not in line
    assert "FAIL" in result.stdout  # the gate table with the evidence of each
    assert not (bot_core_home / "state" / "alpha" / "promotions.jsonl").exists()

    as_json = run_cli("pipeline", "promote", "--config", str(config), "--to", "paper", "--json")
    assert as_json.returncode == 1
    payload = json.loads(as_json.stdout)
    assert payload["promoted"] is False
    assert payload["failed"] == ["min_cycles", "never_halted", "no_drawdown_breach"]


def test_one_mode_at_a_time_and_rollback_restarts_the_evidence(run_cli, bot_core_home: Path,
                                                               tmp_path: Path) -> None:
    config = _config(tmp_path)
    _seed(bot_core_home, "alpha", "demo", cycles=12, hours=3.0, daily_loss=True)
    skip = run_cli("pipeline", "promote", "--config", str(config), "--to", "live",
                   "--confirm", "alpha")
    assert skip.returncode == 1
    assert "in demo mode: it can be promoted to paper only" in skip.stderr

    restart = run_cli("pipeline", "rollback", "--config", str(config), "--to", "demo",
                      "--reason", "fixed the sizing")
    assert restart.returncode == 0 and "evidence restarts" in restart.stdout
    [status] = _status(run_cli, "--config", str(config))
    assert status["evidence"]["runs"] == 0  # the breach is outside the new window
    assert status["last_change"]["reason"] == "fixed the sizing"

    _seed(bot_core_home, "alpha", "demo", cycles=12, hours=3.0)
    assert run_cli("pipeline", "promote", "--config", str(config), "--to", "paper").returncode == 0
    up = run_cli("pipeline", "rollback", "--config", str(config), "--to", "live")
    assert up.returncode == 1 and "a rollback goes down" in up.stderr
    down = run_cli("pipeline", "rollback", "--config", str(config), "--to", "demo", "--json")
    assert down.returncode == 0
    assert json.loads(down.stdout)["record"]["from_mode"] == "paper"
    [status] = _status(run_cli, "--config", str(config))
    assert status["mode"] == "demo"
    # rollbacks are journaled in the chain of the mode returned to (its key is at hand)
    shown = run_cli("journal", "show", str(bot_core_home / "journal" / "alpha" / "demo"),
                    "--type", "operator_action", "--json")
    assert [(r["payload"]["action"], r["payload"]["detail"]["from_mode"])
            for r in json.loads(shown.stdout)] == [("rollback", "demo"), ("rollback", "paper")]


def _to_paper(run_cli, home: Path, config: Path, bot: str = "alpha") -> None:
    _seed(home, bot, "demo", cycles=12, hours=3.0)
    result = run_cli("pipeline", "promote", "--config", str(config), "--to", "paper")
    assert result.returncode == 0, result.stderr
    _seed(home, bot, "paper", cycles=25, hours=5.0)


def test_live_refuses_without_confirmation(run_cli, bot_core_home: Path, tmp_path: Path) -> None:
    config = _config(tmp_path)
    _to_paper(run_cli, bot_core_home, config)
    missing = run_cli("pipeline", "promote", "--config", str(config), "--to", "live")
    assert missing.returncode == 1
    assert "1 gate(s) failed: confirmed (no --confirm: pass --confirm alpha" in missing.stderr
    wrong = run_cli("pipeline", "promote", "--config", str(config), "--to", "live",
                    "--confirm", "beta")
    assert wrong.returncode == 1 and "--confirm 'beta'" in wrong.stderr
    [status] = _status(run_cli, "--config", str(config))
    assert status["mode"] == "paper"


def test_live_refuses_unpinned_plugins(run_cli, bot_core_home: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, pinned=False)
    _to_paper(run_cli, bot_core_home, config)
    result = run_cli("pipeline", "promote", "--config", str(config), "--to", "live",
                     "--confirm", "alpha")
    assert result.returncode == 1
    assert "plugins_pinned (bot-core-ccxt (ccxt):" in result.stderr
    assert "bot-core-cross-arb (cross_arb):" in result.stderr
    assert "does not pin a version" in result.stderr

    # an unlisted distribution names the pin to add
    config.write_text(config.read_text().replace('"bot-core-paper>=', '"bot-core-paperx>='))
    unlisted = run_cli("pipeline", "promote", "--config", str(config), "--to", "live",
                       "--confirm", "alpha")
    assert unlisted.returncode == 2  # an unknown required plugin is a config error first
    assert "bot-core-paperx" in unlisted.stderr


def test_check_can_start_guards_paper_and_live(bot_core_home: Path, tmp_path: Path) -> None:
    host = bot_core.load_plugins()
    config = resolve_config(_config(tmp_path), plugins=host).config
    check_can_start(config, "demo", home=bot_core_home)
    with pytest.raises(PromotionError, match="is in demo mode and may not run in paper mode"):
        check_can_start(config, "paper", plugins=host, home=bot_core_home)

    _seed(bot_core_home, "alpha", "demo", cycles=12, hours=3.0)
    promote(decide(config, "paper", plugins=host, home=bot_core_home))
    check_can_start(config, "paper", plugins=host, home=bot_core_home)
    with pytest.raises(PromotionError, match=r"promote it first .*--to live"):
        check_can_start(config, "live", "alpha", plugins=host, home=bot_core_home)

    _seed(bot_core_home, "alpha", "paper", cycles=25, hours=5.0)
    promote(decide(config, "live", plugins=host, confirm="alpha", home=bot_core_home))
    check_can_start(config, "live", "alpha", plugins=host, home=bot_core_home)
    with pytest.raises(PromotionError, match="may not start live: confirmed") as refused:
        check_can_start(config, "live", None, plugins=host, home=bot_core_home)
    assert refused.value.failed == ("confirmed",) and refused.value.exit_code == 1

    unpinned = resolve_config(_config(tmp_path, pinned=False, file="loose.toml"),
                              plugins=host).config
    with pytest.raises(PromotionError, match="plugins_pinned"):
        check_can_start(unpinned, "live", "alpha", plugins=host, home=bot_core_home)

    # a live bot never starts from paper state: a paper directory copied over live is refused
    live_dir = mode_state_dir("alpha", "paper", bot_core_home).parent / "live"
    shutil.rmtree(live_dir, ignore_errors=True)
    shutil.copytree(mode_state_dir("alpha", "paper", bot_core_home), live_dir)
    with pytest.raises(StateError, match="never starts from another mode's state"):
        check_can_start(config, "live", "alpha", plugins=host, home=bot_core_home)


class _NeedsJournal(PromotionGate):
    id = "journal_verifies"
    title = "the decision journal verifies"

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        return GateOutcome(False, f"journal of {ctx.bot} not verified")


class _Broken(PromotionGate):
    id = "broken_gate"
    title = "always raises"
    applies_to = frozenset({"live"})

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        raise RuntimeError("boom")


class _GatePlugin:
    BOT_CORE_API = ">=1.0,<2"

    @staticmethod
    @bot_core.hookimpl
    def bot_core_register_promotion_gates(register) -> None:
        register(_NeedsJournal)
        register(_Broken)


def test_plugin_gates_join_the_list_and_fail_closed(bot_core_home: Path, tmp_path: Path) -> None:
    host = bot_core.load_plugins(builtins=[("journal_gates", _GatePlugin)])
    assert host.owners[("promotion_gate", "journal_verifies")] == "bot-core"
    config = resolve_config(_config(tmp_path), plugins=host).config
    _seed(bot_core_home, "alpha", "demo", cycles=12, hours=3.0)
    decision = decide(config, "paper", plugins=host, home=bot_core_home)
    assert [g.gate for g in decision.failed] == ["journal_verifies"]
    assert decision.gates[-1].evidence == "journal of alpha not verified"
    with pytest.raises(PromotionError, match="journal_verifies") as refused:
        promote(decision)
    assert refused.value.failed == ("journal_verifies",)

    # the broken gate guards live only; when asked, its exception is a failure, not a pass
    from bot_core.runtime.promotion import gate_context, run_gate
    ctx = gate_context(config, "paper", plugins=host, home=bot_core_home)
    result = run_gate(_Broken, ctx)
    assert not result.passed and result.evidence == "gate error: RuntimeError: boom"


def test_blocking_the_host_gates_blocks_promotion(run_cli, bot_core_home: Path,
                                                  tmp_path: Path) -> None:
    config = _config(tmp_path)
    _seed(bot_core_home, "alpha", "demo", cycles=12, hours=3.0)
    result = run_cli("pipeline", "promote", "--config", str(config), "--to", "paper",
                     env={"BOT_CORE_DISABLE_PLUGINS": "promotion_gates"})
    assert result.returncode == 1
    assert "5 gate(s) failed" in result.stderr and "host gate not loaded" in result.stderr


def test_bad_input_is_one_line_and_exit_2(run_cli, bot_core_home: Path, tmp_path: Path) -> None:
    first = _config(tmp_path)
    second = _config(tmp_path, file="copy.toml")
    both = run_cli("pipeline", "status", "--config", str(first), "--config", str(second))
    assert both.returncode == 2
    assert both.stderr.strip().splitlines() == [
        f"error: {second}: name: bot name already used by {first}; every bot needs its own name "
        "(got alpha)"]
    bad_mode = run_cli("pipeline", "promote", "--config", str(first), "--to", "demo")
    assert bad_mode.returncode == 2 and "invalid choice: 'demo'" in bad_mode.stderr
    missing = run_cli("pipeline", "status", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "file not found" in missing.stderr
    assert not (bot_core_home / "state").exists()


def test_an_unreadable_ledger_stops_the_pipeline(run_cli, bot_core_home: Path,
                                                 tmp_path: Path) -> None:
    config = _config(tmp_path)
    ledger = bot_core_home / "state" / "alpha" / "promotions.jsonl"
    ledger.parent.mkdir(parents=True)
    ledger.write_text('{"bot": "alpha"}\n')
    result = run_cli("pipeline", "status", "--config", str(config))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {ledger}:1: unreadable promotion record")


def test_a_real_demo_run_is_the_evidence_of_its_preset_bot(run_cli, bot_core_home: Path) -> None:
    """``run --preset`` and ``pipeline --preset`` mean the same bot (named after the preset)."""
    lower = {"BOT_CORE_RUNTIME__PROMOTION__TO_PAPER__MIN_CYCLES": "60",
             "BOT_CORE_RUNTIME__PROMOTION__TO_PAPER__MIN_HOURS": "0.5"}
    ran = run_cli("run", "--preset", "conservative", "--speed", "max", "--cycles", "60", "--json",
                  env=lower)
    assert ran.returncode == 0, ran.stderr
    [status] = _status(run_cli, "--preset", "conservative")
    assert (status["bot"], status["mode"]) == ("conservative", "demo")
    assert status["evidence"]["runs"] == 1 and status["evidence"]["cycles"] == 60
    assert status["evidence"]["last_run"]["reason"] == "completed"
    assert _gates(status)["min_cycles"] is False  # 60 of the preset's own 4320
    promoted = run_cli("pipeline", "promote", "--preset", "conservative", "--to", "paper",
                       env=lower)
    assert promoted.returncode == 0, promoted.stderr
    assert "promoted conservative: demo -> paper" in promoted.stdout


def test_conservative_asks_more_evidence_than_balanced_and_balanced_than_aggressive() -> None:
    promotion = {name: resolve_config(preset=name, environ={}).config.runtime.promotion
                 for name in ("conservative", "balanced", "aggressive")}
    for step in ("to_paper", "to_live"):
        strict, middle, loose = (getattr(promotion[n], step) for n in
                                 ("conservative", "balanced", "aggressive"))
        assert strict.min_cycles > middle.min_cycles > loose.min_cycles > 0
        assert strict.min_hours > middle.min_hours > loose.min_hours > 0
    for name, stages in promotion.items():  # live needs more than paper under every profile
        assert stages.to_live.min_cycles > stages.to_paper.min_cycles, name
        assert stages.to_live.min_hours > stages.to_paper.min_hours, name


def test_live_pins_the_market_data_source_too(bot_core_home: Path, tmp_path: Path) -> None:
    host = bot_core.load_plugins()
    assert "bot-core-ccxt" in LIVE_SOURCES  # the host env installs the ccxt plugin
    path = _config(tmp_path)
    text = path.read_text()
    path.write_text(text.replace(f'"bot-core-ccxt=={metadata.version("bot-core-ccxt")}"',
                                 '"bot-core-ccxt>=0.1"'))
    config = resolve_config(path, plugins=host).config
    _seed(bot_core_home, "alpha", "demo", cycles=12, hours=3.0)
    promote(decide(config, "paper", plugins=host, home=bot_core_home))
    _seed(bot_core_home, "alpha", "paper", cycles=25, hours=5.0)
    decision = decide(config, "live", plugins=host, confirm="alpha", home=bot_core_home)
    [failed] = decision.failed
    assert failed.gate == "plugins_pinned"
    assert failed.evidence.startswith("bot-core-ccxt (ccxt): 'bot-core-ccxt>=0.1' does not pin")
