"""LGG layout reader, slice-label rule and patient splits, on synthetic TIFF slices + masks built here."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tifffile

from monai_tumorcls.data import (
    LGG_SEQUENCES,
    flags_from_areas,
    lgg_fold_datalists,
    lgg_patient_site,
    lgg_slice_items,
    patient_folds,
    scan_lgg_folder,
)


def write_patient(root: Path, patient: str, areas: list[int]) -> Path:
    """One patient folder: slice n's channels are (n, 100 + n, 200 + n); its mask has ``areas[n-1]`` pixels."""
    folder = root / patient
    folder.mkdir(parents=True)
    for n, area in enumerate(areas, start=1):
        img = np.stack([np.full((16, 16), n + 100 * c, np.uint8) for c in range(3)], axis=-1)
        tifffile.imwrite(folder / f"{patient}_{n}.tif", img)
        mask = np.zeros(256, np.uint8)
        mask[:area] = 255
        tifffile.imwrite(folder / f"{patient}_{n}_mask.tif", mask.reshape(16, 16))
    return folder


AREAS = [0, 0, 10, 100, 200, 0, 0, 0]  # slice 3: tumour tip (< 64 px); 4-5 tumour; 2 and 6: next to the edge


def test_flags_rule_tumour_edge_and_free():
    assert flags_from_areas(AREAS, min_voxels=64, margin=1).tolist() == [0, -1, -1, 1, 1, -1, 0, 0]
    assert flags_from_areas(AREAS, min_voxels=64, margin=0).tolist() == [0, 0, -1, 1, 1, 0, 0, 0]
    assert flags_from_areas(AREAS, min_voxels=1, margin=0).tolist() == [0, 0, 1, 1, 1, 0, 0, 0]
    assert flags_from_areas([0, 0, 0], 64, 2).tolist() == [0, 0, 0]


def test_scan_reads_layout_in_slice_order(tmp_path):
    write_patient(tmp_path, "TCGA_CS_4941_19960909", AREAS + [0, 0, 0])  # 11 slices: numbers 10, 11 sort after 9
    slices = scan_lgg_folder(tmp_path)
    assert [s["slice_index"] for s in slices] == list(range(11))
    assert Path(slices[9]["image"]).name == "TCGA_CS_4941_19960909_10.tif"
    assert [s["tumour_area"] for s in slices] == AREAS + [0, 0, 0]
    assert {s["site"] for s in slices} == {"CS"} and {s["n_slices"] for s in slices} == {11}
    assert lgg_patient_site("TCGA_HT_A61A_20000127") == "HT"


def test_items_one_per_slice_and_sequence_with_labels(tmp_path):
    write_patient(tmp_path, "TCGA_DU_7010_19860307", AREAS)
    items = lgg_slice_items(scan_lgg_folder(tmp_path), min_area=64, margin=1)
    assert len(items) == 5 * 3  # 8 slices, 3 edge slices left out, 3 sequences
    by_slice = {(it["slice_index"], it["sequence"]): it for it in items}
    assert by_slice[(3, "flair")]["label"] == 1 and by_slice[(3, "flair")]["class_name"] == "tumor"
    assert by_slice[(0, "flair")]["label"] == 0 and by_slice[(0, "flair")]["class_name"] == "notumor"
    assert {it["channel"] for it in items if it["sequence"] == "flair"} == {LGG_SEQUENCES["flair"]} == {1}
    flair_only = lgg_slice_items(scan_lgg_folder(tmp_path), sequences=["flair"])
    assert len(flair_only) == 5
    with pytest.raises(ValueError, match="unknown LGG sequences"):
        lgg_slice_items(scan_lgg_folder(tmp_path), sequences=["t2"])


def test_scan_errors_name_the_file(tmp_path):
    folder = write_patient(tmp_path / "a", "TCGA_CS_4941_19960909", [0, 100, 0])
    (folder / "TCGA_CS_4941_19960909_2_mask.tif").unlink()
    with pytest.raises(FileNotFoundError, match="TCGA_CS_4941_19960909_2_mask.tif"):
        scan_lgg_folder(tmp_path / "a")
    folder = write_patient(tmp_path / "b", "TCGA_CS_4941_19960909", [0, 100, 0])
    (folder / "TCGA_CS_4941_19960909_2.tif").unlink()
    with pytest.raises(ValueError, match="not 1..2"):
        scan_lgg_folder(tmp_path / "b")
    (tmp_path / "c" / "patient1").mkdir(parents=True)
    with pytest.raises(ValueError, match="patient1: not an LGG patient folder"):
        scan_lgg_folder(tmp_path / "c")
    folder = write_patient(tmp_path / "d", "TCGA_CS_4941_19960909", [0])
    (folder / "TCGA_CS_4941_19960909_1_mask.tif").write_bytes(b"not a tiff")
    with pytest.raises(ValueError, match="TCGA_CS_4941_19960909_1_mask.tif.*unreadable mask"):
        scan_lgg_folder(tmp_path / "d")
    with pytest.raises(FileNotFoundError, match="LGG folder not found"):
        scan_lgg_folder(tmp_path / "missing")


def _items(n_per_site: dict[str, int], slices: int = 4) -> list[dict]:
    return [{"group": f"TCGA_{site}_{i:04d}_20000101", "site": site, "slice_index": k, "label": k % 2}
            for site, n in n_per_site.items() for i in range(n) for k in range(slices)]


def test_patient_folds_are_site_stratified_balanced_and_seeded():
    groups = [(f"{s}{i}", s) for s, n in {"CS": 16, "DU": 45, "EZ": 1, "FG": 14, "HT": 34}.items() for i in range(n)]
    folds = patient_folds(groups, 5, seed=0)
    assert len(folds) == 110 and set(folds.values()) == set(range(5))
    assert max(Counter(folds.values()).values()) - min(Counter(folds.values()).values()) <= 1
    for site in ("CS", "DU", "FG", "HT"):  # every fold holds a share of every site with >= 5 patients
        per_fold = Counter(f for g, f in folds.items() if g.startswith(site))
        assert set(per_fold) == set(range(5)) and max(per_fold.values()) - min(per_fold.values()) <= 1
    assert patient_folds(groups, 5, seed=0) == folds
    assert patient_folds(groups, 5, seed=1) != folds
    with pytest.raises(ValueError, match="n_folds"):
        patient_folds(groups, 1)


def test_no_patient_in_two_splits_and_test_folds_partition_patients():
    items = _items({"CS": 7, "DU": 12, "HT": 9})
    all_groups = {it["group"] for it in items}
    seen_test: set[str] = set()
    for fold in range(5):
        lists = lgg_fold_datalists(items, fold, n_folds=5, val_fraction=0.2, seed=3)
        groups = {k: {it["group"] for it in v} for k, v in lists.items()}
        assert not groups["training"] & groups["validation"]
        assert not groups["training"] & groups["testing"]
        assert not groups["validation"] & groups["testing"]
        assert set().union(*groups.values()) == all_groups
        assert sum(len(v) for v in lists.values()) == len(items)
        assert groups["validation"], "validation holds whole patients"
        assert not seen_test & groups["testing"]
        seen_test |= groups["testing"]
    assert seen_test == all_groups
    with pytest.raises(ValueError, match="fold must be in"):
        lgg_fold_datalists(items, 5)
