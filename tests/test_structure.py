"""Dependencies point down: ``monai_tumorcls.data`` never imports ``monai_tumorcls.inference``; the checkpoint
contract (``monai_tumorcls.checkpoint``) sits below the handlers, networks, export and bundle layers; the generic
layers never import a task stack (``apps``, ``app``, ``bundle``, ``inference``, ``sweep``, ``export``), which may
import them (as ``monai.apps``); the readers never import the dataset-specific datalists (``data/datasets``)."""

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
    assert "checkpoint" in _package_imports("networks")["networks/weight_files.py"]  # the check reads real imports


def test_handlers_never_import_the_task_stacks():
    above = {"inference", "apps", "app", "bundle", "export", "sweep", "ssl"}
    offenders = {m: sorted(set(n) & above) for m, n in _package_imports("handlers").items()}
    assert not {m: n for m, n in offenders.items() if n}
    assert "utils" in _package_imports("handlers")["handlers/prediction_writer.py"]  # the check reads real imports


GENERIC_LAYERS = ("data", "transforms", "networks", "handlers", "metrics", "checkpoint", "utils", "engines", "visualize")
TASK_STACKS = {"apps", "app", "bundle", "inference", "sweep", "export", "ssl"}  # ssl: the old path of apps/ssl


def test_generic_layers_never_import_a_task_stack():
    offenders = {
        m: sorted(set(n) & TASK_STACKS) for layer in GENERIC_LAYERS for m, n in _package_imports(layer).items()
    }
    assert not {m: n for m, n in offenders.items() if n}
    # the check reads real imports, absolute and relative, and sees a task stack importing a generic layer
    assert {"data", "metrics", "visualize"} <= set(_package_imports("apps")["apps/validation/external.py"])
    assert "networks" in _package_imports("apps")["apps/ssl/networks.py"]
    assert "apps" in _package_imports("apps")["apps/validation/external.py"]  # one task stack using another


def _subpackage_imports(path: Path) -> set[str]:
    """The ``monai_tumorcls`` modules that ``path`` imports, as dotted paths below the package (relative imports
    resolved against ``path``'s own package)."""
    here = path.relative_to(PACKAGE).with_suffix("").parts[:-1]
    found = set()
    for name in _imports(path):
        if name.startswith("."):
            level = len(name) - len(name.lstrip("."))
            base = here[: len(here) - (level - 1)] if level > 1 else here
            found.add(".".join((*base, name.lstrip("."))).strip("."))
        elif name.startswith("monai_tumorcls."):
            found.add(name.removeprefix("monai_tumorcls."))
    return found


def test_readers_never_import_the_datasets():
    offenders = {
        str(f.relative_to(PACKAGE)): sorted(n for n in _subpackage_imports(f) if n.startswith("data.datasets"))
        for f in (PACKAGE / "data" / "readers").rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}
    # the check resolves relative imports: data/readers/dicom_scan.py imports ..datalist, .dicom_series
    scan = _subpackage_imports(PACKAGE / "data" / "readers" / "dicom_scan.py")
    assert {"data.datalist", "data.readers.dicom_series"} <= scan
    assert "data.datasets.kaggle" in _subpackage_imports(PACKAGE / "data" / "datasets" / "lgg.py")


def test_task_stacks_live_under_apps():
    assert (PACKAGE / "apps" / "ssl" / "engine.py").is_file() and (PACKAGE / "apps" / "validation" / "external.py").is_file()
    # the old paths are stubs that forward (moved_names) and hold no code of their own: no class, and every function
    # a deprecated shim that warns (where the arguments changed and a plain alias would swap them silently)
    for old in ("ssl/__init__.py", "inference/external.py", "inference/evaluation.py", "data/lgg.py",
                "data/brats2015.py", "data/multisource.py", "data/dicom_series.py"):
        tree = ast.parse((PACKAGE / old).read_text())
        assert any(isinstance(n, ast.alias) and n.name == "moved_names" for n in ast.walk(tree)), old
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)], old
        for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
            assert "warn" in ast.unparse(fn), f"{old}: {fn.name} does not warn"
