"""The library's layering, read from its source with ast (nothing is imported), so a change that breaks it
fails here with the modules named. See docs/architecture.md for the picture.

- no import circles between modules of tavid_core (imports inside functions count: they are circles that
  only wait to be run; `if TYPE_CHECKING:` imports do not);
- tavid_core never imports ComfyUI (comfy, comfy_api, folder_paths, server, ...) or the pack's nodes;
- packages sit in layers, and a layer imports only layers below it;
- the built-in engines never import the neural ones, and shared engine pieces neither;
- a neural block (speech, motion, face) imports from the other neural packages only common/, sampling/ and
  lora/, and those never import a block.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from helpers.paths import ROOT

LIBRARY = "tavid_core"
COMFYUI = {"comfy", "comfy_api", "comfy_extras", "comfy_execution", "folder_paths", "server", "execution", "nodes"}
# lowest first: a package may import its own layer and those below it
LAYERS = (
    {"errors", "limits", "types"},
    {"dialogue", "runtime", "media", "analysis", "checkpoints", "examples", "assets"},
    {"engines", "dub"},
    {"pipeline"},
    {"eval", "train"},
    {"bench", "cli", "__init__"},
)
BLOCKS = {"speech", "motion", "face"}
NEURAL_SHARED = {"common", "sampling", "lora"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every Import/ImportFrom that runs at some point (TYPE_CHECKING blocks left out)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def import_graph(root: Path, package: str = LIBRARY) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module -> modules of the package it imports, module -> outside top-level names it imports), for the
    package folder `root / package`. `from x import y` counts as importing x.y when that is a module."""
    files = {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}
    graph, outside = {}, {}
    for name, path in files.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found, foreign = set(), set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = here[:len(here) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                    if len(anchor) < 1 or anchor[0] != package:
                        foreign.add(f"relative import above {package}: {'.' * node.level}{node.module or ''}")
                        continue
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for target in targets:
                top = target.split(".")[0]
                if top == package:
                    while target not in files and "." in target:
                        target = target.rsplit(".", 1)[0]
                    if target != name:
                        found.add(target)
                else:
                    foreign.add(top)
        graph[name], outside[name] = found, foreign
    return graph, outside


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: strongly connected groups of more than one module (Tarjan's algorithm)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def layer_of(module: str) -> int:
    first = module.split(".")[1] if "." in module else "__init__"
    return next(i for i, layer in enumerate(LAYERS) if first in layer)


@pytest.fixture(scope="module")
def graph():
    return import_graph(ROOT)


def shortest_circle(group: list[str], graph: dict[str, set[str]]) -> str:
    """One shortest circle through the first module of a circular group, as "a -> b -> a"."""
    start, members = group[0], set(group)
    paths, queue = {start: [start]}, [start]
    while queue:
        here = queue.pop(0)
        for there in sorted(graph[here] & members):
            if there == start:
                return " -> ".join(paths[here] + [start])
            if there not in paths:
                paths[there] = paths[here] + [there]
                queue.append(there)
    return " -> ".join(group)


def test_no_import_circles(graph):
    assert [shortest_circle(group, graph[0]) for group in cycles(graph[0])] == []


def test_the_library_never_imports_comfyui_or_the_nodes(graph):
    wrong = {m: sorted(names & COMFYUI | {n for n in names if n.startswith("relative import")})
             for m, names in graph[1].items()}
    assert {m: names for m, names in wrong.items() if names} == {}


def test_every_package_is_in_a_layer_and_imports_only_below_it(graph):
    upward = sorted(f"{m} -> {t}" for m, targets in graph[0].items() for t in targets if layer_of(t) > layer_of(m))
    assert upward == []


def test_built_in_and_shared_engines_never_import_neural_ones(graph):
    def inside(module: str, package: str) -> bool:
        return module == package or module.startswith(package + ".")

    wrong = sorted(f"{m} -> {t}" for m, targets in graph[0].items() for t in targets
                   if (inside(m, f"{LIBRARY}.engines.builtin") and inside(t, f"{LIBRARY}.engines.neural"))
                   or (inside(m, f"{LIBRARY}.engines.shared")
                       and (inside(t, f"{LIBRARY}.engines.builtin") or inside(t, f"{LIBRARY}.engines.neural"))))
    assert wrong == []


def test_a_neural_block_imports_only_the_shared_neural_packages(graph):
    prefix = f"{LIBRARY}.engines.neural."

    def package(module: str) -> str | None:
        return module[len(prefix):].split(".")[0] if module.startswith(prefix) else None

    wrong = []
    for module, targets in graph[0].items():
        own = package(module)
        for target in targets:
            theirs = package(target)
            if own is None or theirs is None or theirs == own:
                continue
            if own in BLOCKS and theirs not in NEURAL_SHARED or own in NEURAL_SHARED and theirs in BLOCKS:
                wrong.append(f"{module} -> {target}")
    assert sorted(wrong) == []
    assert {package(m) for m in graph[0] if package(m)} == BLOCKS | NEURAL_SHARED  # the checks see every package


def test_the_checks_fail_on_a_deliberate_circle_and_a_comfyui_import(tmp_path):
    """The same checks on a small package with a circle through a function-level import and a ComfyUI import."""
    pkg = tmp_path / LIBRARY
    (pkg / "engines").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "engines" / "__init__.py").write_text("")
    (pkg / "types.py").write_text("from .engines import protocols\n")
    (pkg / "engines" / "protocols.py").write_text("import folder_paths\n\ndef f():\n    from ..types import Motion\n")
    (pkg / "limits.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .types import X\n")
    modules, outside = import_graph(tmp_path)
    assert cycles(modules) == [[f"{LIBRARY}.engines.protocols", f"{LIBRARY}.types"]]
    assert shortest_circle(cycles(modules)[0], modules) == (f"{LIBRARY}.engines.protocols -> {LIBRARY}.types -> "
                                                            f"{LIBRARY}.engines.protocols")
    assert "folder_paths" in outside[f"{LIBRARY}.engines.protocols"]
    assert modules[f"{LIBRARY}.limits"] == set()  # TYPE_CHECKING imports are not circles
    assert layer_of(f"{LIBRARY}.types") < layer_of(f"{LIBRARY}.engines.protocols")  # types -> engines is upward
