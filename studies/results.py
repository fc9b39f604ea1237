"""Train + evaluate one bundle and record its measured results next to the published ones.

Runs the user's own commands (``python -m monai.bundle run training ...`` then the evaluate overlay) from the
project root, times them, reads ``eval/metrics.json``, and writes one record per run to
``docs/results/<bundle>__<label>.json`` (atomically), then regenerates ``docs/reports/results.md`` from all records
(:mod:`studies.results_page`).

Examples::

    python -m studies.results --bundle resnet18_binary --label full-recipe-cpu
    python -m studies.results --bundle resnet50_spp_binary --label cpu-short -- --epochs 2 --image_size 128
    python -m studies.results --render-only          # rebuild docs/reports/results.md from docs/results/*.json

Everything after ``--`` is passed to both the training and the evaluation command as overrides.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

from monai_tumorcls.checkpoint import read_checkpoint_metadata
from monai_tumorcls.handlers.training_state import read_epoch_log
from monai_tumorcls.utils.atomic import atomic_write_text
from monai_tumorcls.utils.reporting import local_path, machine_line, portable_args, read_json_object, run_logged
from monai_tumorcls.utils.run_info import environment_info, shell_join

from .results_page import RESULTS_DIR, RESULTS_MD, load_records, render

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LOGS = Path(tempfile.gettempdir()) / "monai_tumorcls_results"


def rel_path(path: Path) -> str:
    """``path`` for a command run from the project root (relative when it lies below it)."""
    return local_path(path, ROOT)


def portable(args: list[str]) -> list[str]:
    """``args`` as a record prints them: no machine's absolute path."""
    return portable_args(args, ROOT)


def run_note(note: str, root: Path) -> str:
    """``--note`` followed by the run folder's ``note.txt``: what an earlier sitting of a resumed run had to say
    (e.g. epochs trained before they were logged) stays with the run, whatever the last sitting passes."""
    path = root / "note.txt"
    # one line (a record's note is one list item), each part ending its sentence
    parts = [" ".join(part.split()) for part in (note, path.read_text() if path.is_file() else "") if part.strip()]
    return " ".join(part if part.endswith((".", "!", "?")) else part + "." for part in parts)


def dataset_of(overrides: list[str]) -> str:
    """The ``--dataset`` a run was given (the bundles' default is ``kaggle``)."""
    return overrides[overrides.index("--dataset") + 1] if "--dataset" in overrides[:-1] else "kaggle"


def bundle_commands(bundle: str, extra: list[str]) -> tuple[list[str], list[str]]:
    """The user's training and evaluation commands of ``bundle`` with the overrides ``extra``."""
    cfg = f"bundles/{bundle}/configs"
    train_cmd = ["python", "-m", "monai.bundle", "run", "training", "--config_file", f"{cfg}/train.json",
                 "--logging_file", f"{cfg}/logging.conf", *extra]
    eval_cmd = ["python", "-m", "monai.bundle", "run", "--config_file", f"['{cfg}/train.json','{cfg}/evaluate.json']",
                "--logging_file", f"{cfg}/logging.conf", *extra]
    return train_cmd, eval_cmd


def evaluate_stages(eval_cmd: list[str], root: Path, stage_checkpoints: list[str], log_prefix: Path) -> dict:
    """Each further checkpoint (e.g. the best stage-1 one of a two-stage bundle) evaluated on Testing too."""
    stages = {}
    for ckpt in stage_checkpoints:
        out_dir = root / f"eval_{Path(ckpt).stem}"
        stage_cmd = eval_cmd + ["--eval_checkpoint", rel_path(root / "models" / ckpt), "--output_dir", rel_path(out_dir)]
        run_logged([sys.executable] + stage_cmd[1:], Path(f"{log_prefix}__eval_{Path(ckpt).stem}.log"), ROOT)
        stages[ckpt] = {
            "command": shell_join(portable(stage_cmd)),
            "best_checkpoint": read_json_object(root / "models" / f"{ckpt}.json"),
            "reports": {k: _summary(v) for k, v in json.loads((out_dir / "metrics.json").read_text())["reports"].items()},
        }
    return stages


