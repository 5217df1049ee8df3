"""The package's import graph: no circle between toyscale's modules (lazy imports inside functions
included, so a circle cannot hide behind one), and no private name -- or private module from
outside its own package -- imported across modules, in toyscale/, experiments/*.py and
benchmarks/*.py."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "toyscale"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name: str) -> bool:
    p = ROOT.joinpath(*name.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def _imports(path: Path):
    """``(target module, imported name or None, line)`` for every import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                yield node.module, a.name, node.lineno


def _files():
    return sorted(PACKAGE.rglob("*.py")) + sorted((ROOT / "experiments").glob("*.py")) + sorted(
        (ROOT / "benchmarks").glob("*.py"))


def _private_imports(path: Path) -> list[str]:
    me = _module_name(path) if path.is_relative_to(PACKAGE) else None
    my_package = (me if path.name == "__init__.py" else me.rpartition(".")[0]) if me else None
    bad = []
    for mod, name, line in _imports(path):
        if not mod.startswith("toyscale"):
            continue
        full = f"{mod}.{name}" if name else mod
        parts = full.split(".")
        for i, part in enumerate(parts[1:], start=1):
            if not part.startswith("_") or part.startswith("__"):
                continue
            owner = ".".join(parts[:i])
            if _is_module(".".join(parts[:i + 1])) and my_package == owner:
                continue  # a private module imported inside its own package
            bad.append(f"{path.relative_to(ROOT)}:{line}: {full}")
    return bad


def test_no_private_name_imported_across_modules():
    bad = [b for f in _files() for b in _private_imports(f)]
    assert not bad, "private names imported across modules:\n" + "\n".join(bad)


def _graph() -> dict:
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        me = _module_name(path)
        edges = set()
        for mod, name, _ in _imports(path):
            if not mod.startswith("toyscale"):
                continue
            target = f"{mod}.{name}" if name and _is_module(f"{mod}.{name}") else mod
            if target != me and _is_module(target):
                edges.add(target)
        graph[me] = edges
    return graph


def _cycles(graph: dict) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    cycles = _cycles(_graph())
    assert not cycles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checker_finds_a_circle_and_a_private_import(tmp_path):
    # the checks above can fail: a two-module circle and a private import are found
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    f = PACKAGE / "report" / "_probe_for_test.py"
    try:
        f.write_text("from toyscale.store import _host\nfrom toyscale.fit._basic import seed_center\n")
        assert len(_private_imports(f)) == 2
    finally:
        f.unlink()


def test_theory_never_imports_models():
    for path in (PACKAGE / "theory").glob("*.py"):
        assert not [m for m, _, _ in _imports(path) if m.startswith("toyscale.models")], path
