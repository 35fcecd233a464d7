"""The layout rules the code is held to: imports go one way, and no source file grows past 400 lines."""

from __future__ import annotations

import ast
import subprocess

import pytest

from tests.conftest import REPO

# package (or module) -> what it must never import
FORBIDDEN = {
    "tracuu/core": ("indexer", "server", "eval", "tracuu.cli", "tracuu.settings"),
    "tracuu/settings.py": ("indexer", "server", "eval", "tracuu.cli", "tracuu.core"),
    "indexer": ("server", "eval", "tracuu.cli"),
    "server": ("indexer", "eval", "tracuu.cli"),
    "eval": ("tracuu.cli",),
}
MAX_LINES = 400


def tracked_python() -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if (REPO / line).is_file()]


def imported_modules(path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def violations(files: list[str]) -> list[str]:
    out = []
    for name in files:
        rule = next((r for r in FORBIDDEN if name == r or name.startswith(r + "/")), None)
        if rule is None:
            continue
        for module in sorted(imported_modules(REPO / name)):
            for banned in FORBIDDEN[rule]:
                if module == banned or module.startswith(banned + "."):
                    out.append(f"{name} imports {module}")
    return out


def test_imports_go_one_way():
    assert violations(tracked_python()) == []


def test_the_import_check_catches_a_sideways_import(tmp_path, monkeypatch):
    """The rule itself can fail: a server module importing the indexer is reported."""
    bad = tmp_path / "server" / "bad.py"
    bad.parent.mkdir()
    bad.write_text("def f():\n    from indexer.build import build_index\n", encoding="utf-8")
    monkeypatch.setattr("tests.test_layout.REPO", tmp_path)
    assert violations(["server/bad.py"]) == ["server/bad.py imports indexer.build",
                                             "server/bad.py imports indexer.build.build_index"]


@pytest.mark.parametrize("name", tracked_python())
def test_no_source_file_over_400_lines(name):
    lines = len((REPO / name).read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines"


def test_e2e_tests_live_in_e2e_files():
    """The e2e marker comes from the file name (tests/conftest.py); no other file marks tests itself."""
    marked = [name for name in tracked_python() if name.startswith("tests/") and not name.endswith("_e2e.py")
              and "mark.e2e" in (REPO / name).read_text(encoding="utf-8") and name != "tests/conftest.py"
              and name != "tests/test_layout.py"]
    assert marked == []
