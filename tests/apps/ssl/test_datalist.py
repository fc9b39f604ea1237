"""The unlabelled datalist reads Training only: on synthetic trees (fast) and on the real dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_tumorcls.data import KAGGLE_CLASSES
from monai_tumorcls.apps.ssl import assert_training_only, unlabelled_datalist


def _tree(root: Path, per_class: int = 5) -> Path:
    for split in ("Training", "Testing"):
        for c, name in enumerate(KAGGLE_CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                px = np.full((8, 8), 10 * c + i + (100 if split == "Testing" else 0), np.uint8)
                Image.fromarray(px).save(folder / f"{i}.png")
    return root


def test_synthetic_tree_training_only_and_validation_held_out(tmp_path):
    root = _tree(tmp_path)
    all_items = unlabelled_datalist(root, exclude_validation=False)
    assert len(all_items) == 20 and all("/Training/" in it["image"] for it in all_items)
    assert set(all_items[0]) == {"image"}  # unlabelled
    held = unlabelled_datalist(root, val_fraction=0.2)
    assert len(held) == 16  # one of five per class held out
    sub = unlabelled_datalist(root, max_images=6, seed=1)
    assert len(sub) == 6 and sub == unlabelled_datalist(root, max_images=6, seed=1)


def test_assert_training_only_refuses_testing_and_escapes(tmp_path):
    root = _tree(tmp_path, per_class=1)
    good = [{"image": str(root / "Training" / "glioma" / "0.png")}]
    assert_training_only(good, root)
    with pytest.raises(ValueError, match="Testing"):
        assert_training_only([{"image": str(root / "Testing" / "glioma" / "0.png")}], root)
    with pytest.raises(ValueError):  # '..' out of Training into Testing
        assert_training_only([{"image": str(root / "Training" / ".." / "Testing" / "glioma" / "0.png")}], root)
    link = root / "Training" / "glioma" / "link.png"
    link.symlink_to(root / "Testing" / "glioma" / "0.png")
    with pytest.raises(ValueError):  # a link in Training that points into Testing
        assert_training_only([{"image": str(link)}], root)
    with pytest.raises(ValueError):
        assert_training_only(good, root, train_dir="Testing")


@pytest.mark.integration
def test_real_datalist_has_no_testing_image(kaggle_root):
    items = unlabelled_datalist(kaggle_root)
    testing = {str(p.resolve()) for p in (kaggle_root / "Testing").rglob("*") if p.is_file()}
    assert items and not testing & {it["image"] for it in items}
    assert all(Path(it["image"]).resolve().is_relative_to((kaggle_root / "Training").resolve()) for it in items)
    n_training = sum(1 for p in (kaggle_root / "Training").rglob("*.jpg"))
    assert len(items) < n_training  # the classification bundles' validation split is held out
    assert len(unlabelled_datalist(kaggle_root, exclude_validation=False)) == n_training
