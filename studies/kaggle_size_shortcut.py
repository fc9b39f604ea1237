"""How far does the Kaggle set's image size alone go, and how do the Kaggle-trained runs do once it is taken away?

The Kaggle "Brain Tumor MRI Dataset" merges sources: its 512x512 images are nearly all tumour slices (the figshare
set of glioma, meningioma and pituitary tumours) and nearly every tumour-free image has another size. So the
content-free rule "512x512 -> tumour" scores well without looking at a brain, and a network can learn the source's
look instead of the lesion. This script measures the rule on Training and Testing (tumour vs no tumour), then splits
each run's Testing predictions by the same size: on "512x512" the rule is almost always right; on "other sizes"
(the tumour-free images and the tumours of the other sources) it calls everything tumour-free, and a network that
beats it there has looked at something else. (Current evaluations also report the "other sizes" images as
``testing_other_sizes`` in their ``metrics.json``, from the datalist's ``size_512x512`` flag.)

Reads ``<run>/eval/predictions.csv`` of the named ``tools/full_recipes.py`` entries (evaluations since
2026-12-03 list each file; rerun an older one with the evaluate command of its record in ``docs/results/``) and
writes ``docs/reports/kaggle_size_shortcut.md`` (the rule, then one section per entry; the other entries' sections are
kept)::

    MONAI_DATA_DIRECTORY=/path/to/shared/data python -m studies.kaggle_size_shortcut --entries basic-kaggle
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
from collections import Counter
from pathlib import Path

from monai_tumorcls.data.datalist import list_images
from monai_tumorcls.data.datasets.kaggle import BINARY_CLASSES, KAGGLE_CLASSES, has_shortcut_size
from monai_tumorcls.utils.reporting import machine_line, merged_sections, portable_path
from studies.results import dataset_of
from tools import full_recipes

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "reports" / "kaggle_size_shortcut.md"
TITLE = "# The Kaggle set's image-size shortcut"
INTRO = (__doc__ or "").split("\n\n")[1].replace("\n", " ")
TUMOUR_FREE = BINARY_CLASSES[0]


def size_stratum(path: str | Path) -> str:
    """``"512x512"`` or ``"other sizes"`` from the image header (the pixels are not decoded)."""
    return "512x512" if has_shortcut_size(path) else "other sizes"


def rule_table(kaggle_root: Path) -> list[str]:
    """Images per split, class and size stratum, and the accuracy of "512x512 -> tumour" per split."""
    lines = ["| split | class | 512x512 | other sizes |", "|---|---|---|---|"]
    accuracy = []
    for split in ("Training", "Testing"):
        counts = Counter((cls, size_stratum(p)) for cls in KAGGLE_CLASSES for p in list_images(kaggle_root / split / cls))
        for cls in KAGGLE_CLASSES:
            lines.append(f"| {split} | {cls} | {counts[cls, '512x512']} | {counts[cls, 'other sizes']} |")
        right = sum(n for (cls, stratum), n in counts.items() if (stratum == "512x512") == (cls != TUMOUR_FREE))
        accuracy.append(f"{split} {100 * right / sum(counts.values()):.2f} % ({right} of {sum(counts.values())})")
    return lines + ["", f"Accuracy of the rule \"512x512 -> tumour\", tumour vs no tumour: {'; '.join(accuracy)}."]


def read_predictions(path: Path) -> list[dict]:
    """Rows of an evaluation's ``predictions.csv``; a clear error when it does not name its files."""
    if not path.is_file():
        raise SystemExit(f"{path}: no evaluation predictions (has the entry been evaluated?)")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or not all(r["file"] for r in rows):
        raise SystemExit(f"{path}: rows without a file name (an evaluation before 2026-12-03): rerun the evaluate "
                         "command of the entry's record in docs/results/")
    return rows


def stratum_scores(rows: list[dict]) -> dict[str, dict]:
    """Per stratum that has images, and in all: images, accuracy (tumour vs no tumour) of the run and of the size
    rule, tumours found (recall) and tumour-free images called tumour-free (specificity)."""
    scored = [(size_stratum(r["file"]), r["label"] != TUMOUR_FREE, r["predicted"] != TUMOUR_FREE) for r in rows]
    out = {}
    for name in ("512x512", "other sizes", "all"):
        part = [(s, t, p) for s, t, p in scored if name in (s, "all")]
        if not part:
            continue
        tumours, free = [p for _, t, p in part if t], [p for _, t, p in part if not t]
        out[name] = {"n": len(part), "tumours": len(tumours), "tumour_free": len(free),
                     "accuracy": sum(t == p for _, t, p in part) / len(part),
                     "rule": sum(t == (s == "512x512") for s, t, _ in part) / len(part),
                     "recall": sum(tumours) / len(tumours) if tumours else None,
                     "specificity": free.count(False) / len(free) if free else None}
    return out


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.2f}"


def section(label: str, entry, scores: dict[str, dict], command: str) -> list[str]:
    lines = [f"## {label}", "",
             f"Bundle `{entry.bundle}` ({' '.join(entry.overrides)}), predictions `{entry.root}/eval/predictions.csv`; "
             f"written by `{command}` on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.", "",
             "| Testing images | n (tumour / tumour-free) | run accuracy % | size rule accuracy % | run recall % | "
             "run specificity % |", "|---|---|---|---|---|---|"]
    for name, s in scores.items():
        lines.append(f"| {name} | {s['n']} ({s['tumours']} / {s['tumour_free']}) | {_pct(s['accuracy'])} | "
                     f"{_pct(s['rule'])} | {_pct(s['recall'])} | {_pct(s['specificity'])} |")
    return lines + [""]


def main(argv: list[str] | None = None) -> None:
    from monai_tumorcls.config import get_kaggle_root
    from monai_tumorcls.utils import atomic_write_text, shell_join

    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--entries", nargs="*", default=[], help="labels of tools/full_recipes.py Kaggle entries")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    command = shell_join(["python", "-m", "studies.kaggle_size_shortcut", *argv])
    entries = {e.label: e for e in full_recipes.queue() if e.label and dataset_of(list(e.overrides)) == "kaggle"}
    unknown = [label for label in args.entries if label not in entries]
    if unknown:
        p.error(f"not Kaggle entries of tools/full_recipes.py: {', '.join(unknown)}; they are {', '.join(entries)}")
    text = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
    rule = ["## The rule", "", f"Written by `{command}` on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; "
            f"machine: {machine_line()}; data `{portable_path(get_kaggle_root(), ROOT)}` (image headers only).", "", *rule_table(get_kaggle_root())]
    text = merged_sections(text, TITLE, INTRO, "The rule", rule)
    for label in args.entries:
        rows = read_predictions(ROOT / entries[label].root / "eval" / "predictions.csv")
        text = merged_sections(text, TITLE, INTRO, label, section(label, entries[label], stratum_scores(rows), command))
    atomic_write_text(args.out, text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
