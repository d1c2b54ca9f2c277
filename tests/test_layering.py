"""The engine never imports connectors (DESIGN §7), checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_engine_never_imports_connectors() -> None:
    offenders = {p.name: m for p in (REPO / "engine").rglob("*.py")
                 for m in imported_modules(p) if m.split(".")[0] == "connectors"}
    assert offenders == {}


def test_only_beans_imports_beancount_in_the_engine() -> None:
    users = {p.name for p in (REPO / "engine").rglob("*.py")
             if any(m.split(".")[0] in ("beancount", "beanquery") for m in imported_modules(p))}
    assert users == {"beans.py"}


def test_only_the_console_script_imports_the_service() -> None:
    users = {p.relative_to(REPO).as_posix() for folder in ("engine", "connectors") for p in (REPO / folder).rglob("*.py")
             if any(m.split(".")[0] == "service" for m in imported_modules(p))}
    assert users == {"connectors/cli.py"}
