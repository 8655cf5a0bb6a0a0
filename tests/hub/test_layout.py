"""The layout holds: no module imports, however indirectly, a module that imports it.

import-linter's layers contracts (pyproject.toml) keep the packages in their order; a
circle inside one layer would still pass them, so this looks for circles among all of the
project's modules, imports under ``TYPE_CHECKING`` included (a circle for the type checker is
one for the next reader too).
"""

from __future__ import annotations

import grimp

PACKAGES = ("hub", "drivers", "console", "tests")


def circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            part = stack[stack.index(module):]
            del stack[stack.index(module):]
            if len(part) > 1:
                found.append(sorted(part))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_round_a_circle() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False, cache_dir=None)
    assert len(graph.modules) > 100, "the project's modules were found"
    found = circles(graph)
    assert not found, "import circles: " + "; ".join(
        " -> ".join(graph.find_shortest_chain(part[0], part[1]) or part) + f" (and back; {len(part)} modules)"
        for part in found)


def test_a_circle_is_found() -> None:
    graph = grimp.ImportGraph()
    for a, b in (("p.service", "p.control"), ("p.control", "p.service"), ("p.cli", "p.service")):
        graph.add_import(importer=a, imported=b)
    assert circles(graph) == [["p.control", "p.service"]]
