"""Layering: no import cycle among sitewatch's modules, and the few import rules docs/architecture.md states.

The graph is read from the source with `ast`, so an import inside a function counts like one at the top of a
module: moving an import into a function to hide a cycle does not hide it from this test, nor does
`importlib.import_module("sitewatch.x")`. Only imports under `if TYPE_CHECKING:` are left out, since they
never run. Importing `sitewatch.a.b` also counts as importing
the package `sitewatch.a` (its `__init__` runs first).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import sitewatch

PACKAGE_DIR = Path(sitewatch.__file__).resolve().parent
EXTERNAL_HTTP = {"httpx", "aiohttp"}


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (a package under its own name, for its __init__)."""
    files = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


Importing = ast.Import | ast.ImportFrom | ast.Call


def is_import_call(node: ast.AST) -> bool:
    """`importlib.import_module("literal")`, `import_module("literal")` or `__import__("literal")`."""
    if not isinstance(node, ast.Call) or not node.args:
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    arg = node.args[0]
    return name in ("import_module", "__import__") and isinstance(arg, ast.Constant) and isinstance(arg.value, str)


def runtime_imports(tree: ast.AST) -> Iterator[Importing]:
    """Every import statement (and import call naming a module literally) at any depth, except those under
    `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.orelse:
                yield from runtime_imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom) or is_import_call(node):
            yield node
        yield from runtime_imports(node)


def imported_names(module: str, is_package: bool, node: Importing) -> list[str]:
    """Dotted names one import may load: the module named and, for `from X import y`, X.y."""
    if isinstance(node, ast.Call):
        arg = node.args[0]
        assert isinstance(arg, ast.Constant)
        return [str(arg.value)]
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def dependencies() -> dict[str, set[str]]:
    """Module -> the sitewatch modules and top-level external packages its import statements load."""
    files = module_files()
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        own_packages = {module} if is_package else set()
        own_packages |= {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
        targets: set[str] = set()
        for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            for name in imported_names(module, is_package, node):
                if not name.startswith("sitewatch"):
                    targets.add(name.split(".")[0])
                    continue
                parts = name.split(".")
                # The module itself and every enclosing package, except those this module sits in (they
                # are already being imported when it runs).
                for i in range(2, len(parts) + 1):
                    target = ".".join(parts[:i])
                    if target in files and target not in own_packages:
                        targets.add(target)
        graph[module] = targets - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def closure(graph: dict[str, set[str]], start: str) -> set[str]:
    """Everything `start` loads, directly or through other sitewatch modules."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


GRAPH = dependencies()


def test_the_graph_is_read():
    # A guard against a test that passes because it read nothing.
    assert {"sitewatch.cli", "sitewatch.config", "sitewatch.scan"} <= GRAPH.keys()
    assert "sitewatch.config" in GRAPH["sitewatch.scan"]


def test_a_cycle_hidden_in_a_function_is_found():
    source = "def later():\n    from sitewatch import b\n"
    tree = ast.parse(source)
    names = [name for node in runtime_imports(tree) for name in imported_names("sitewatch.a", False, node)]
    assert names == ["sitewatch", "sitewatch.b"]
    graph = {"sitewatch.a": {"sitewatch.b"}, "sitewatch.b": {"sitewatch.a"}, "sitewatch.c": {"sitewatch.a"}}
    assert cycles(graph) == [["sitewatch.a", "sitewatch.b"]]


def test_an_import_by_name_is_found():
    source = "import importlib\ndef later():\n    return importlib.import_module('sitewatch.b').f\n"
    names = [name for node in runtime_imports(ast.parse(source)) for name in imported_names("x", False, node)]
    assert names == ["importlib", "sitewatch.b"]


def test_type_checking_imports_are_left_out():
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sitewatch import b\nelse:\n    import c\n"
    names = [name for node in runtime_imports(ast.parse(source)) for name in imported_names("x", False, node)]
    assert names == ["typing", "typing.TYPE_CHECKING", "c"]


def test_no_import_cycle():
    found = cycles(GRAPH)
    assert not found, "import cycles among sitewatch modules:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_library_code_never_imports_a_command_module():
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module != "sitewatch.cli" and not module.startswith("sitewatch.commands")
        for target in targets
        if target == "sitewatch.commands" or target.startswith("sitewatch.commands.")
    )
    assert not offenders, offenders


def test_config_does_not_load_the_http_stack():
    loaded = closure(GRAPH, "sitewatch.config")
    http = sorted(name for name in loaded if name.startswith("sitewatch.crawl") or name in EXTERNAL_HTTP)
    assert not http, f"sitewatch.config loads {http}"


CONSOLE_EXTRA = {"starlette", "uvicorn", "argon2", "python_multipart", "multipart"}
CONSOLE_COMMANDS = {"sitewatch.commands.serve", "sitewatch.commands.user",
                    "sitewatch.commands.demo"}     # demo: with --serve only (lazy)


def test_only_the_console_loads_the_console_extra():
    """The default install runs every command but `serve` and `user` (and `sitewatch demo`) without the console
    extra: nothing outside sitewatch.console and those two commands loads Starlette, uvicorn or argon2."""
    offenders = sorted(
        f"{module} loads {sorted(closure(GRAPH, module) & CONSOLE_EXTRA)}"
        for module in GRAPH
        if not module.startswith("sitewatch.console") and module not in CONSOLE_COMMANDS
        and closure(GRAPH, module) & CONSOLE_EXTRA
    )
    assert not offenders, offenders
    assert {"starlette", "argon2"} <= closure(GRAPH, "sitewatch.console.app")      # the test reads them
    assert "starlette" not in closure(GRAPH, "sitewatch.console.accounts")         # `user` needs no web framework


FLEET_EXTRA = {"celery", "kombu", "redis", "billiard"}
# modules that reach the fleet on purpose, lazily, only when a fleet is asked for: the scheduler with executor
# celery, the fleet's commands, status's fleet section, and the crawl and the look-back under a shared budget
FLEET_DOORS = {"sitewatch.scheduler", "sitewatch.commands.schedule", "sitewatch.commands.worker",
               "sitewatch.commands.metrics", "sitewatch.commands.status", "sitewatch.crawl.engine",
               "sitewatch.crawl.politeness", "sitewatch.lookback"}


def test_only_the_fleet_loads_the_fleet_extra():
    """`pip install .` runs every command but `worker` and `metrics` without Celery or Redis: outside
    sitewatch.fleet, only the doors above reach them, and nothing reaches them but through a door."""
    shut = {m: ({d for d in deps if not d.startswith("sitewatch.fleet") and d not in FLEET_EXTRA}
                if m in FLEET_DOORS else deps) for m, deps in GRAPH.items()}
    offenders = sorted(
        f"{module} loads {sorted(closure(shut, module) & FLEET_EXTRA)}"
        for module in shut if not module.startswith("sitewatch.fleet") and closure(shut, module) & FLEET_EXTRA
    )
    assert not offenders, offenders
    assert {"celery", "redis"} <= closure(GRAPH, "sitewatch.fleet.worker")      # the test reads them
    assert "redis" in closure(GRAPH, "sitewatch.scheduler")                       # ... and the doors
