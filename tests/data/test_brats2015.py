"""BraTS-2015-derived datalists: seeded balanced selection, exact test counts, near-copies never split apart.
Units on a synthetic folder of the same layout; integration on the shared data set."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from monai_tumorcls.data import build_brats2015_datalists, near_duplicate_groups, scan_brats2015, thumbnail_rms


def _write_set(root, n_per_class: int = 12, copies: int = 3):
    """``n_per_class`` distinct images per class; the first ``copies`` of each class get a slightly noisy near-copy."""
    rng = np.random.default_rng(0)
    folder = root / "Brain Tumor" / "Brain Tumor"
    folder.mkdir(parents=True)
    rows, k = [], 0
    for label in (0, 1):
        for i in range(n_per_class):
            img = (rng.random((8, 8)) * 255).repeat(30, 0).repeat(30, 1)  # distinct coarse patterns, 240x240
            versions = [img] + ([np.clip(img + rng.normal(0, 2, img.shape), 0, 255)] if i < copies else [])
            for v in versions:
                k += 1
                Image.fromarray(v.astype(np.uint8)).convert("RGB").save(folder / f"Image{k}.jpg", quality=95)
                rows.append({"Image": f"Image{k}", "Class": label, "Mean": 0.0})
    with open(root / "Brain Tumor.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["Image", "Class", "Mean"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def _groups_of(split):
    return {it["group"] for it in split}


def test_near_copies_share_a_group_and_distinct_images_do_not(tmp_path):
    _write_set(tmp_path, n_per_class=5, copies=2)
    items = scan_brats2015(tmp_path)
    assert [it["class_name"] for it in items] == ["notumor"] * 7 + ["tumor"] * 7
    groups = near_duplicate_groups([it["image"] for it in items])
    assert groups[0] == groups[1] and groups[2] == groups[3]  # image and its noisy copy
    assert len(set(groups)) == 10


def test_balanced_seeded_selection_and_group_aware_splits(tmp_path):
    _write_set(tmp_path)
    lists = build_brats2015_datalists(tmp_path, val_fraction=0.25, seed=1, per_class=10, test_per_class=2)
    counts = {k: [sum(it["label"] == c for it in v) for c in (0, 1)] for k, v in lists.items()}
    assert counts["testing"] == [2, 2]
    assert [a + b for a, b in zip(counts["training"], counts["validation"])] == [8, 8]
    assert counts["validation"] == [2, 2]
    train, val, test = (_groups_of(lists[k]) for k in ("training", "validation", "testing"))
    assert not (train & val) and not (train & test) and not (val & test)
    assert lists == build_brats2015_datalists(tmp_path, val_fraction=0.25, seed=1, per_class=10, test_per_class=2)
    other = build_brats2015_datalists(tmp_path, val_fraction=0.25, seed=2, per_class=10, test_per_class=2)
    assert {it["image"] for it in other["testing"]} != {it["image"] for it in lists["testing"]}
    assert not any(it["duplicate_in_training"] for it in lists["testing"])


def test_missing_image_or_table_fails_with_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="Brain Tumor.csv"):
        scan_brats2015(tmp_path)
    _write_set(tmp_path, n_per_class=2, copies=0)
    (tmp_path / "Brain Tumor" / "Brain Tumor" / "Image3.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="Image3.jpg"):
        scan_brats2015(tmp_path)


@pytest.mark.integration
def test_shared_set_selection_is_balanced_and_free_of_near_copies_across_splits(data_root):
    root = data_root / "brain-tumor-brats2015"
    if not (root / "Brain Tumor.csv").is_file():
        pytest.fail(f"integration data missing: {root}")
    lists = build_brats2015_datalists(root)
    counts = {k: [sum(it["label"] == c for it in v) for c in (0, 1)] for k, v in lists.items()}
    assert counts == {"training": [1275, 1275], "validation": [225, 225], "testing": [30, 30]}
    held_out = lists["validation"] + lists["testing"]
    assert not {it["sha256"] for it in lists["training"]} & {it["sha256"] for it in held_out}  # no byte copies
    # independent of the grouping: every held-out thumbnail is farther than the threshold from every training one
    thumbs = {k: np.stack([np.asarray(Image.open(it["image"]).convert("L").resize((32, 32), Image.BOX), np.float32).ravel()
                           for it in v]) for k, v in (("training", lists["training"]), ("held_out", held_out))}
    a, b = thumbs["training"], thumbs["held_out"]
    rms = np.sqrt(np.maximum((a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2 * a @ b.T, 0) / a.shape[1])
    assert rms.min() > 4.0, rms.min()


def test_thumbnail_rms_against_others_is_the_block_of_the_full_matrix(tmp_path):
    _write_set(tmp_path, n_per_class=3, copies=1)
    paths = [it["image"] for it in scan_brats2015(tmp_path)]
    full = thumbnail_rms(paths)
    np.testing.assert_allclose(thumbnail_rms(paths[:3], others=paths[3:]), full[:3, 3:], atol=1e-3)
    assert thumbnail_rms(paths[:2], others=paths[:1]).shape == (2, 1)
