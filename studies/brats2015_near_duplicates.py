"""Near duplicates in pipeline 3's BraTS-2015-derived slices, and a check of the split built on them.

Writes ``docs/reports/brats2015_split.md`` (atomically): byte copies (SHA-256), how many image pairs lie within each RMS
distance of their 32x32 grey thumbnails (``monai_tumorcls.data.thumbnail_rms``, the distance the datalists group
by) and whether such pairs join different classes, then the seeded split of ``build_brats2015_datalists`` (counts,
byte copies across splits, smallest thumbnail distance from a held-out image to a training image), and how close
the held-out images come to the Kaggle Training images the SimCLR trunk of the transfer rows was pretrained on::

    python -m studies.brats2015_near_duplicates          # data root: $MONAI_DATA_DIRECTORY
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from monai_tumorcls.config import get_brats2015_root, get_kaggle_root
from monai_tumorcls.data import build_brats2015_datalists, scan_brats2015, thumbnail_rms
from monai_tumorcls.data.datalist import file_sha256
from monai_tumorcls.apps.ssl import unlabelled_datalist
from monai_tumorcls.utils.atomic import atomic_write_text
from monai_tumorcls.utils.run_info import cpu_model, shell_join

ROOT = Path(__file__).resolve().parents[1]

THRESHOLDS = (0.0, 1.0, 2.0, 4.0, 6.0, 8.0)
GROUP_RMS = 4.0  # build_brats2015_datalists' max_rms


def pair_table(rms: np.ndarray, labels: np.ndarray, thresholds=THRESHOLDS) -> list[dict]:
    """Per threshold t: image pairs within t, the images in them, pairs of different classes, largest connected
    group."""
    i, j = np.triu_indices(len(rms), k=1)
    d = rms[i, j]
    rows = []
    for t in thresholds:
        close = d <= t
        _, comp = connected_components(csr_matrix(rms <= t), directed=False)
        rows.append({"t": t, "pairs": int(close.sum()), "images": len(set(i[close]) | set(j[close])),
                     "cross_class": int((labels[i[close]] != labels[j[close]]).sum()),
                     "largest_group": int(np.bincount(comp).max())})
    return rows


def split_check(lists: dict) -> dict:
    """Counts per split and class, byte copies and smallest thumbnail distance between training and held-out."""
    held_out = lists["validation"] + lists["testing"]
    train_paths, held_paths = [it["image"] for it in lists["training"]], [it["image"] for it in held_out]
    rms = thumbnail_rms(train_paths, others=held_paths)
    return {"counts": {k: Counter(it["class_name"] for it in v) for k, v in lists.items()},
            "shared_sha256": len({it["sha256"] for it in lists["training"]} & {it["sha256"] for it in held_out}),
            "min_rms": float(rms.min())}


def pretraining_check(lists: dict, pretraining_paths: list[str]) -> dict:
    """Per held-out split: images, byte copies among ``pretraining_paths``, images whose nearest pretraining
    thumbnail lies within ``GROUP_RMS``, and the smallest such distance."""
    pretraining_sha256 = {file_sha256(p) for p in pretraining_paths}
    held_out = lists["validation"] + lists["testing"]
    nearest = thumbnail_rms([it["image"] for it in held_out], others=pretraining_paths).min(axis=1)
    n_val = len(lists["validation"])
    rows = {}
    for split, split_nearest in (("validation", nearest[:n_val]), ("testing", nearest[n_val:])):
        rows[split] = {"images": len(lists[split]),
                       "shared_sha256": sum(it["sha256"] in pretraining_sha256 for it in lists[split]),
                       "within": int((split_nearest <= GROUP_RMS).sum()), "min_rms": float(split_nearest.min())}
    return {"n_pretraining": len(pretraining_paths), "splits": rows}


def render_pretraining(check: dict) -> list[str]:
    return [
        "", "## Against the images of the SimCLR pretraining", "",
        "The in-domain SimCLR ResNet-50 trunk that stands in for ImageNet in pipeline 3's transfer rows "
        f"(`tools/full_recipes.py`) was pretrained, without labels, on {check['n_pretraining']} Kaggle Training "
        "images (`monai_tumorcls.apps.ssl.unlabelled_datalist` with the `ssl_simclr_resnet18` bundle's defaults: "
        "Training less its validation split). Held-out BraTS-2015 slices against them:", "",
        "| split | images | byte copies in the pretraining set | nearest pretraining thumbnail within "
        f"{GROUP_RMS:g} | smallest RMS difference |", "|---|---:|---:|---:|---:|",
        *[f"| {split} | {r['images']} | {r['shared_sha256']} | {r['within']} | {r['min_rms']:.2f} |"
          for split, r in check["splits"].items()], "",
        "- the Kaggle images are framed and sized differently from these slices: the same slice cropped or rescaled "
        "would not fall within the threshold, so this finds copies, not every shared scan.",
    ]


def render(data_dir: Path, items: list[dict], table: list[dict], check: dict, command: str) -> str:
    copies = Counter(it["sha256"] for it in items)
    dup_groups = [h for h, n in copies.items() if n > 1]
    cross = sum(len({it["label"] for it in items if it["sha256"] == h}) > 1 for h in dup_groups)
    classes = Counter(it["class_name"] for it in items)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Pipeline 3's BraTS-2015-derived slices: near duplicates and the split", "",
        f"Written by `{command}` on {now} ({cpu_model()}); data: `{data_dir.name}/` in the data root.", "",
        "The set has no patient identifiers, so the split is image-level: images whose thumbnails lie within "
        f"{GROUP_RMS:g} grey levels RMS are grouped (`monai_tumorcls.data.near_duplicate_groups`) and every "
        "selection and split moves whole groups.", "",
        f"- images: {len(items)} ({', '.join(f'{c} {n}' for c, n in sorted(classes.items()))})",
        f"- byte copies (same SHA-256): {sum(copies[h] for h in dup_groups) - len(dup_groups)} extra files in "
        f"{len(dup_groups)} groups; groups with both classes: {cross}", "",
        "Image pairs by RMS difference of their 32×32 grey thumbnails (box filter), in grey levels (0–255):", "",
        "| within t | pairs | images in them | pairs of different classes | largest connected group |",
        "|---:|---:|---:|---:|---:|",
        *[f"| {r['t']:g}{' (grouping threshold)' if r['t'] == GROUP_RMS else ''} | {r['pairs']} | {r['images']} | "
          f"{r['cross_class']} | {r['largest_group']} |" for r in table], "",
        "The split of `build_brats2015_datalists` (defaults: seed 0, 1,530 per class, 30 per class for testing, "
        "15 % of the rest for validation):", "",
        "| split | " + " | ".join(sorted(classes)) + " |", "|---|" + "---:|" * len(classes),
        *[f"| {k} | " + " | ".join(str(v[c]) for c in sorted(classes)) + " |" for k, v in check["counts"].items()], "",
        f"- files of training whose SHA-256 a validation or testing file has: {check['shared_sha256']}",
        f"- smallest thumbnail RMS difference between a validation/testing image and a training image: "
        f"{check['min_rms']:.2f} grey levels (the grouping threshold is {GROUP_RMS:g})",
        "- adjacent slices of one scan can still differ by more than the threshold and fall on both sides; "
        "the pairs were not inspected by eye.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=None, help="default: $MONAI_DATA_DIRECTORY/brain-tumor-brats2015")
    p.add_argument("--kaggle-dir", type=Path, default=None, help="the SimCLR pretraining images' root; "
                   "default: $MONAI_DATA_DIRECTORY/brain-tumor-mri-dataset")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "reports" / "brats2015_split.md")
    args = p.parse_args(argv)
    data_dir = args.data_dir or get_brats2015_root()
    items = scan_brats2015(data_dir)
    labels = np.array([it["label"] for it in items])
    table = pair_table(thumbnail_rms([it["image"] for it in items]), labels)
    lists = build_brats2015_datalists(data_dir)
    check = split_check(lists)
    pretraining = [it["image"] for it in unlabelled_datalist(args.kaggle_dir or get_kaggle_root())]
    command = shell_join(["python", "-m", "studies.brats2015_near_duplicates", *(sys.argv[1:] if argv is None else argv)])
    text = render(data_dir, items, table, check, command)
    text += "\n".join(render_pretraining(pretraining_check(lists, pretraining))) + "\n"
    atomic_write_text(args.out, text)
    print(text)
    return text


if __name__ == "__main__":
    main()
