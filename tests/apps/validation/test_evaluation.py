"""Tumour-slice vs tumour-free-slice AUC helper, with synthetic probabilities."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from monai_tumorcls.apps.validation import load_slice_labels, slice_labels_from_volume, tumour_slice_auc
from monai_tumorcls.metrics import roc_auc_binary
from tests.inference import synthetic_inputs as syn


def _pairwise_auc(scores, labels):
    pos = [s for s, lab in zip(scores, labels) if lab]
    neg = [s for s, lab in zip(scores, labels) if not lab]
    return np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg)])


def test_roc_auc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    for _ in range(20):
        scores = rng.integers(0, 5, 30).astype(float)  # many ties
        labels = rng.random(30) < 0.4
        assert roc_auc_binary(labels, scores) == pytest.approx(_pairwise_auc(scores, labels))
    assert roc_auc_binary([True, True], [0.1, 0.2]) is None


def test_perfect_reversed_and_uninformative():
    labels = np.array([0, 0, 1, 1, 1, 0], bool)
    assert tumour_slice_auc(np.where(labels, 0.9, 0.1), labels).auc == 1.0
    assert tumour_slice_auc(np.where(labels, 0.1, 0.9), labels).auc == 0.0
    assert tumour_slice_auc(np.full(6, 0.5), labels).auc == 0.5
    assert tumour_slice_auc(np.full(6, 0.5), np.ones(6, bool)).auc is None  # no tumour-free slice: undefined


def test_label_volume_min_voxels_margin_and_missing_probabilities():
    lab = np.zeros((8, 8, 10), np.uint8)
    lab[2:4, 2:4, 4:7] = 1  # 4 voxels per slice on slices 4..6
    lab[0, 0, 8] = 2  # one voxel on slice 8
    assert slice_labels_from_volume(lab).tolist() == [False] * 4 + [True] * 3 + [False, True, False]
    assert slice_labels_from_volume(lab, min_voxels=2).sum() == 3
    probs = [None, 0.1, 0.2, 0.6, 0.8, 0.9, 0.7, 0.3, 0.2, 0.1]  # slice 3 borders the tumour
    r = tumour_slice_auc(probs, lab, min_voxels=2)
    # slice 8 has tumour below min_voxels: an edge slice, left out (never counted as tumour-free)
    assert r.n_tumour_slices == 3 and r.n_tumour_free_slices == 5 and r.n_ignored == 2
    assert r.auc == 1.0
    r = tumour_slice_auc(probs, lab, min_voxels=2, ignore_margin=1)  # + slices 3, 7 and 9 next to tumour voxels
    assert r.n_ignored == 5 and r.auc == 1.0
    with pytest.raises(ValueError):
        tumour_slice_auc([0.1, 0.2], lab)


def test_load_slice_labels_uses_the_reader_orientation(tmp_path):
    lab = (syn.phantom() == syn.MARKER).astype(np.uint8)  # LPS index space: slices iz >= 23
    img = syn.nifti_image("permuted")
    import nibabel as nib

    data = (np.asarray(img.dataobj) == syn.MARKER).astype(np.uint8)
    nib.save(nib.Nifti1Image(data, img.affine), str(tmp_path / "lab.nii.gz"))
    flags = load_slice_labels(tmp_path / "lab.nii.gz", plane="axial")
    assert flags.tolist() == lab.any(axis=(0, 1)).tolist()
