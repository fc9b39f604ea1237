"""studies/brats2015_near_duplicates.py: pair counts per distance, and the split check, on synthetic data."""

from __future__ import annotations

import shutil

import numpy as np
from PIL import Image

from monai_tumorcls.data import build_brats2015_datalists, scan_brats2015

from studies import brats2015_near_duplicates as nd
from ..data.test_brats2015 import _write_set



def test_pair_table_counts_pairs_images_classes_and_groups():
    rms = np.array([[0, 0.5, 3, 9],
                    [0.5, 0, 5, 9],
                    [3, 5, 0, 7],
                    [9, 9, 7, 0]], dtype=np.float32)
    labels = np.array([0, 0, 1, 1])
    rows = nd.pair_table(rms, labels, thresholds=(0, 1, 4, 8))
    assert [(r["pairs"], r["images"], r["cross_class"], r["largest_group"]) for r in rows] == [
        (0, 0, 0, 1), (1, 2, 0, 2), (2, 3, 1, 3), (4, 4, 2, 4)]


def test_split_check_and_render_on_a_synthetic_set(tmp_path):
    _write_set(tmp_path)  # 12 distinct images per class, 3 of each class with a noisy near-copy
    lists = build_brats2015_datalists(tmp_path, val_fraction=0.25, seed=1, per_class=10, test_per_class=2)
    check = nd.split_check(lists)
    assert check["shared_sha256"] == 0 and check["min_rms"] > nd.GROUP_RMS  # near-copies stay on one side
    assert {k: dict(v) for k, v in check["counts"].items()} == {
        "training": {"notumor": 6, "tumor": 6}, "validation": {"notumor": 2, "tumor": 2},
        "testing": {"notumor": 2, "tumor": 2}}
    items = scan_brats2015(tmp_path)
    table = nd.pair_table(nd.thumbnail_rms([it["image"] for it in items]), np.array([it["label"] for it in items]))
    assert next(r for r in table if r["t"] == nd.GROUP_RMS)["pairs"] == 6  # the six noisy copies, no more
    text = nd.render(tmp_path, items, table, check, "python -m studies.brats2015_near_duplicates")
    assert "- images: 30 (notumor 15, tumor 15)" in text
    assert "| 4 (grouping threshold) | 6 | 12 | 0 | 2 |" in text
    assert "| validation | 2 | 2 |" in text and "testing file has: 0" in text


def test_pretraining_check_finds_copies_of_held_out_slices_among_the_pretraining_images(tmp_path):
    _write_set(tmp_path / "brats")
    lists = build_brats2015_datalists(tmp_path / "brats", val_fraction=0.25, seed=1, per_class=10, test_per_class=2)
    pretraining = tmp_path / "pretraining"
    pretraining.mkdir()
    shutil.copy(lists["testing"][0]["image"], pretraining / "copy.jpg")  # a byte copy of one test slice
    grey = np.asarray(Image.open(lists["testing"][1]["image"]).convert("L"), dtype=np.float32)
    Image.fromarray(np.clip(grey + 1, 0, 255).astype(np.uint8)).save(pretraining / "brighter.png")  # near copy
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(pretraining / "black.png")
    paths = sorted(str(p) for p in pretraining.iterdir())
    check = nd.pretraining_check(lists, paths)
    assert check["n_pretraining"] == 3
    assert check["splits"]["testing"]["images"] == 4 and check["splits"]["testing"]["shared_sha256"] == 1
    assert check["splits"]["testing"]["within"] == 2 and check["splits"]["testing"]["min_rms"] == 0
    assert check["splits"]["validation"]["shared_sha256"] == 0 and check["splits"]["validation"]["within"] == 0
    text = "\n".join(nd.render_pretraining(check))
    assert "| testing | 4 | 1 | 2 | 0.00 |" in text and "on 3 Kaggle Training images" in text
