"""The inference configs' faster network layout (``channels_last``) decides as the plain layout did: same decision,
slice probabilities within 1e-5, on a real NIfTI volume and a real DICOM series, with the bundle's own config."""

from __future__ import annotations

import numpy as np
import pytest

from monai_tumorcls.bundle import load_bundle_config
from tests.bundles.helpers import PROJECT_ROOT, random_weights

PLAIN_LAYOUT = "$@network_def.to(@device)"  # what inference.json built before channels_last


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return random_weights(tmp_path_factory.mktemp("same_results") / "weights.pt", seed=3)


def _classify(path, checkpoint, tmp_path, **overrides):
    parser = load_bundle_config(PROJECT_ROOT / "bundles" / "resnet18_binary", "inference.json", {
        "checkpoint": str(checkpoint), "output_dir": str(tmp_path), "train_overrides": {"image_size": 64},
        **overrides})
    parser.get_parsed_content("initialize")
    (series,) = parser.get_parsed_content("clinical_inferer")().classify_input(path).series
    return series.decision, np.array([[np.nan] * 2 if s.probabilities is None else list(s.probabilities.values())
                                      for s in series.slices], dtype=float)


@pytest.mark.parametrize("study", ["nifti/brats2023-gli/BraTS-GLI-00001-000/BraTS-GLI-00001-000-t1c.nii.gz",
                                   "dicom/ge-epi-brain-small"])
def test_channels_last_gives_the_plain_layouts_results(study, data_root, checkpoint, tmp_path):
    fast_decision, fast = _classify(data_root / study, checkpoint, tmp_path)
    plain_decision, plain = _classify(data_root / study, checkpoint, tmp_path, network=PLAIN_LAYOUT)
    assert fast_decision.label == plain_decision.label
    assert fast_decision.contributing_slices == plain_decision.contributing_slices
    assert abs(fast_decision.tumour_probability - plain_decision.tumour_probability) <= 1e-5
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(plain))
    assert np.nanmax(np.abs(fast - plain)) <= 1e-5
    assert np.isfinite(fast).sum() > 30  # a real volume: many slices classified
