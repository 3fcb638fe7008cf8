"""Who may import whom in ``sorter`` (DESIGN.md), read from the source with ``ast``.

Every import counts, those inside functions too: a deferred import that closes a cycle is still
a cycle. Relative imports are not used in this codebase, so absolute names are enough.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(package: str) -> dict[str, set[str]]:
    """Module -> every module name it imports (``from a import b`` counts ``a`` and ``a.b``)."""
    out = {}
    for path in (ROOT / package).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
        out[_module_name(path)] = names
    return out


SORTER = _imports("sorter")


def _internal(names: set[str]) -> set[str]:
    return {n for n in names if n in SORTER}


def test_sorter_has_no_import_cycles():
    graph = {m: _internal(names) - {m} for m, names in SORTER.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(m, stack):
        state[m] = 1
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n, stack + [n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_sorter_reads_only_the_catalogue_and_errors_of_blending():
    bad = {(m, n) for m, names in SORTER.items() for n in names
           if n.split(".")[0] == "blending" and not n.startswith(("blending.catalogue", "blending.errors"))}
    assert bad == set()


@pytest.mark.parametrize("forbidden", ["sorter.training", "sklearn", "skl2onnx", "scipy", "sorter.simulate",
                                       "sorter.preprocess.features"])
def test_serving_imports_nothing_of_training(forbidden):
    bad = {(m, n) for m, names in SORTER.items() if m.startswith("sorter.serving")
           for n in names if n == forbidden or n.startswith(forbidden + ".")}
    assert bad == set()


@pytest.mark.parametrize("package", ["sorter", "blending", "aluloop", "bench"])
def test_no_product_code_imports_research_or_tests(package):
    bad = {(m, n) for m, names in _imports(package).items() for n in names
           if n.split(".")[0] in ("tests", "research") and not (package == "bench" and n.startswith("research."))}
    assert bad == set()


def test_no_bench_script_reaches_into_tests_or_edits_sys_path():
    for path in (ROOT / "bench").glob("*.py"):
        if path.name.startswith("blend_"):   # the blending benches are the lead's, changed with blending/
            continue
        text = path.read_text(encoding="utf-8")
        assert "sys.path" not in text and "tests" not in _imports_of(path), path.name


def _imports_of(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    return roots
