"""tools/device_pack.py: the compact data copy a lent GPU machine trains on keeps every file's place, its
duplicates, the files of the bundles' datalists and (up to JPEG loss) the bundles' resized pixels; bad files are
listed; a failed pack replaces nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tools import device_pack as device_pack_module

CLASSES = ("glioma", "meningioma", "notumor", "pituitary")


@pytest.fixture()
def pack():
    return device_pack_module


def _source_tree(root, broken: bool = True):
    """Kaggle layout, one image per class and split, and in Training/glioma also: a byte copy of the colour JPEG, a
    grey PNG and another file with its pixels, and (``broken``) a file that is no image. Returns the colour image."""
    yy, xx = np.mgrid[0:120, 0:100]
    rgb = np.stack([xx * 2, yy * 2, (xx + yy)], axis=-1).clip(0, 255).astype(np.uint8)
    for split in ("Training", "Testing"):
        for i, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True)
            Image.fromarray(np.roll(rgb, 7 * i + (split == "Testing"), axis=0)).save(root / split / name / "a.jpg")
    glioma = root / "Training" / "glioma"
    Image.fromarray(rgb).save(glioma / "a.jpg", quality=95)
    (glioma / "copy_of_a.jpg").write_bytes((glioma / "a.jpg").read_bytes())
    Image.fromarray(rgb[..., 0]).save(glioma / "b.png")
    Image.fromarray(rgb[..., 0]).save(glioma / "same_pixels_as_b.png", compress_level=1)
    if broken:
        (glioma / "broken.jpg").write_bytes(b"not an image at all")
    return rgb


def test_pack_keeps_places_duplicates_and_resized_grey_pixels(pack, tmp_path):
    rgb = _source_tree(tmp_path / "src")
    summary = pack.pack_images(tmp_path / "src", tmp_path / "out", size=32, quality=95)
    packed = sorted(row["packed"] for row in summary["files"] if "glioma" in row["packed"])
    assert packed == ["Testing/glioma/a.jpg", "Training/glioma/a.jpg", "Training/glioma/b.jpg",
                      "Training/glioma/copy_of_a.jpg", "Training/glioma/same_pixels_as_b.jpg"]
    assert [f["source"] for f in summary["failed"]] == ["Training/glioma/broken.jpg"]
    assert not (tmp_path / "out" / "Training" / "glioma" / "broken.jpg").exists()
    assert summary["duplicates_preserved"] and summary["num_packed"] == 11
    by_name = {row["source"]: row for row in summary["files"]}
    assert by_name["Training/glioma/a.jpg"]["sha256"] == by_name["Training/glioma/copy_of_a.jpg"]["sha256"]
    assert by_name["Training/glioma/b.png"]["sha256"] != by_name["Training/glioma/same_pixels_as_b.png"]["sha256"]

    image = Image.open(tmp_path / "out" / "Training" / "glioma" / "a.jpg")
    assert (image.format, image.mode, image.size) == ("JPEG", "L", (32, 32))
    grey = torch.from_numpy(rgb.astype(np.float32).mean(axis=-1))[None, None]
    expected = torch.nn.functional.interpolate(grey, size=(32, 32), mode="area")[0, 0].numpy()
    assert np.abs(np.asarray(image, dtype=np.float32) - expected).mean() < 2.0  # JPEG q95 loss only


def test_duplicate_check_fails_when_packing_merges_or_splits_groups(pack):
    rows = [{"source": "a", "source_sha256": "1", "sha256": "x"}, {"source": "b", "source_sha256": "1", "sha256": "x"},
            {"source": "c", "source_sha256": "2", "sha256": "y"}]
    assert pack.duplicate_partition(rows, "source_sha256") == pack.duplicate_partition(rows, "sha256")
    rows[2]["sha256"] = "x"  # two different sources became the same packed file
    assert pack.duplicate_partition(rows, "source_sha256") != pack.duplicate_partition(rows, "sha256")


def test_a_failed_pack_leaves_the_previous_one_in_place(pack, tmp_path):
    dest = tmp_path / "kaggle-32"
    pack.write_pack(dest, lambda folder: {"failed": [], "duplicates_preserved": True, "n": 1})
    assert json.loads((dest / "PACKED.json").read_text())["n"] == 1

    def dies_midway(folder):
        (folder / "half.jpg").write_bytes(b"")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pack.write_pack(dest, dies_midway)
    assert sorted(p.name for p in dest.iterdir()) == ["PACKED.json"]


def _pack_main(pack, tmp_path, monkeypatch, broken: bool):
    _source_tree(tmp_path / "data" / "brain-tumor-mri-dataset", broken)
    monkeypatch.setenv("MONAI_DATA_DIRECTORY", str(tmp_path / "data"))
    code = pack.main(["kaggle", "--size", "16", "--out", str(tmp_path / "pack")])
    return code, json.loads((tmp_path / "pack" / "PACKED.json").read_text())


def test_main_packs_a_clean_set_with_the_same_datalists(pack, tmp_path, monkeypatch):
    code, summary = _pack_main(pack, tmp_path, monkeypatch, broken=False)
    assert code == 0 and summary["num_packed"] == 11
    for task in ("binary", "4class"):
        lists = summary["datalists"][task]
        assert lists["same_files"] and lists["same_testing"] and lists["in_one_validation_list_only"] >= 0
    assert summary["command"].startswith("python ") and "--size 16" in summary["command"]
    assert (tmp_path / "pack" / "brain-tumor-mri-dataset" / "Testing" / "notumor" / "a.jpg").is_file()
    description = pack.describe_pack(tmp_path / "pack")
    assert description == "data pack pack: grey 16 px JPEG q75 of 11 images (tools/device_pack.py)"


def test_main_reports_a_bad_file_in_one_line_and_exits_1(pack, tmp_path, monkeypatch, capsys):
    code, summary = _pack_main(pack, tmp_path, monkeypatch, broken=True)
    err = [line for line in capsys.readouterr().err.splitlines() if "broken" in line]
    assert code == 1 and len(err) == 1 and err[0].startswith("Training/glioma/broken.jpg: ")
    assert not summary["datalists"]["binary"]["same_files"]  # the bad file is in the source's datalist only


def _lgg_tree(root):
    """Two LGG patients of three slices (smooth 256x256x3 images, a different pattern per channel); the middle slice
    of the first has a 100-pixel mask. Returns the first patient's middle slice."""
    import tifffile

    yy, xx = np.mgrid[0:256, 0:256]
    middle = None
    for p, patient in enumerate(("TCGA_CS_4941_19960909", "TCGA_DU_5849_19950405")):
        (root / patient).mkdir(parents=True)
        for n in (1, 2, 3):
            pixels = np.stack([xx // 2, yy // 2, (xx + yy) // 4 + 20 * n + p], axis=-1).astype(np.uint8)
            mask = np.zeros((256, 256), np.uint8)
            if p == 0 and n == 2:
                mask[100:110, 100:110] = 255
                middle = pixels
            tifffile.imwrite(root / patient / f"{patient}_{n}.tif", pixels)
            tifffile.imwrite(root / patient / f"{patient}_{n}_mask.tif", mask)
    return middle


def test_the_lesion_pack_is_a_data_root_with_the_same_lgg_items_and_three_channels(pack, tmp_path, monkeypatch):
    import tifffile

    data = tmp_path / "data"
    _source_tree(data / "brain-tumor-mri-dataset", broken=False)
    middle = _lgg_tree(data / "lgg-mri-segmentation" / "kaggle_3m")
    (data / "ixi-healthy-t1-2mm" / "t1").mkdir(parents=True)
    (data / "ixi-healthy-t1-2mm" / "t1" / "IXI002-Guys-0828-T1.nii.gz").write_bytes(b"copied as it is")
    monkeypatch.setenv("MONAI_DATA_DIRECTORY", str(data))
    out = tmp_path / "lesion-32"
    assert pack.main(["lesion", "--size", "32", "--quality", "90", "--out", str(out)]) == 0
    summary = json.loads((out / "PACKED.json").read_text())
    assert summary["datalists"]["lgg"] == {"same_items": True} and summary["datalists"]["binary"]["same_files"]
    assert summary["num_packed"] == 11 + 12 and not summary["failed"]
    packed = out / "lgg-mri-segmentation" / "kaggle_3m" / "TCGA_CS_4941_19960909"
    with Image.open(packed / "TCGA_CS_4941_19960909_2.tif") as image:
        assert (image.format, image.mode, image.size) == ("TIFF", "RGB", (32, 32))
        assert image.info["compression"] == "jpeg"
        pixels = np.asarray(image, dtype=np.float32)
    channels = torch.from_numpy(np.moveaxis(middle, 2, 0).astype(np.float32))[None]
    expected = torch.nn.functional.interpolate(channels, size=(32, 32), mode="area")[0].numpy()
    assert np.abs(np.moveaxis(pixels, 2, 0) - expected).mean(axis=(1, 2)).max() < 3.0  # each sequence kept apart
    source_mask = tifffile.imread(data / "lgg-mri-segmentation" / "kaggle_3m" / packed.name / f"{packed.name}_2_mask.tif")
    assert np.array_equal(tifffile.imread(packed / f"{packed.name}_2_mask.tif"), source_mask)  # lossless, 256 px
    assert (out / "ixi-healthy-t1-2mm" / "t1" / "IXI002-Guys-0828-T1.nii.gz").read_bytes() == b"copied as it is"
    assert pack.describe_pack(out) == ("data pack lesion-32: Kaggle grey and LGG 3-sequence 32 px JPEG q90 of 23 "
                                       "images, IXI as shipped (tools/device_pack.py)")


def test_an_lgg_pack_whose_masks_differ_is_caught(pack, tmp_path):
    import tifffile

    _lgg_tree(tmp_path / "src")
    pack.pack_lgg(tmp_path / "src", tmp_path / "out", 32, 75)
    assert pack.compare_lgg_datalists(tmp_path / "src", tmp_path / "out") == {"same_items": True}
    mask = tmp_path / "out" / "TCGA_CS_4941_19960909" / "TCGA_CS_4941_19960909_2_mask.tif"
    tifffile.imwrite(mask, np.zeros((256, 256), np.uint8))  # the tumour slice would become tumour-free
    assert pack.compare_lgg_datalists(tmp_path / "src", tmp_path / "out") == {"same_items": False}
