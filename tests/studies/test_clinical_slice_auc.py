"""The position control of the slice-ranking benchmark: a labelled tumour filled in from its surroundings."""

from __future__ import annotations

import nibabel as nib
import numpy as np

from studies import clinical_slice_auc as clinical_slice_auc_module


def test_tumour_filled_volume_replaces_only_the_tumour_with_its_surroundings(tmp_path):
    rng = np.random.default_rng(0)
    data = (100 + 5 * rng.standard_normal((32, 32, 12))).astype(np.int16)
    lab = np.zeros(data.shape, np.uint8)
    lab[12:18, 12:18, 4:8] = 1
    data[lab > 0] = 400  # bright "tumour"
    affine = np.diag([0.9, 0.9, 5.0, 1.0])
    image = nib.Nifti1Image(data, affine)
    image.header.set_slope_inter(2.0, 10.0)  # stored values are scaled: the copy must hold the scaled intensities
    nib.save(image, tmp_path / "img.nii.gz")
    nib.save(nib.Nifti1Image(lab, affine), tmp_path / "lab.nii.gz")

    out = clinical_slice_auc_module.tumour_filled_volume(
        tmp_path / "img.nii.gz", tmp_path / "lab.nii.gz", tmp_path / "filled.nii.gz", dilate=1)
    filled = nib.load(out)
    original = nib.load(tmp_path / "img.nii.gz").get_fdata()
    got = filled.get_fdata()
    np.testing.assert_allclose(filled.affine, affine)
    assert got.shape == data.shape
    far = np.ones(data.shape, bool)
    far[11:19, 11:19, 3:9] = False  # outside the tumour dilated by one voxel: untouched
    np.testing.assert_allclose(got[far], original[far], rtol=1e-5)
    assert abs(got[lab > 0].mean() - original[far].mean()) < 10  # filled with the surroundings (~210), not 810
    assert original[lab > 0].mean() > 800


def test_a_recipe_variant_is_scored_with_its_overrides_into_its_own_section(tmp_path, data_root, monkeypatch):
    """``--train-overrides`` reach the bundle's inference (the variant's preprocessing), and ``--section`` writes the
    variant's own section, keeping the bundle's."""
    import json

    from studies import clinical_slice_auc as bench

    seen = []

    def recorded_scoring(bundle, bundle_root, data_root, output_dir, checkpoint=None, volumes=None, **overrides):
        seen.append(overrides)
        return [{"volume": v.image, "group": v.group, "label": v.label, "what": v.description, "auc": 0.75,
                 "position_auc": 0.9, "tumour_slices": 5, "tumour_free_slices": 9, "ignored": 1,
                 "series_tumour_probability": 0.6, "occlusion_drop": 0.1, "class_aucs": {"notumor": 0.25, "tumor": 0.75}}
                for v in bench.labelled_volumes()]

    monkeypatch.setattr(bench, "slice_aucs", recorded_scoring)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "model.pt").write_bytes(b"scored by the recorded scoring only")
    out = tmp_path / "page.md"
    out.write_text(f"{bench.TITLE}\n\n{bench.INTRO}\n\n## resnet18_lesion\n\nthe bundle's own section\n")
    variant = {"prepare#2#_target_": "monai_tumorcls.transforms.HeadMaskNormalized"}
    bench.main(["--bundle", "resnet18_lesion", "--bundle-root", str(tmp_path), "--out", str(out),
                "--train-overrides", json.dumps(variant), "--section", "resnet18_lesion, head mask"])
    assert seen == [{"train_overrides": variant}]
    text = out.read_text()
    assert "\n## resnet18_lesion\n\nthe bundle's own section\n" in text and "\n## resnet18_lesion, head mask\n" in text


def test_train_overrides_with_adapt_is_refused_before_any_work(capsys):
    import pytest

    from studies import clinical_slice_auc as bench

    with pytest.raises(SystemExit) as stop:
        bench.main(["--bundle", "resnet18_lesion", "--adapt", "--train-overrides", '{"image_size": 64}'])
    assert stop.value.code == 2
    assert "--train-overrides scores the given model only; it cannot be combined with --adapt" in capsys.readouterr().err
