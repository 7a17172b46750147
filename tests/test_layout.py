"""The package's shape, checked: no import circle among growkit's modules (function-local
imports included, so none can hide one), no study importing another study, and no function
over 60 lines (a function a student reads fits on a screen)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "growkit"
STUDIES = {"growkit.study", "growkit.mixture_study"}
MAX_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """The growkit modules `path` imports, anywhere in it (TYPE_CHECKING blocks aside: they
    never run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
            and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("growkit")}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if not module.startswith("growkit"):
                continue
            # `from . import distributed` names a module; `from .x import y` names x.
            names = [f"{module}.{a.name}" for a in node.names]
            found |= {n for n in names if n in MODULES} or {module}
    return {m for m in found if m != module_name(path)}


MODULES = {module_name(p) for p in PACKAGE.rglob("*.py")}


def graph() -> dict[str, set[str]]:
    # A module imported through its package (`from .grow import x`) depends on the package.
    return {module_name(p): {m for m in imported(p) if m in MODULES} for p in PACKAGE.rglob("*.py")}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as the modules along it, or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = "open"
        path.append(m)
        for n in sorted(edges.get(m, ())):
            if state.get(n) == "open":
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = "done"
        path.pop()
        return None

    for m in sorted(edges):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_import_circle():
    assert cycle(graph()) is None, " -> ".join(cycle(graph()) or [])


def test_the_check_finds_a_circle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_no_study_imports_another_study():
    edges = graph()
    for study in STUDIES:
        assert not edges[study] & (STUDIES - {study}), f"{study} imports {edges[study] & STUDIES}"
    assert "growkit.study" not in edges["growkit.runs"]  # machinery never reaches up into a story


def test_no_function_over_60_lines():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_LINES:
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} {lines}")
    assert not long, long
