"""The package's layers: each part of ``workbench`` imports only parts at its own level or below,
so a change to the dashboards or the command line never reaches the warehouse, and the warehouse
builds without the target lists' code."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "workbench"

#: lowest first; a part may import the parts of its own level and of every level below
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(level.split())
    for level in (
        "errors months names jsonl log filters formats",
        "config",
        "jdk",
        "catalog spark jvm_archive local_fs",
        "warehouse",
        "generate analysis marts ingest",
        "params viz subjects sql",
        "targets",
        "reports dashboards docs lab",
        "bench",
        "cli __main__",
        "__init__",  # the package's own facade re-exports from below
    )
)
LEVEL = {part: rank for rank, level in enumerate(LAYERS) for part in level}


def part_of(path: Path, package: Path = PACKAGE) -> str:
    """The top-level part of the package a file belongs to (``warehouse``, ``config``, ...)."""
    relative = path.relative_to(package)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_modules(path: Path) -> list[tuple[str, int]]:
    """Every absolute import of a file as ``(module, line)``; ``from package import name``
    also gives ``package.name`` (the name may be a module)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        found += [(module, node.lineno) for module in modules]
    return found


def imported_parts(path: Path) -> set[tuple[str, int]]:
    """The parts of the package a file imports, with the line of each import."""
    return {
        (module.split(".")[1], line)
        for module, line in imported_modules(path)
        if module.startswith("workbench.")
    }


def upward_imports(package: Path = PACKAGE) -> list[str]:
    """Every import of a part from a higher layer, as ``file:line part -> part``."""
    wrong = []
    for path in sorted(package.rglob("*.py")):
        source = part_of(path, package)
        for target, line in sorted(imported_parts(path)):
            if LEVEL[target] > LEVEL[source]:
                where = path.relative_to(package.parent)
                wrong.append(f"{where}:{line} {source} -> {target}")
    return wrong


def test_every_part_of_the_package_has_a_layer():
    parts = {part_of(p) for p in PACKAGE.rglob("*.py")}
    assert parts and not parts - set(LEVEL), sorted(parts - set(LEVEL))


def test_no_part_imports_from_a_layer_above_it():
    assert upward_imports() == []


def test_an_upward_import_is_found(tmp_path):
    package = tmp_path / "workbench"
    (package / "warehouse").mkdir(parents=True)
    (package / "warehouse" / "ads.py").write_text(
        "from workbench.months import add_months\nfrom workbench.targets.responses import x\n"
    )
    assert upward_imports(package) == ["workbench/warehouse/ads.py:2 warehouse -> targets"]


def borrowed_test_imports(tests: Path = PROJECT_ROOT / "tests") -> list[str]:
    """Every import of one test module from another (``tests/a/test_x.py`` importing
    ``tests.b.test_y``): shared helpers belong in a conftest or a helpers module, where a change
    to one test file cannot break another's."""
    return sorted(
        {
            f"{path.relative_to(tests.parent)}:{line} {module}"
            for path in tests.rglob("*.py")
            for module, line in imported_modules(path)
            if module.startswith("tests.") and module.rsplit(".", 1)[-1].startswith("test_")
        }
    )


def test_no_test_module_imports_another():
    assert borrowed_test_imports() == []


def test_a_borrowed_test_helper_is_found(tmp_path):
    (tmp_path / "tests" / "b").mkdir(parents=True)
    (tmp_path / "tests" / "b" / "test_y.py").write_text(
        "from tests.conftest import make_project\nfrom tests.a.test_x import helper\n"
    )
    assert borrowed_test_imports(tmp_path / "tests") == ["tests/b/test_y.py:2 tests.a.test_x"]
