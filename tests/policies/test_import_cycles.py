"""No import circle among the policy modules, lazy imports included.

``pdp`` and ``cache``/``opa_server`` used to import each other (the decision-id helper
lived in ``pdp``, the builder in ``pdp`` imported the other backends inside a function
to dodge the circle). A circle held by a lazy import works until someone moves the
import to the top; the graph below counts imports inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def import_graph(package: str) -> dict[str, set[str]]:
    """Module → the modules of the same package it imports (anywhere in its body)."""
    modules = {_module_name(p): p for p in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        named: list[str] = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                named += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                named += [a.name for a in node.names]
        graph[name] = {m for m in named if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_policies_have_no_import_cycle() -> None:
    assert cycles(import_graph("policies")) == []


def test_the_checker_sees_a_lazy_circle() -> None:
    """The test can fail: the old shape (a lazy import back) is a circle to it."""
    graph = {"policies.pdp": {"policies.cache"}, "policies.cache": {"policies.pdp"},
             "policies.decision": set()}  # fmt: skip
    assert cycles(graph) == [["policies.cache", "policies.pdp"]]
