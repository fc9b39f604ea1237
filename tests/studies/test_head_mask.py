"""studies/head_mask.py: where Otsu's and the foreground threshold's head masks fall."""

from __future__ import annotations

import pytest
import torch

from monai_tumorcls.transforms import BrainMaskNormalize, HeadMaskNormalize
from studies import head_mask

MASKS = {"otsu": BrainMaskNormalize.brain_mask, "head": HeadMaskNormalize.brain_mask}


def _head_with_open_fat_ring(size: int = 64) -> torch.Tensor:
    """A disk of brain (0.5) whose rim is fat (4.0), the rim open at the bottom as at the skull base."""
    yy, xx = torch.meshgrid(torch.arange(size) - size // 2, torch.arange(size) - size // 2, indexing="ij")
    radius = 0.35 * size
    disk = (yy**2 + xx**2) < radius**2
    rim = disk & ((yy**2 + xx**2) >= (radius - 3) ** 2) & ~((yy > 0) & (xx.abs() < 6))
    img = torch.where(disk, 0.5, 0.0)
    return torch.where(rim, 4.0, img)[None]


def test_scores_flag_a_mask_that_is_a_ring_and_not_a_solid_head():
    scores = head_mask.mask_scores(_head_with_open_fat_ring(), MASKS)
    assert scores["otsu"][0] and not scores["head"][0]
    assert scores["head"][1] > 2 * scores["otsu"][1]  # the whole head against the ring
    row = head_mask.table_row("phantom", [_head_with_open_fat_ring()] * 2, MASKS)
    assert row.startswith("| phantom | 2 | 2 (100 %) |") and "| 0 (0 %) |" in row


@pytest.mark.integration
def test_the_report_has_a_row_per_source(tmp_path, data_root, monkeypatch):
    import monai_tumorcls.data as data

    monkeypatch.setattr(data, "SHARED_LABELLED_VOLUMES", data.SHARED_LABELLED_VOLUMES[:1])
    out = tmp_path / "head_mask.md"
    head_mask.main(["--per-class", "3", "--lgg-slices", "4", "--ixi-subjects", "1", "--out", str(out)])
    text = out.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| source")]
    assert [r.split(" | ")[0] for r in rows] == [
        "| Kaggle Training `glioma`", "| Kaggle Training `meningioma`", "| Kaggle Training `notumor`",
        "| Kaggle Training `pituitary`", "| LGG `pre_contrast_t1`", "| LGG `flair`", "| LGG `post_contrast_t1`",
        "| brain1_image.nii.gz", "| IXI volunteers, every slice"]
    assert [r.split(" | ")[1] for r in rows][:7] == ["3"] * 4 + ["4"] * 3
    assert "LGG `$MONAI_DATA_DIRECTORY/lgg-mri-segmentation/kaggle_3m` (6 patients)" in text
    assert str(data_root) not in text and str(tmp_path) not in text
