"""Docs that cannot drift: every hook is documented in the plugin guide and in its docstring."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from bot_core import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("bot_core_"))


def test_there_are_hooks_to_document() -> None:
    assert len(HOOKS) >= 10


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_in_the_plugin_guide(hook: str) -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert f"`{hook}`" in guide, f"{hook} is missing from docs/plugins.md"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_docstring_documents_every_argument(hook: str) -> None:
    func = getattr(hookspecs, hook)
    doc = inspect.getdoc(func) or ""
    assert doc.splitlines()[0].strip(), f"{hook} has no summary line"
    assert "Runs " in doc, f"{hook} does not say when it runs"
    for param in inspect.signature(func).parameters:
        assert f":param {param}:" in doc, f"{hook} does not document {param}"
    assert ":return:" in doc


def test_readme_quick_start_is_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [ln for ln in section.splitlines() if ln.startswith(("python3 ", "git ", "bash "))]
    assert commands == ["python3 dev.py demo", "python3 dev.py test"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "exec python3 dev.py test" in ci
