"""A small measured sweep: the ``python -m monai_tumorcls.sweep`` command on a tiny grid, recorded in docs/sweeps.md.

    python benchmarks/sweep_small.py            # runs the sweep (resumable: rerun after a kill), then writes the record

The grid and the budget are written below and into the record; the study lives in runs/sweeps/small.db, so the
record can be rewritten from it without training (``--report_only``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from results import machine  # noqa: E402

from monai_tumorcls.utils.run_info import shell_join  # noqa: E402

GRID = {"learning_rate": [0.01, 0.001], "batch_size": [8, 16], "epochs": [2]}
BUDGET = ["max_per_class=12", "max_per_class_test=5", "image_size=64", "num_workers=0"]
STUDY, STORAGE, WORKDIR = "small-grid", "sqlite:///runs/sweeps/small.db", "runs/sweeps"
BEGIN, END = "<!-- sweep_small:begin -->", "<!-- sweep_small:end -->"


def run(sweep_file: Path) -> tuple[list[str], float]:
    cmd = ["python", "-m", "monai_tumorcls.sweep", "--bundle", "bundles/resnet50_spp_binary", "--sampler", "grid",
           "--storage", STORAGE, "--study", STUDY, "--sweep_config", str(sweep_file.relative_to(ROOT)),
           "--workdir", WORKDIR, "--set", *BUDGET]
    start = time.perf_counter()
    subprocess.run([sys.executable] + cmd[1:], cwd=ROOT, check=True)
    return cmd, time.perf_counter() - start


def report(cmd: list[str], seconds: float | None) -> str:
    study = optuna.load_study(study_name=STUDY, storage=STORAGE)
    rows = ["| trial | learning_rate | batch_size | epochs | state | best val_acc | epoch of best | train s |",
            "|---|---|---|---|---|---|---|---|"]
    for t in study.trials:
        m = t.user_attrs.get("metrics", {})
        rows.append(f"| {t.number} | {t.params.get('learning_rate')} | {t.params.get('batch_size')} | "
                    f"{t.params.get('epochs')} | {t.state.name} | {m.get('best_val_acc', '')} | "
                    f"{m.get('best_epoch', '')} | {m.get('train_seconds', '')} |")
    wall = f"{seconds / 60:.1f} min wall" if seconds is not None else "wall time not measured in this report"
    return "\n".join([
        BEGIN,
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by `python benchmarks/sweep_small.py` "
        f"({wall}); machine: {machine()}, shared with other engineers' jobs running at the same time.",
        "",
        f"Command: `{shell_join(cmd)}`",
        "",
        f"Grid: `{json.dumps(GRID)}`; budget: ResNet-50 + SPP from random initialisation, Kaggle data, 12 Training "
        "images per Kaggle class (48; 40 training, 8 validation), 64 px, no ImageNet weights. Validation accuracy on "
        "8 images moves in steps of 1/8: this shows the machinery, it does not choose hyper-parameters.",
        "",
        *rows,
        END,
    ])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--report_only", action="store_true")
    args = ap.parse_args()
    os.chdir(ROOT)
    Path(WORKDIR).mkdir(parents=True, exist_ok=True)
    sweep_file = ROOT / WORKDIR / "small_grid.json"
    sweep_file.write_text(json.dumps({"metric": "val_acc", "grid": GRID}))
    cmd, seconds = (run(sweep_file) if not args.report_only else
                    (["python", "-m", "monai_tumorcls.sweep", "..."], None))
    doc = ROOT / "docs" / "sweeps.md"
    text = doc.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    doc.write_text(text[:start] + report(cmd, seconds) + text[end:])
    print(f"wrote {doc}")


if __name__ == "__main__":
    main()
