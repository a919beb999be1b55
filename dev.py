#!/usr/bin/env python3
"""Set up and run bot-core on a fresh machine (Python >= 3.11 and git; standard library only).

    python3 dev.py demo    create .venv, install the host and every plugin, run the demo
    python3 dev.py test    create .venv, install tox, run every test environment, then coverage

Both commands are idempotent: a second run reuses .venv. Extra arguments after `test` go to tox
(e.g. `python3 dev.py test -e host`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
RESULTS = ROOT / ".test-results"
COVERAGE_DATA = ROOT / ".coverage-data"
PLUGIN_DIRS = sorted(p.parent for p in (ROOT / "plugins").glob("*/*/pyproject.toml"))
OPS_TOOLS = {"promtool": "prometheus", "prometheus": "prometheus",
             "amtool": "prometheus-alertmanager"}
"""Binaries the ops-asset tests run (tests/telemetry/test_deploy.py), and their Debian packages."""


def _bin(name: str) -> Path:
    scripts = VENV / ("Scripts" if os.name == "nt" else "bin")
    return scripts / (name + (".exe" if os.name == "nt" else ""))


def ensure_ops_tools() -> None:
    """Install Debian's prometheus and prometheus-alertmanager when their binaries are missing,
    apt-get exists and we are root (a bare CI machine); otherwise say why the tests that need
    them will be skipped."""
    missing = sorted({pkg for tool, pkg in OPS_TOOLS.items() if shutil.which(tool) is None})
    if not missing:
        return
    apt = shutil.which("apt-get")
    packages = " ".join(missing)
    if apt is None:
        print(f"dev.py: {packages} not installed and no apt-get here: the tests that need "
              "them will be skipped", flush=True)
        return
    if getattr(os, "geteuid", lambda: -1)() != 0:
        print(f"dev.py: {packages} not installed and not root: run `sudo apt-get install -y "
              f"{packages}` to run the tests that need them (skipped meanwhile)", flush=True)
        return
    print(f"dev.py: installing Debian's {packages} for the ops-asset tests (promtool, amtool, "
          "a real Prometheus)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if _run(apt, "update", env=env) or \
            _run(apt, "install", "-y", "--no-install-recommends", *missing, env=env):
        print("dev.py: the install failed; the tests that need them will be skipped",
              flush=True)


def _run(*cmd: str | Path, env: dict[str, str] | None = None) -> int:
    print("$", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)


def _check(*cmd: str | Path) -> None:
    code = _run(*cmd)
    if code:
        sys.exit(f"dev.py: command failed with exit code {code}")


def ensure_venv() -> Path:
    python = _bin("python")
    if not python.exists():
        if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
            sys.exit(f"dev.py: bot-core needs Python >= 3.11, this is {sys.version.split()[0]}")
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    return python


def install_everything(python: Path) -> None:
    """Host and plugins as regular (non-editable) installs, so the demo runs what users get."""
    _check(python, "-m", "pip", "install", "--quiet", "--upgrade", ROOT, *PLUGIN_DIRS)


def demo(args: list[str]) -> int:
    python = ensure_venv()
    install_everything(python)
    return _run(_bin("bot-core"), "demo", *args)


def test(args: list[str]) -> int:
    python = ensure_venv()
    ensure_ops_tools()
    _check(python, "-m", "pip", "install", "--quiet", "tox>=4.11")
    for stale in (RESULTS, COVERAGE_DATA):
        shutil.rmtree(stale, ignore_errors=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    tox_args = args or ["run-parallel", "--parallel", "2", "--parallel-live"]
    code = _run(python, "-m", "tox", *tox_args, env=env)
    return _summarize(code)


def _summarize(code: int) -> int:
    """Print one closing line over every env's JUnit report; no tests at all is a failure."""
    passed = failed = skipped = 0
    for report in sorted(RESULTS.glob("*.xml")):
        for suite in ET.parse(report).getroot().iter("testsuite"):
            total = int(suite.get("tests", 0))
            bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skip = int(suite.get("skipped", 0))
            passed += total - bad - skip
            failed += bad
            skipped += skip
    if passed + failed == 0:
        print("dev.py: no test ran; that is a failure, not a pass", file=sys.stderr)
        return code or 5
    print(f"bot-core: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return code or (1 if failed else 0)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    return demo(rest) if command == "demo" else test(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
