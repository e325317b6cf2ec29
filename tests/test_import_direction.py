"""Imports run one way: orchestration wires assets, assets use quality, and all of them use the library
in retention/; nothing imports upward, and only the wiring and the tools use the demo generator.

Every import counts, also one inside a function (a lazy import is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Each package, and the packages it may never import.
FORBIDDEN = {
    "retention": ("orchestration", "assets", "quality"),
    "quality": ("orchestration", "assets"),
    "assets": ("orchestration",),
}
GENERATOR = "retention.generator"


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, node.module)]
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def upward_imports(package: str, root: Path = ROOT) -> list[str]:
    problems = []
    for path in sorted((root / package).rglob("*.py")):
        relative = path.relative_to(root)
        in_generator = relative.parts[:2] == ("retention", "generator")
        for line, module in imported_modules(path):
            for upper in FORBIDDEN[package]:
                if _is_within(module, upper):
                    problems.append(f"{relative}:{line} imports {module} ({package}/ must not import {upper}/)")
            if _is_within(module, GENERATOR) and not in_generator:
                problems.append(f"{relative}:{line} imports {module} (only orchestration/ and tools use the generator)")
    return sorted(set(problems))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_package_imports_the_layers_above_it(package):
    assert upward_imports(package) == []


def test_the_checker_sees_lazy_and_from_imports(tmp_path):
    module = tmp_path / "module.py"
    module.write_text(
        "import os\nfrom orchestration.runner import run_pipeline\n\n\ndef f():\n    import assets.owners\n",
        encoding="utf-8",
    )
    assert imported_modules(module) == [
        (1, "os"),
        (2, "orchestration.runner"),
        (2, "orchestration.runner.run_pipeline"),
        (6, "assets.owners"),
    ]


def test_the_checker_names_an_upward_import_and_a_generator_import(tmp_path):
    (tmp_path / "quality").mkdir()
    (tmp_path / "quality" / "checks.py").write_text(
        "import dagster\n\n\ndef f():\n    from assets.owners import owners\n    import retention.generator.personas\n",
        encoding="utf-8",
    )
    assert upward_imports("quality", root=tmp_path) == [
        "quality/checks.py:5 imports assets.owners (quality/ must not import assets/)",
        "quality/checks.py:5 imports assets.owners.owners (quality/ must not import assets/)",
        "quality/checks.py:6 imports retention.generator.personas (only orchestration/ and tools use the generator)",
    ]
