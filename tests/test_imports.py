"""ARCHITECTURE.md, decision 13 (and its stage table): imports run one way, {data, models} -> train -> {export,
compress} -> tune -> bench -> commands -> cli, with shared helpers below their users; no module imports (even
lazily) one of a later stage, and no two modules import each other, directly or around a loop; functions stay small."""
import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "keras_cls"
ARCHITECTURE = PACKAGE.parent / "ARCHITECTURE.md"
# The stage of each part of the package, from ARCHITECTURE.md's table: a module may import only from its own part or
# from an earlier stage.
STAGE = {m.group(1): float(m.group(2))
         for m in re.finditer(r"^\| `(\w+)` \| ([\d.]+) \|", ARCHITECTURE.read_text(), re.MULTILINE)}
# Parts of one stage that may use each other one way (the export runtime is what compression converts with).
ALLOWED = {("compress", "export")}


def _modules():
    return {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
            for p in PACKAGE.rglob("*.py")}


def _imports(path, modules):
    """Every keras_cls module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("keras_cls"):
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("keras_cls"))
    return found


def _graph():
    modules = _modules()
    return {name: _imports(path, modules) for name, path in modules.items()}


def _part(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_part_has_a_stage():
    """ARCHITECTURE.md's table names every part of the package, and no part that is gone."""
    assert {_part(m) for m in _modules()} - {None} == set(STAGE)


def test_no_import_against_the_stages():
    upward = [f"{m} -> {t}" for m, targets in _graph().items() for t in targets
              if _part(t) and _part(m) and _part(t) != _part(m) and (_part(m), _part(t)) not in ALLOWED
              and STAGE[_part(t)] >= STAGE[_part(m)]]
    assert not upward, upward


def test_no_import_cycle_between_modules():
    """Packages' __init__ re-exports are left out: importing a name from a package is not a dependency loop."""
    modules = _modules()
    packages = {m for m, p in modules.items() if p.name == "__init__.py"}
    graph = {m: {t for t in targets if t not in packages and t != m} for m, targets in _graph().items()
             if m not in packages}
    cycles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles


def test_nothing_cites_a_document_outside_the_repository():
    """The design lives in ARCHITECTURE.md: code, tests and docs cite it, not the design notes the project began
    from (which are not in the repository)."""
    root = PACKAGE.parent
    outside = re.compile("DESIGN" + r"(\.md)? decision|shared/" + "DESIGN")
    files = [*root.glob("*.md"), *(root / "keras_cls").rglob("*.py"), *(root / "scripts").glob("*"),
             *(root / "tests").rglob("*.py"), *(root / "tests").rglob("*.md")]
    citing = [str(p.relative_to(root)) for p in files if p.is_file() and outside.search(p.read_text(errors="ignore"))]
    assert citing == []
    assert len(re.findall(r"^\d+\. \*\*", ARCHITECTURE.read_text(), re.MULTILINE)) >= 13  # the decisions are here


MAX_FUNCTION_LINES = 40


def test_no_function_is_long():
    """Small functions: none of the package's is over 40 lines, its docstring not counted."""
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = node.body[0]
                docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and \
                    isinstance(first.value.value, str)
                lines = node.end_lineno - node.lineno + 1 - (first.end_lineno - first.lineno + 1 if docstring else 0)
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []
