"""Integration: the six LGG patients of the shared data (layout, slice labels, patient splits)."""

from __future__ import annotations

import pytest

from monai_tumorcls.data import LGG_DIRNAME, LggSlices, build_multisource_datalists, lgg_slice_items, scan_lgg_folder

# from ../shared/data/lgg-mri-segmentation/PROVENANCE.md: slices and 1-based tumour slice range per patient
PATIENTS = {
    "TCGA_HT_7680_19970202": (21, 5, 7),
    "TCGA_CS_4944_20010208": (20, 6, 14),
    "TCGA_CS_4942_19970222": (20, 9, 14),
    "TCGA_DU_A5TU_19980312": (23, 11, 21),
    "TCGA_CS_4943_20000902": (20, 12, 19),
    "TCGA_HT_7692_19960724": (20, 15, 20),
}


@pytest.fixture(scope="module")
def lgg_root(data_root):
    root = data_root / LGG_DIRNAME
    if not root.is_dir():
        pytest.fail(f"integration data missing: {root}")
    return root


def test_shared_patients_match_their_provenance(lgg_root):
    slices = scan_lgg_folder(lgg_root)
    assert {s["group"] for s in slices} == set(PATIENTS)
    for patient, (n, first, last) in PATIENTS.items():
        mine = [s for s in slices if s["group"] == patient]
        assert len(mine) == n and {s["n_slices"] for s in mine} == {n}
        with_mask = [s["slice_index"] + 1 for s in mine if s["tumour_area"] > 0]
        assert min(with_mask) == first and max(with_mask) == last, (patient, with_mask)


def test_labels_follow_the_masks_and_edges_are_left_out(lgg_root):
    slices = scan_lgg_folder(lgg_root)
    items = lgg_slice_items(slices, sequences=["flair"], min_area=64, margin=1)
    area = {(s["group"], s["slice_index"]): s["tumour_area"] for s in slices}
    for it in items:
        a = area[(it["group"], it["slice_index"])]
        assert (it["label"] == 1) == (a >= 64)
        if it["label"] == 0:  # tumour-free slices are at least 2 slices from any mask pixel
            assert all(area.get((it["group"], it["slice_index"] + d), 0) == 0 for d in (-1, 0, 1))
    assert len(items) < len(slices) and sum(it["label"] for it in items) > 20


def test_multisource_folds_never_share_a_person(data_root):
    for fold in range(5):
        lists = build_multisource_datalists(data_root, fold=fold, max_per_class=4)
        lgg = {k: {it["group"] for it in v} for k, v in lists["lgg"].items()}
        ixi = {k: {v.group for v in vs} for k, vs in lists["ixi"].items()}
        for groups in (lgg, ixi):
            assert not groups["testing"] & (groups["training"] | groups["validation"])
            assert not groups["training"] & groups["validation"]
        assert lgg["testing"] and len(ixi["testing"]) == 4
        assert {it["source"] for it in lists["kaggle"]["training"]} == {"kaggle"}


def test_multisource_takes_the_old_lgg_keywords_for_one_release(data_root):
    grouped = build_multisource_datalists(data_root, max_per_class=2, lgg=LggSlices(["flair"], 32, 2, max_patients=3))
    with pytest.warns(FutureWarning, match=r"LggSlices\(sequences=\.\.\., min_area=\.\.\., margin=\.\.\., max_patients"):
        loose = build_multisource_datalists(data_root, max_per_class=2, lgg_sequences=["flair"], lgg_min_area=32,
                                            lgg_margin=2, max_patients=3)
    assert loose["lgg"] == grouped["lgg"] and {it["sequence"] for it in grouped["lgg"]["training"]} == {"flair"}
    assert len({it["group"] for split in grouped["lgg"].values() for it in split}) == 3
