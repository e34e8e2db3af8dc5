"""The import rules of DESIGN §3, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "hitloop"

# package -> hitloop packages it must not import
FORBIDDEN = {
    "ml": {"db", "api", "web", "cli", "client", "services", "media", "formats", "jobs"},
    "db": {"api", "web", "cli", "client", "services", "media", "formats", "jobs", "ml"},
    "formats": {"db", "api", "web", "cli", "client", "services"},
    "media": {"db", "api", "web", "cli", "client", "services"},
    "services": {"api", "web", "cli", "client"},
    "client": {"db", "api", "web", "cli", "services", "media", "formats", "jobs", "ml"},
    "jobs": {"api", "web", "cli", "client", "services"},
}
WEB_FRAMEWORKS = {"fastapi", "starlette", "uvicorn", "jinja2"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN), ids=sorted(FORBIDDEN))
def test_package_respects_the_dependency_direction(package: str) -> None:
    root = SRC / package
    if not root.exists():
        pytest.skip(f"hitloop.{package} does not exist yet")
    bad = []
    for path in root.rglob("*.py"):
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "hitloop" and len(parts) > 1 and parts[1] in FORBIDDEN[package]:
                bad.append(f"{path.relative_to(SRC)} imports {name}")
            if (
                package in {"services", "db", "ml", "formats", "media", "client", "jobs"}
                and parts[0] in WEB_FRAMEWORKS
            ):
                bad.append(f"{path.relative_to(SRC)} imports {name}")
    assert bad == []
