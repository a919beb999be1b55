"""No import cycles in the host: every ``import`` of a ``bot_core`` module, wherever it is (at
the top, inside a function, under ``TYPE_CHECKING``), read from the source with ``ast``.

A cycle, even one Python resolves at run time, means two modules cannot be understood, tested
or moved apart. The cycles listed in :data:`KNOWN` predate this test; each names the import
that would break it, and the test fails once one is gone so that the list only shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import bot_core

PACKAGE = Path(bot_core.__file__).parent

KNOWN: dict[frozenset[str], str] = {
    frozenset({"bot_core.data.file_checks", "bot_core.data.quality"}):
        "quality imports file_checks.read_for_validation (inside validate)",
    frozenset({"bot_core.hookspecs", "bot_core.plugins", "bot_core.runtime.gates",
               "bot_core.runtime.promotion", "bot_core.runtime.smoke_venues"}):
        "runtime.promotion (the PromotionGate contract) imports plugins and runtime.gates, "
        "which import it back",
}
"""Cycles that predate this test, with the import that would break each."""


def _modules() -> dict[str, tuple[Path, bool]]:
    """Module name -> (source file, is a package)."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if package else parts)] = (path, package)
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the host modules it imports (``from bot_core.x import y`` counts as an import
    of ``bot_core.x.y`` when that is a module, else of ``bot_core.x``)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, (path, package) in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                target = node.module or ""
                if node.level:
                    base = name.split(".") if package else name.split(".")[:-1]
                    base = base[:len(base) - node.level + 1]
                    target = ".".join([*base, *([target] if target else [])])
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    deps.add(sub if sub in modules else target)
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(frozenset(component))
    return found


def test_the_host_has_no_import_cycles() -> None:
    graph = import_graph()
    assert graph.get("bot_core.backtest.driver")
    found = cycles(graph)
    new = [sorted(c) for c in found if c not in KNOWN]
    assert not new, f"import cycles: {new}"
    gone = [sorted(c) for c in KNOWN if c not in found]
    assert not gone, f"cycles fixed (remove them from KNOWN): {gone}"


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]
    assert cycles({"a": {"b"}, "b": set()}) == []
