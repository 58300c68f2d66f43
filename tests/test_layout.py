"""The import graph, read from the source: no circles, model/ below remaster/, and each
package of remaster/ importing only the packages below it (docs/layout.md)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("model", "remaster", "training_data")
# remaster's packages from the top floor down; a package may import only those after it.
FLOORS = ("commands", "review", "run", "color", "refs", "media")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Each project module -> the project modules it imports, anywhere in its body (a function's
    lazy import counts as much as one at the top)."""
    modules = {
        module_name(path): path for package in PROJECT for path in (ROOT / package).rglob("*.py")
    }
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            found.update(target for target in targets if target in modules and target != name)
        graph[name] = found
    return graph


def test_the_graph_is_read():
    graph = imports()
    assert "remaster.color.stage" in graph["remaster.run.film"]
    assert "remaster.commands.cli" in graph["remaster.__main__"]
    assert len(graph) > 60


def test_there_is_no_import_circle():
    graph = imports()
    done, path = set(), []

    def visit(name):
        if name in path:
            raise AssertionError("import circle: " + " -> ".join(path[path.index(name) :] + [name]))
        if name in done:
            return
        path.append(name)
        for target in sorted(graph[name]):
            visit(target)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_model_imports_nothing_of_remaster_and_tooling_only_model():
    for name, targets in imports().items():
        if name.startswith("model"):
            assert not [t for t in targets if not t.startswith("model")], name
        if name.startswith("training_data"):
            assert not [t for t in targets if t.startswith("remaster")], name


def floor(name: str) -> int | None:
    parts = name.split(".")
    if parts[0] != "remaster" or len(parts) < 2 or parts[1] not in FLOORS:
        return None
    return FLOORS.index(parts[1])


def test_each_package_imports_only_those_below_it():
    """Nothing below the command line imports it; run, color, refs and media never reach up."""
    for name, targets in imports().items():
        mine = floor(name)
        if mine is None:
            continue
        upward = [t for t in targets if floor(t) is not None and floor(t) < mine]
        assert not upward, f"{name} imports {upward}"
