"""Dependencies point down: ``monai_tumorcls.data`` never imports ``monai_tumorcls.inference``."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "monai_tumorcls"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_data_never_imports_inference():
    offenders = {
        str(f.relative_to(PACKAGE)): sorted(n for n in _imports(f) if "inference" in n)
        for f in (PACKAGE / "data").rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}
    assert _imports(PACKAGE / "inference" / "clinical.py") >= {"..data.slicing"}  # the check reads real imports
