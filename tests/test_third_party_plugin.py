"""Separate installability: a third-party plugin built as a wheel, installed into a fresh venv
beside the host wheel, shows up in ``bot-core plugins list`` with no change to the host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "example_plugin"
# The host's light dependencies: enough for `plugins list`, which must not need pandas or numba.
LIGHT_DEPS = ["pluggy", "pydantic", "packaging", "platformdirs", "rich"]


def _pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args],
                   check=True, capture_output=True, text=True, timeout=600)


def _host_wheel(out: Path) -> Path:
    """The wheel tox built and installed for this env (TOX_PACKAGE), else build one."""
    for candidate in os.environ.get("TOX_PACKAGE", "").split(os.pathsep):
        if candidate.endswith(".whl") and Path(candidate).name.startswith("bot_core-"):
            return Path(candidate)
    _pip(Path(sys.executable), "wheel", "--no-deps", "-w", str(out), str(ROOT))
    return next(out.glob("bot_core-*.whl"))


@pytest.mark.slow
def test_example_plugin_wheel_installs_beside_host_and_is_listed(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    _pip(Path(sys.executable), "wheel", "--no-deps", "-w", str(wheels), str(EXAMPLE))
    plugin_wheel = next(wheels.glob("bot_core_example-0.2.0-*.whl"))
    host_wheel = _host_wheel(wheels)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    _pip(python, "install", "--no-deps", str(host_wheel), str(plugin_wheel))
    _pip(python, "install", *LIGHT_DEPS)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE", "BOT_CORE"))}
    env["BOT_CORE_HOME"] = str(tmp_path / "home")
    listing = subprocess.run([str(python), "-m", "bot_core", "plugins", "list", "--json"],
                             capture_output=True, text=True, env=env, timeout=120, check=False)
    assert listing.returncode == 0, listing.stderr
    plugins = {p["name"]: p for p in json.loads(listing.stdout)["plugins"]}
    assert plugins["example"]["distribution"] == "bot-core-example"
    assert plugins["example"]["version"] == "0.2.0"
    assert plugins["example"]["status"] == "enabled"
    assert plugins["example"]["components"] == {"risk_check": ["max_order_quantity"]}

    # pandas and numba are not even installed here: listing plugins must not need them
    probe = subprocess.run([str(python), "-c", "import pandas"], capture_output=True, env=env,
                           check=False)
    assert probe.returncode != 0

    blocked = subprocess.run([str(python), "-m", "bot_core", "plugins", "list", "--json"],
                             capture_output=True, text=True, check=False, timeout=120,
                             env={**env, "BOT_CORE_DISABLE_PLUGINS": "bot-core-example"})
    statuses = {p["name"]: p["status"] for p in json.loads(blocked.stdout)["plugins"]}
    assert statuses["example"] == "blocked"
