"""Packaging: the wheel carries the bundles, a command copies one anywhere, the README's commands work from a
folder outside the checkout with the installed wheel (including ``--tracking mlflow``). MONAI's verify_metadata on
every metadata.json: ``test_verify_metadata.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monai_tumorcls.bundle import find_bundle_root, packaged
from monai_tumorcls.bundle.packaged import copy_bundle

from ..bundles.helpers import PROJECT_ROOT, check

BUNDLE_NAMES = sorted(p.parent.parent.name for p in (PROJECT_ROOT / "bundles").glob("*/configs/metadata.json"))


def test_a_checkout_ships_its_bundles_folder():
    assert packaged.packaged_bundles_dir() == PROJECT_ROOT / "bundles"
    assert packaged.packaged_bundle_names() == BUNDLE_NAMES


@pytest.fixture
def fake_bundles(tmp_path, monkeypatch) -> Path:
    """An installed package's bundles folder with one bundle that has run outputs in it."""
    root = tmp_path / "site" / "monai_tumorcls" / "_bundles"
    for rel in ("b1/configs/metadata.json", "b1/docs/README.md", "b1/LICENSE", "b1/models/.gitkeep", "b1/recipe.json",
                "b1/models/model.pt", "b1/eval/metrics.json", "b1/runs/events", "b1/outputs/predictions.csv"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    monkeypatch.setattr(packaged, "_PACKAGE_DIR", root.parent)
    return root


def test_copy_bundle_copies_the_bundle_not_its_run_outputs(fake_bundles, tmp_path):
    assert packaged.packaged_bundle_names() == ["b1"]
    dest = copy_bundle("b1", tmp_path / "mine" / "b1")
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == [
        "LICENSE", "configs/metadata.json", "docs/README.md", "models/.gitkeep"]
    with pytest.raises(FileExistsError):
        copy_bundle("b1", dest)
    with pytest.raises(ValueError, match="unknown bundle 'b2'; shipped: b1"):
        copy_bundle("b2", tmp_path / "other")


def test_find_bundle_root_falls_back_to_the_shipped_bundle(fake_bundles, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_bundle_root("b1") == str(fake_bundles / "b1")
    (tmp_path / "bundles" / "b1" / "configs").mkdir(parents=True)  # a copy in the current folder comes first
    assert find_bundle_root("b1") == str((tmp_path / "bundles" / "b1").resolve())
    with pytest.raises(FileNotFoundError, match="monai_tumorcls.bundle copy b2"):
        find_bundle_root("b2")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from this checkout (no network, no build isolation), installed alone into a folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    check(subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(PROJECT_ROOT)],
                         capture_output=True, text=True, timeout=300))
    (wheel,) = (tmp / "dist").glob("monai_tumorcls-*.whl")
    check(subprocess.run(pip + ["install", "--no-deps", "--no-index", "--target", str(tmp / "site"), str(wheel)],
                         capture_output=True, text=True, timeout=300))
    return tmp / "site"


