from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_tumorcls.data.datalist import class_counts, limit_per_class, stratified_split
from monai_tumorcls.data.datasets.kaggle import (
    BINARY_CLASSES,
    KAGGLE_CLASSES,
    build_kaggle_datalists,
    has_shortcut_size,
    label_items,
)


def _write(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), value, np.uint8)).save(path, format="PNG")


@pytest.fixture()
def tree(tmp_path) -> Path:
    """Training: 10 images per class (two byte-identical pairs in glioma); Testing: 3 per class, one copied from Training."""
    v = 0
    for split, n in (("Training", 10), ("Testing", 3)):
        for cls in KAGGLE_CLASSES:
            for i in range(n):
                v += 1
                _write(tmp_path / split / cls / f"{split[:2]}-{cls}_{i:04d}.jpg", v % 256)
    # duplicates inside Training (same bytes) and a Testing file equal to a Training file
    (tmp_path / "Training/glioma/Tr-glioma_0001.jpg").write_bytes((tmp_path / "Training/glioma/Tr-glioma_0000.jpg").read_bytes())
    (tmp_path / "Testing/notumor/Te-notumor_0000.jpg").write_bytes((tmp_path / "Training/notumor/Tr-notumor_0003.jpg").read_bytes())
    (tmp_path / "Training/notumor/readme.txt").write_text("not an image")
    return tmp_path


def test_binary_datalists(tree):
    d = build_kaggle_datalists(tree, task="binary", val_fraction=0.2, seed=1)
    assert len(d["training"]) + len(d["validation"]) == 40
    assert len(d["testing"]) == 12
    assert {it["label"] for it in d["training"]} == {0, 1}
    for it in d["training"] + d["testing"]:
        assert it["label"] == int(it["class_name"] != "notumor")
        assert Path(it["image"]).is_absolute()
    dups = [it for it in d["testing"] if it["duplicate_in_training"]]
    assert [Path(it["image"]).name for it in dups] == ["Te-notumor_0000.jpg"]
    assert BINARY_CLASSES[1] == "tumor"


def test_split_is_stratified_seeded_and_duplicate_safe(tree):
    d1 = build_kaggle_datalists(tree, task="4class", val_fraction=0.2, seed=3)
    d2 = build_kaggle_datalists(tree, task="4class", val_fraction=0.2, seed=3)
    d3 = build_kaggle_datalists(tree, task="4class", val_fraction=0.2, seed=4)
    names = lambda d: [it["image"] for it in d["validation"]]  # noqa: E731
    assert names(d1) == names(d2)
    assert names(d1) != names(d3)
    assert class_counts(d1["validation"]) == {c: 2 for c in KAGGLE_CLASSES}
    train_hashes = {it["sha256"] for it in d1["training"]}
    assert not any(it["sha256"] in train_hashes for it in d1["validation"])
    assert {it["label"] for it in d1["training"]} == {0, 1, 2, 3}


def test_limit_per_class_and_errors(tree, tmp_path):
    d = build_kaggle_datalists(tree, task="4class", val_fraction=0.0, max_per_class=4, max_per_class_test=1)
    assert class_counts(d["training"]) == {c: 4 for c in KAGGLE_CLASSES}
    assert class_counts(d["testing"]) == {c: 1 for c in KAGGLE_CLASSES}
    with pytest.raises(ValueError, match="task"):
        label_items([{"image": "x", "class_name": "glioma"}], task="3class")
    with pytest.raises(FileNotFoundError, match="dataset root"):
        build_kaggle_datalists(tmp_path / "nowhere")
    (tree / "Training" / "pituitary").rename(tree / "Training" / "pit")
    with pytest.raises(FileNotFoundError, match="pituitary"):
        build_kaggle_datalists(tree)


def test_stratified_split_fraction():
    items = [{"class_name": c, "sha256": f"{c}{i}"} for c in "ab" for i in range(20)]
    train, val = stratified_split(items, 0.15, seed=0)
    assert len(val) == 6 and len(train) == 34
    assert limit_per_class(items, None) == items
    with pytest.raises(ValueError):
        stratified_split(items, 1.0)


def test_real_kaggle_datalists(kaggle_root):
    d = build_kaggle_datalists(kaggle_root, task="binary", val_fraction=0.15, seed=0)
    assert len(d["training"]) + len(d["validation"]) == 5712
    assert len(d["testing"]) == 1311
    assert sum(it["duplicate_in_training"] for it in d["testing"]) == 103
    assert class_counts(d["testing"], "label") == {0: 405, 1: 906}
    other_sizes = [it for it in d["testing"] if not it["size_512x512"]]  # docs/kaggle_size_shortcut.md's table
    assert class_counts(other_sizes, "label") == {0: 402, 1: 122}


def test_has_shortcut_size_reads_the_header_and_is_false_for_unreadable_files(tmp_path):
    for name, shape in (("square.png", (512, 512)), ("wide.png", (256, 512)), ("small.jpg", (256, 256))):
        Image.fromarray(np.zeros(shape, np.uint8)).save(tmp_path / name)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    found = {name: has_shortcut_size(tmp_path / name) for name in ("square.png", "wide.png", "small.jpg", "broken.png")}
    assert found == {"square.png": True, "wide.png": False, "small.jpg": False, "broken.png": False}


def test_folder_datalist_accounts_for_links_loops_and_unreadable_folders(tmp_path, monkeypatch):
    import os

    import torch

    from monai_tumorcls.data import FailSafeDataset, image_folder_datalist

    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / ".hidden.png").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.jpg").write_bytes(b"x")
    os.symlink(tmp_path / "gone.png", tmp_path / "dangling.png")
    os.symlink(tmp_path, tmp_path / "sub" / "loop")  # a link to a folder above: would loop if followed
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "c.png").write_bytes(b"x")
    scandir = os.scandir

    def deny_locked(path="."):  # as an unprivileged user would meet it (CI runs as root, which reads any folder)
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", deny_locked)
    items = {os.path.relpath(it["image"], tmp_path): it.get("problem", "") for it in image_folder_datalist(tmp_path)}
    monkeypatch.undo()
    assert items["a.png"] == "" and items["sub/b.jpg"] == ""
    assert items["dangling.png"] == "dangling or looping symbolic link"
    assert items["sub/loop"] == "symbolic link to a folder, not followed"
    assert items["locked"].startswith("folder cannot be listed") and "locked/c.png" not in items
    assert ".hidden.png" not in items
    rows = FailSafeDataset([{"image": str(tmp_path / "dangling.png"), "problem": "dangling or looping symbolic link"}],
                           transform=lambda d: {**d, "image": torch.zeros(1)}, fallback_shape=(3, 4, 4))
    assert rows[0]["error"] == f"{tmp_path / 'dangling.png'}: dangling or looping symbolic link"
