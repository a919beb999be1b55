"""``bot-core plugin new``: the generated project, as generated, installs into a fresh virtual
environment beside the host's wheel, is listed by ``bot-core plugins list``, passes its own
tests and (a strategy) backtests the shipped demo data with no config.

The fresh environment gets the host's dependencies at the versions this one runs (a
constraints file), the host wheel, the paper venue and the core risk checks (the balanced
preset's venue and checks) and the generated project, installed by pip from its folder.
"""

from __future__ import annotations

import configparser
import importlib.metadata
import json
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = [ROOT / "plugins" / "exchanges" / "paper", ROOT / "plugins" / "risk" / "core_checks"]


def _run(args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout, check=False)


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"{proc.args}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="session")
def local_wheels(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The host wheel (tox's, when it built one) and the paper and risk-check plugin wheels,
    built once per test session."""
    out = tmp_path_factory.mktemp("wheels")
    host = [Path(p) for p in os.environ.get("TOX_PACKAGE", "").split(os.pathsep)
            if p.endswith(".whl") and Path(p).name.startswith("bot_core-")]
    sources = PLUGINS if host else [ROOT, *PLUGINS]
    _ok(_run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
              *map(str, sources)]))
    return host + sorted(out.glob("*.whl"))


def _constraints(folder: Path) -> Path:
    """This environment's versions of everything but bot-core's own distributions."""
    pins = sorted({f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()
                   if not d.metadata["Name"].lower().startswith("bot-core")
                   and not d.metadata["Name"].lower().startswith("bot_core")})
    path = folder / "constraints.txt"
    path.write_text("\n".join(pins) + "\n")
    return path


@pytest.mark.slow
def test_a_generated_strategy_installs_lists_passes_its_tests_and_backtests(
        tmp_path: Path, local_wheels: list[Path]) -> None:
    made = _ok(_run([sys.executable, "-m", "bot_core", "plugin", "new", "strategy", "mystrat",
                     "--dir", str(tmp_path)]))
    project = tmp_path / "mystrat"
    assert f"wrote {project}" in made.stdout
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["bot_core"] == {"mystrat": "bot_core_mystrat.plugin"}
    assert pyproject["project"]["optional-dependencies"]["test"] == ["bot-core[testing]"]
    plugin_module = (project / "src" / "bot_core_mystrat" / "plugin.py").read_text()
    from bot_core import PLUGIN_API_VERSION

    assert f'BOT_CORE_API = ">={PLUGIN_API_VERSION},<2"' in plugin_module
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(project / "tox.ini")
    assert tox["testenv"]["package"] == "wheel" and tox["testenv"]["extras"] == "test"

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    host = next(w for w in local_wheels if w.name.startswith("bot_core-"))
    others = [w for w in local_wheels if w != host]
    _ok(_run([str(python), "-m", "pip", "install", "-q", "-c", str(_constraints(tmp_path)),
              f"{host}[testing]", *map(str, others), str(project)]))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE", "BOT_CORE"))}
    env["BOT_CORE_HOME"] = str(tmp_path / "home")
    listing = _ok(_run([str(python), "-m", "bot_core", "plugins", "list", "--json"], env=env))
    plugins = {p["name"]: p for p in json.loads(listing.stdout)["plugins"]}
    assert plugins["mystrat"]["status"] == "enabled", plugins["mystrat"]
    assert plugins["mystrat"]["distribution"] == "bot-core-mystrat"
    assert plugins["mystrat"]["components"] == {"strategy": ["mystrat"]}

    tests = _ok(_run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                     env=env, cwd=project))
    assert "4 passed" in tests.stdout

    backtest = _ok(_run([str(python), "-m", "bot_core", "backtest", "--strategy", "mystrat",
                         "--dataset", "demo-btc-usdt-1m", "--json"], env=env))
    result = json.loads(backtest.stdout)
    assert result["n_fills"] > 0
    assert backtest.stderr.startswith("note: no config defines mystrat: bound to "
                                      "demo-btc-usdt-1m")


@pytest.mark.parametrize("kind", ["exchange", "risk"])
def test_every_kind_generates_a_project_whose_component_meets_its_contract(
        tmp_path: Path, kind: str) -> None:
    """Without installing: the generated module imports and its component satisfies the host's
    contract check (the fresh-venv test above does the full round trip for a strategy)."""
    _ok(_run([sys.executable, "-m", "bot_core", "plugin", "new", kind, f"my_{kind}",
              "--dir", str(tmp_path)]))
    src = tmp_path / f"my_{kind}" / "src"
    probe = _ok(_run([sys.executable, "-c", (
        "import bot_core, importlib;"
        f"m = importlib.import_module('bot_core_my_{kind}.plugin');"
        "got = [];"
        "hooks = [getattr(m, n) for n in dir(m) if n.startswith('bot_core_register_')];"
        "[h(got.append) for h in hooks];"
        "print(m.BOT_CORE_API, got[0].id, got[0].__name__)")],
        env={**os.environ, "PYTHONPATH": str(src)}))
    api, ident, cls = probe.stdout.split()
    assert api.startswith(">=") and ident == f"my_{kind}"
    assert cls == {"exchange": "MyExchangeVenue", "risk": "MyRiskCheck"}[kind]


@pytest.mark.parametrize(("args", "message"), [
    (["strategy", "MyStrat"], "the name is the component id: a lower-case letter"),
    (["indicator", "x"], "plugin new indicator: choose one of strategy, exchange, risk"),
])
def test_bad_names_and_kinds_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    proc = _run([sys.executable, "-m", "bot_core", "plugin", "new", *args, "--dir",
                 str(tmp_path)])
    assert proc.returncode == 2 and message in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_existing_project_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "mystrat").mkdir()
    (tmp_path / "mystrat" / "mine.py").write_text("# mine\n")
    proc = _run([sys.executable, "-m", "bot_core", "plugin", "new", "strategy", "mystrat",
                 "--dir", str(tmp_path)])
    assert proc.returncode == 2 and "already exists" in proc.stderr
    assert [p.name for p in (tmp_path / "mystrat").iterdir()] == ["mine.py"]
