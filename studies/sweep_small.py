"""A small measured sweep: the ``python -m monai_tumorcls.sweep`` command on a tiny grid, recorded in
docs/reports/sweep_small.md.

    python -m studies.sweep_small            # runs the sweep (resumable: rerun after a kill), then writes the record

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

from monai_tumorcls.utils.atomic import atomic_write_text
from monai_tumorcls.utils.reporting import machine_line
from monai_tumorcls.utils.run_info import shell_join

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "reports" / "sweep_small.md"
TITLE = "# A measured small sweep"
INTRO = ("The machinery of `python -m monai_tumorcls.sweep` (`docs/sweeps.md`) on a tiny grid, written by "
         "`python -m studies.sweep_small`: not a hyper-parameter choice, the budget is far too small for that.")

GRID = {"learning_rate": [0.01, 0.001], "batch_size": [8, 16], "epochs": [2]}
BUDGET = ["max_per_class=12", "max_per_class_test=5", "image_size=64", "num_workers=0"]
STUDY, STORAGE, WORKDIR = "small-grid", "sqlite:///runs/sweeps/small.db", "runs/sweeps"


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
        TITLE,
        "",
        INTRO,
        "",
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by `python -m studies.sweep_small` "
        f"({wall}); machine: {machine_line()}, shared with other jobs running at the same time.",
        "",
        f"Command: `{shell_join(cmd)}`",
        "",
        f"Grid: `{json.dumps(GRID)}`; budget: ResNet-50 + SPP from random initialisation, Kaggle data, 12 Training "
        "images per Kaggle class (48; 40 training, 8 validation), 64 px, no ImageNet weights. Validation accuracy on "
        "8 images moves in steps of 1/8: this shows the machinery, it does not choose hyper-parameters.",
        "",
        *rows,
    ]) + "\n"


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
    atomic_write_text(PAGE, report(cmd, seconds))
    print(f"wrote {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
