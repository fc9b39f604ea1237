"""Where does the head mask of the intensity normalisation fall? Otsu's mask against the foreground threshold's.

``BrainMaskNormalize`` z-scores each slice inside Otsu's mask; ``HeadMaskNormalize`` inside the mask of the
foreground threshold (``min + 0.1 * (p99 - min)``, the rule that counts a volume slice's foreground). Both keep the
largest component and fill its holes. A head mask should be one solid region: where it fills much less of its
convex hull, it is a ring of bright fat or a part of the brain, and the network sees a slice normalised on the
wrong tissue. For each source this script counts the images whose mask fills less than 85 % of its convex hull
(skimage ``convex_hull_image``), and the median share of the image inside the mask; no model is involved.

Sources (seeded draws): Kaggle Training images per class, LGG TIFF slices per sequence (the full 110-patient set
when ``--lgg-root`` names it, else the shared data's patients), every slice of the shared labelled volumes as
inference slices them, and the IXI volunteers' slices. Writes ``docs/reports/head_mask.md`` with the command,
machine and data::

    MONAI_DATA_DIRECTORY=/path/to/shared/data python -m studies.head_mask --lgg-root /path/to/kaggle_3m
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "reports" / "head_mask.md"
HULL_FILL = 0.85


def mask_scores(image: torch.Tensor, masks: dict[str, Callable]) -> dict[str, tuple[bool, float]]:
    """For each mask of a ``(C, H, W)`` image: (fills less than ``HULL_FILL`` of its convex hull, share of the image)."""
    from skimage.morphology import convex_hull_image

    scores = {}
    for name, brain_mask in masks.items():
        mask = brain_mask(image).numpy()
        hull = convex_hull_image(mask) if mask.any() else mask
        scores[name] = (bool(mask.sum() < HULL_FILL * max(1, hull.sum())), float(mask.mean()))
    return scores


def table_row(source: str, images: Iterable[torch.Tensor], masks: dict[str, Callable]) -> str:
    rows = [mask_scores(img, masks) for img in images]
    cells = []
    for name in masks:
        holed = sum(r[name][0] for r in rows)
        cells.append(f"{holed} ({100 * holed / max(1, len(rows)):.0f} %) | {np.median([r[name][1] for r in rows]):.2f}")
    return f"| {source} | {len(rows)} | " + " | ".join(cells) + " |"


def kaggle_images(root: Path, per_class: int, seed: int):
    from monai.transforms import LoadImage

    from monai_tumorcls.data import RasterImageReader
    from monai_tumorcls.data.datalist import list_images
    from monai_tumorcls.data.datasets.kaggle import KAGGLE_CLASSES

    load = LoadImage(reader=RasterImageReader(reverse_indexing=False), image_only=True, ensure_channel_first=True)
    for cls in KAGGLE_CLASSES:
        files = random.Random(seed).sample(list_images(root / "Training" / cls), per_class)
        yield f"Kaggle Training `{cls}`", (load(f) for f in files)


def lgg_images(items: list[dict], count: int, seed: int):
    from monai.data import PILReader
    from monai.transforms import LoadImage

    from monai_tumorcls.data.datasets.lgg import LGG_SEQUENCES

    load = LoadImage(reader=PILReader(reverse_indexing=False), image_only=True, ensure_channel_first=True)
    # each TIFF holds the three sequences: read once, scored per sequence
    slices = [load(it["image"]) for it in random.Random(seed).sample(items, min(count, len(items)))]
    for sequence, channel in LGG_SEQUENCES.items():
        yield f"LGG `{sequence}`", [s[channel:channel + 1] for s in slices]


def volume_images(volumes, root: Path | None):
    from monai_tumorcls.data.volume_slices import volume_slice_items

    for volume in volumes:
        items = volume_slice_items(volume, root, ["notumor", "tumor"], "tumor")
        yield Path(volume.image).name, (it["image"] for it in items)


def ixi_images(folder: Path, subjects: int | None):
    """Every slice of the IXI volunteers' volumes, as one source."""
    from monai_tumorcls.data.datasets.multisource import ixi_volumes

    for _, images in volume_images(ixi_volumes(folder, subjects), None):
        yield from images


def main(argv: list[str] | None = None) -> None:
    from monai_tumorcls.config import get_data_root, get_kaggle_root
    from monai_tumorcls.data import SHARED_LABELLED_VOLUMES
    from monai_tumorcls.data.datasets.lgg import LGG_DIRNAME, scan_lgg_folder
    from monai_tumorcls.data.datasets.multisource import IXI_DIRNAME
    from monai_tumorcls.transforms import BrainMaskNormalize, HeadMaskNormalize
    from monai_tumorcls.utils import atomic_write_text, shell_join
    from monai_tumorcls.utils.reporting import load_average, machine_line, portable_args, portable_path, utc_now

    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--lgg-root", type=Path, default=None, help="the kaggle_3m folder (default: the shared data's)")
    p.add_argument("--per-class", type=int, default=120, help="Kaggle Training images per class")
    p.add_argument("--lgg-slices", type=int, default=200, help="LGG slices (each read in its three sequences)")
    p.add_argument("--ixi-subjects", type=int, default=None, help="IXI volunteers (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    data = get_data_root(must_exist=True)
    lgg_root = args.lgg_root or data / LGG_DIRNAME
    lgg_items = scan_lgg_folder(lgg_root)
    lgg_shown = portable_path(lgg_root, ROOT) if args.lgg_root else f"$MONAI_DATA_DIRECTORY/{LGG_DIRNAME}"
    masks = {"Otsu (`BrainMaskNormalize`)": BrainMaskNormalize.brain_mask,
             "foreground threshold (`HeadMaskNormalize`)": HeadMaskNormalize.brain_mask}
    sources = [*kaggle_images(get_kaggle_root(), args.per_class, args.seed),
               *lgg_images(lgg_items, args.lgg_slices, args.seed),
               *volume_images(SHARED_LABELLED_VOLUMES, data),
               ("IXI volunteers, every slice", ixi_images(data / IXI_DIRNAME, args.ixi_subjects))]
    header = " | ".join(f"{name}: hull filled < {HULL_FILL:.0%} | median area" for name in masks)
    lines = [f"| source | images | {header} |", "|---|---|" + "---|---|" * len(masks)]
    for source, images in sources:
        lines.append(table_row(source, images, masks))
        print(lines[-1], flush=True)
    intro = (__doc__ or "").split("\n\n")[1].replace("\n", " ")
    text = "\n".join([
        "# The head mask of the intensity normalisation", "", intro, "",
        f"Written by `{shell_join(['python', '-m', 'studies.head_mask', *portable_args(argv, ROOT)])}` on "
        f"{utc_now()}; machine: {machine_line()}, load {load_average()}; data "
        f"`{portable_path(data, ROOT)}`, LGG `{lgg_shown}` ({len({it['group'] for it in lgg_items})} patients).", "",
        *lines, ""])
    atomic_write_text(args.out, text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
