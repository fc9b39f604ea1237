"""Dependencies point down: ``monai_tumorcls.data`` never imports ``monai_tumorcls.inference``, and the checkpoint
contract (``monai_tumorcls.checkpoint``) sits below the handlers, networks, export and bundle layers."""

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
        str(f.relative_to(PACKAGE)): sorted(n for n in _imports(f) if "inference" in n or "apps" in n.split("."))
        for f in (PACKAGE / "data").rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}
    assert _imports(PACKAGE / "apps" / "clinical" / "series.py") >= {"...data.slicing"}  # the check reads real imports


def _package_imports(package: str) -> dict[str, list[str]]:
    """``{module: [monai_tumorcls subpackages it imports]}`` for the modules of ``package`` (absolute and relative)."""
    found = {}
    for f in (PACKAGE / package).rglob("*.py"):
        names = []
        for name in _imports(f):
            if name.startswith(".."):
                names.append(name.lstrip(".").split(".")[0])
            elif name.startswith("monai_tumorcls."):
                names.append(name.split(".")[1])
        found[str(f.relative_to(PACKAGE))] = names
    return found


def test_checkpoint_sits_below_handlers_networks_export_and_bundle():
    above = {"handlers", "networks", "export", "bundle", "inference", "app", "engines", "sweep", "ssl"}
    offenders = {m: sorted(set(n) & above) for m, n in _package_imports("checkpoint").items()}
    assert not {m: n for m, n in offenders.items() if n}
    assert "checkpoint" in _package_imports("networks")["networks/pretrained.py"]  # the check reads real imports


def test_handlers_never_import_the_task_stacks():
    above = {"inference", "apps", "app", "bundle", "export", "sweep", "ssl"}
    offenders = {m: sorted(set(n) & above) for m, n in _package_imports("handlers").items()}
    assert not {m: n for m, n in offenders.items() if n}
    assert "utils" in _package_imports("handlers")["handlers/prediction_writer.py"]  # the check reads real imports