def run_bundle(bundle: str, label: str, overrides: list[str], logs: Path, bundle_root: str | None,
               stage_checkpoints: list[str]) -> dict:
    """Train and evaluate ``bundle`` (logs appended under ``logs``) and return its record."""
    root = Path(bundle_root) if bundle_root else ROOT / "bundles" / bundle
    train_cmd, eval_cmd = bundle_commands(bundle, list(overrides) + (["--bundle_root", bundle_root] if bundle_root else []))
    logs.mkdir(parents=True, exist_ok=True)
    train_s = run_logged([sys.executable] + train_cmd[1:], logs / f"{bundle}__{label}__train.log", ROOT)
    eval_s = run_logged([sys.executable] + eval_cmd[1:], logs / f"{bundle}__{label}__eval.log", ROOT)
    metrics = json.loads((root / "eval" / "metrics.json").read_text())
    return {
        "bundle": bundle,
        "label": label,
        "dataset": dataset_of(overrides),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commands": [shell_join(portable(train_cmd)), shell_join(portable(eval_cmd))],
        "overrides": portable(list(overrides)),
        "machine": machine_line(),
        "environment": environment_info(),
        "train_seconds": round(train_s, 1),
        "eval_seconds": round(eval_s, 1),
        "initialisation": metrics.get("initialisation"),
        "best_checkpoint": read_json_object(root / "models" / "model.pt.json"),
        "reports": {k: _summary(v) for k, v in metrics["reports"].items()},
        "temperature_fit": read_checkpoint_metadata(root / "models" / "model.pt").get("calibration"),
        "epoch_log": {p.name: read_epoch_log(p) for p in sorted((root / "models").glob("training_state*.pt"))},
        "stage_checkpoints": evaluate_stages(eval_cmd, root, stage_checkpoints, logs / f"{bundle}__{label}"),
    }


def _summary(report: dict) -> dict:
    out = {"num_samples": report["num_samples"], "accuracy": report["accuracy"],
           "macro_f1": report["macro"]["f1"], "roc_auc_macro_ovr": report["roc_auc_macro_ovr"]}
    if "binary" in report:
        b = report["binary"]
        out["tumour_vs_notumor"] = {k: b[k] for k in ("accuracy", "precision", "recall", "f1", "sensitivity", "specificity", "roc_auc")}
    out["per_class_recall"] = {c: m["recall"] for c, m in report["per_class"].items()}
    if "calibration" in report:
        out["calibration"] = {k: report["calibration"][k] for k in ("temperature", "ece", "brier", "ece_scaled", "brier_scaled")}
    return out


def _arg_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", help="bundle folder name under bundles/")
    p.add_argument("--label", default="default", help="name of this run (letters, digits, - and _)")
    p.add_argument("--bundle-root", default=None, help="where checkpoints/reports go (default: the bundle folder)")
    p.add_argument("--logs", default=str(DEFAULT_LOGS), help="folder for the run logs")
    p.add_argument("--render-only", action="store_true", help="only rebuild docs/reports/results.md")
    p.add_argument("--note", default="", help="free text stored with the record (e.g. what else ran on the machine); "
                   "a note.txt in the run folder is added to it")
    p.add_argument("--also-evaluate", nargs="*", default=[], metavar="CKPT",
                   help="more checkpoints in models/ to evaluate on Testing, e.g. model_stage1.pt")
    return p


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides = argv[argv.index("--") + 1:] if "--" in argv else []
    p = _arg_parser()
    args = p.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if not args.render_only:
        if not args.bundle:
            p.error("--bundle is required")
        record = run_bundle(args.bundle, args.label, overrides, Path(args.logs), args.bundle_root, args.also_evaluate)
        record["note"] = run_note(args.note, Path(args.bundle_root) if args.bundle_root else ROOT / "bundles" / args.bundle)
        atomic_write_text(RESULTS_DIR / f"{args.bundle}__{args.label}.json", json.dumps(record, indent=2) + "\n")
        print(json.dumps(record["reports"], indent=2))
    atomic_write_text(RESULTS_MD, render(load_records()))
    print(f"wrote {RESULTS_MD.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
