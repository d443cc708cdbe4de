"""The library's rooms (its packages and top-level modules) import one way: no room reaches back into one that
imports it, directly or around a circle. Imports inside functions count too: a lazy import is still an arrow.

    python tests/test_layers.py     # prints the rooms in import order, each with the rooms it imports
"""

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "heygen_lib"


def room(module: str) -> str:
    """`heygen_lib.nlg.finetune` -> `nlg`; `heygen_lib.paths` -> `paths`."""
    return module.split(".")[1]


def arrows() -> dict[str, set[str]]:
    """room -> the other rooms its modules import."""
    graph: dict[str, set[str]] = {}
    for path in LIB.rglob("*.py"):
        parts = path.relative_to(LIB.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        here = room(module) if "." in module else "heygen_lib"
        targets = graph.setdefault(here, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                if name.startswith("heygen_lib.") and room(name) != here:
                    if (LIB / room(name)).is_dir() or (LIB / f"{room(name)}.py").is_file():
                        targets.add(room(name))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one room (Tarjan's algorithm)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_room_of_the_library_reaches_back_into_a_room_that_imports_it():
    assert cycles(arrows()) == []


def test_the_cycle_finder_finds_a_circle_of_three_and_ignores_a_chain():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}}) == []


if __name__ == "__main__":
    graph = arrows()
    order: list[str] = []
    while len(order) < len(graph):  # rooms whose imports are all placed come next (bottom first)
        ready = sorted(r for r in graph if r not in order and graph[r] <= set(order)) or sorted(set(graph) - set(order))
        order.append(ready[0])
    for name in order:
        print(f"{name:<20} -> {', '.join(sorted(graph[name])) or '-'}")
    print("cycles:", cycles(graph) or "none")
