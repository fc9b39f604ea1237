"""Exit status 3, "the run could not start", through the user's command (``python -m monai.bundle run``): a missing
or unloadable checkpoint and bad option values end the run before any input is read, with one error line naming
the file or option and the problem; the traceback only with ``--debug true``."""

from __future__ import annotations

import pytest
import torch

from monai_tumorcls.networks import ResNetClassifier
from tests.inference import synthetic_inputs as syn

from .helpers import run_bundle

CFG = "bundles/resnet18_binary/configs/inference.json"


@pytest.fixture(scope="module")
def nifti(tmp_path_factory):
    return syn.write_nifti(tmp_path_factory.mktemp("in") / "t1.nii.gz", "RAS")


def _errors(proc) -> list[str]:
    return [line for line in (proc.stdout + proc.stderr).splitlines() if " - ERROR - " in line]


def _run(tmp_path, nifti, checkpoint, **overrides):
    out = tmp_path / "out"
    proc = run_bundle(CFG, bundle_root=str(tmp_path), checkpoint=str(checkpoint), input_dir=str(nifti),
                      output_dir=str(out), timeout=300, **overrides)
    assert not (out / "clinical.json").exists()  # nothing was classified
    return proc


def test_missing_or_unloadable_checkpoint(tmp_path, nifti):
    missing = tmp_path / "models" / "model.pt"
    proc = _run(tmp_path, nifti, missing)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert [e.split(" - ERROR - ")[1] for e in _errors(proc)] == [
        f"{missing}: checkpoint not found (train the bundle first or pass a checkpoint path)"]
    assert "Traceback" not in proc.stdout + proc.stderr and "Failed to evaluate" not in proc.stdout + proc.stderr
    cut = tmp_path / "cut.pt"  # an interrupted copy
    torch.save({"w": torch.zeros(1000)}, cut)
    cut.write_bytes(cut.read_bytes()[:300])
    proc = _run(tmp_path, nifti, cut, debug="true")
    assert proc.returncode == 3
    (error,) = _errors(proc)
    assert f"{cut}: not a loadable checkpoint" in error
    assert "Traceback" in proc.stderr  # --debug true


def test_bad_option_value_or_missing_input(tmp_path, nifti):
    checkpoint = tmp_path / "model.pt"
    torch.save(ResNetClassifier("resnet18", num_classes=2).state_dict(), checkpoint)
    proc = _run(tmp_path, nifti, checkpoint, **{"clinical#aggregation": "median"})
    assert proc.returncode == 3, proc.stdout + proc.stderr
    (error,) = _errors(proc)
    assert error.endswith("clinical inference options: aggregation must be one of ('max', 'top_k_mean', 'mean'), "
                          "got 'median'")
    assert "Traceback" not in proc.stdout + proc.stderr
    missing = tmp_path / "no_such_folder"
    proc = _run(tmp_path, missing, checkpoint)
    assert proc.returncode == 3 and [e.split(" - ERROR - ")[1] for e in _errors(proc)] == [f"{missing}: input not found"]


@pytest.mark.integration
def test_bad_value_that_makes_monai_fail_to_build_a_component(tmp_path, kaggle_root):
    images = tmp_path / "images"
    images.mkdir()
    src = sorted((kaggle_root / "Testing" / "glioma").iterdir())[0]
    (images / src.name).write_bytes(src.read_bytes())
    checkpoint = tmp_path / "model.pt"
    torch.save(ResNetClassifier("resnet18", num_classes=2).state_dict(), checkpoint)
    proc = run_bundle(CFG, bundle_root=str(tmp_path), checkpoint=str(checkpoint), input_dir=str(images),
                      output_dir=str(tmp_path / "out"), batch_size=0, timeout=300)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    (error,) = _errors(proc)
    assert "the run could not start: ValueError: batch_size should be a positive integer value" in error
    assert "DataLoader" in error  # the config item it came from
    assert "Traceback" not in proc.stdout + proc.stderr and not (tmp_path / "out" / "predictions.json").exists()
    proc = run_bundle(CFG, bundle_root=str(tmp_path), checkpoint=str(checkpoint), input_dir=str(images),
                      output_dir=str(tmp_path / "out"), batch_size=0, debug="true", timeout=300)
    assert proc.returncode != 0 and "Traceback" in proc.stderr  # --debug true: Python's own report