def _run(installed: Path, cwd: Path, data_root: Path, *args: str) -> subprocess.CompletedProcess:
    """``python *args`` in ``cwd`` importing monai_tumorcls from the installed wheel only."""
    env = {**os.environ, "PYTHONPATH": str(installed), "MONAI_DATA_DIRECTORY": str(data_root), "OMP_NUM_THREADS": "2"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_wheel_installs_the_console_commands(installed, tmp_path):
    """``pip install`` writes a script per ``console_scripts`` entry; each runs its tool from any folder."""
    scripts = sorted(p.name for p in (installed / "bin").iterdir())
    assert scripts == ["monai-tumorcls-app", "monai-tumorcls-bundle", "monai-tumorcls-export", "monai-tumorcls-sweep"]
    env = {**os.environ, "PYTHONPATH": str(installed)}
    out = check(subprocess.run([str(installed / "bin" / "monai-tumorcls-bundle"), "list"], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=300)).stdout
    assert out.split() == BUNDLE_NAMES


@pytest.mark.integration
def test_readme_commands_from_any_folder_with_the_installed_wheel(installed, tmp_path, data_root, kaggle_root):
    assert sorted(p.name for p in (installed / "monai_tumorcls" / "_bundles").iterdir()) == BUNDLE_NAMES
    run = lambda *args: check(_run(installed, tmp_path, data_root, *args))  # noqa: E731
    assert run("-c", "import monai_tumorcls; print(monai_tumorcls.__file__)").stdout.startswith(str(installed))
    run("-m", "monai_tumorcls.bundle", "check")  # the wheel has the templates and recipes its configs are built from
    run("-m", "monai_tumorcls.bundle", "copy", "resnet18_binary", "bundles/resnet18_binary")
    cfg = "bundles/resnet18_binary/configs"
    budget = ["--max_per_class", "7", "--max_per_class_test", "1", "--epochs", "1", "--image_size", "32",
              "--batch_size", "8", "--cache_rate", "0", "--num_workers", "0"]
    run("-m", "monai.bundle", "run", "training", "--config_file", f"{cfg}/train.json", *budget, "--tracking", "mlflow")
    assert (tmp_path / "bundles/resnet18_binary/models/model.pt").is_file()
    _check_mlflow_run(tmp_path / "bundles/resnet18_binary/eval/mlruns.db")

    images = tmp_path / "images"
    images.mkdir()
    for cls in ("glioma", "notumor"):
        src = sorted((kaggle_root / "Testing" / cls).iterdir())[0]
        (images / src.name).write_bytes(src.read_bytes())
    run("-m", "monai.bundle", "run", "--config_file", f"{cfg}/inference.json", "--input_dir", "images")
    rows = json.loads((tmp_path / "bundles/resnet18_binary/outputs/predictions.json").read_text())["rows"]
    assert [r["status"] for r in rows] == ["ok", "ok"]


def _check_mlflow_run(db: Path) -> None:
    """The local MLflow store holds one finished run, in the bundle's experiment, with the training loss, validation
    accuracy, the bundle options (overrides included) and the final checkpoint."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    runs = {e.name: client.search_runs([e.experiment_id]) for e in client.search_experiments()}
    assert [name for name, r in runs.items() if r] == ["resnet18_binary"]
    (run,) = runs["resnet18_binary"]
    assert run.info.status == "FINISHED"
    assert {"train_loss", "val_acc"} <= set(run.data.metrics)
    assert {k: run.data.params.get(k) for k in ("epochs", "image_size", "backbone")} == {
        "epochs": "1", "image_size": "32", "backbone": "resnet18"}
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "checkpoint")]
    assert artifacts == ["checkpoint/model.pt", "checkpoint/model.pt.json"]


def test_listing_and_copying_bundles_do_not_import_torch_or_monai(tmp_path):
    """The package imports its subpackages on first use: ``list`` and ``copy`` run without importing torch or MONAI."""
    code = ("import runpy, sys; sys.argv = ['monai-tumorcls-bundle', *sys.argv[1:]]; "
            "runpy.run_module('monai_tumorcls.bundle', run_name='__main__'); "
            "print('heavy:', sorted(m for m in ('torch', 'monai') if m in sys.modules))")
    for args in (["list"], ["copy", BUNDLE_NAMES[0], str(tmp_path / "copy")]):
        out = check(subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True, text=True,
                                   timeout=120)).stdout
        assert out.splitlines()[-1] == "heavy: []", out
    assert (tmp_path / "copy" / "configs" / "metadata.json").is_file()
    import monai_tumorcls

    assert monai_tumorcls.networks.ResNetClassifier.__name__ == "ResNetClassifier"  # first use imports it
    with pytest.raises(AttributeError, match="has no attribute 'nets'"):
        monai_tumorcls.nets
