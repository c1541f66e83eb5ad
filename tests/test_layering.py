"""The layers the architecture promises: the book, features and state read the shared vocabulary
(``marketdata/``) and never import the ingestion edge, so any venue can feed them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONSUMERS = ("marketdata", "orderbook", "features", "state")
EDGES = ("data_ingestion", "api", "local_exchange")


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", CONSUMERS)
def test_consumers_do_not_import_the_ingestion_edge(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no modules under {package}/"
    offending = {str(f.relative_to(ROOT)): sorted(m for m in imported_modules(f)
                                                  if m.partition(".")[0] in EDGES)
                 for f in files}
    assert {f: m for f, m in offending.items() if m} == {}
