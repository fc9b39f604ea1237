"""Train + evaluate one bundle and record its measured results next to the published ones.

Runs the user's own commands (``python -m monai.bundle run training ...`` then the evaluate overlay) from the
project root, times them, reads ``eval/metrics.json``, and writes one record per run to
``docs/results/<bundle>__<label>.json`` (atomically), then regenerates ``docs/results.md`` from all records.

Examples::

    python benchmarks/results.py --bundle resnet18_binary --label full-recipe-cpu
    python benchmarks/results.py --bundle resnet50_spp_binary --label cpu-short -- --epochs 2 --image_size 128
    python benchmarks/results.py --render-only          # rebuild docs/results.md from docs/results/*.json

Everything after ``--`` is passed to both the training and the evaluation command as overrides.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monai_tumorcls.checkpoint import read_checkpoint_metadata  # noqa: E402
from monai_tumorcls.handlers.training_state import read_epoch_log  # noqa: E402
from monai_tumorcls.utils.atomic import atomic_write_text  # noqa: E402
from monai_tumorcls.utils.run_info import cpu_model, environment_info, shell_join  # noqa: E402

RESULTS_DIR = ROOT / "docs" / "results"
RESULTS_MD = ROOT / "docs" / "results.md"

#: the published numbers each bundle reproduces (as reported by the pipelines' authors; not measured here)
PUBLISHED = {
    "resnet18_binary": ("1", "ResNet18, ImageNet TL, tumour vs no tumour, 10 epochs",
                        "acc 84.31, P 79.31, R 92.00, F1 85.19"),
    "resnet50_4class": ("2", "ResNet-50/101/152, 4 classes, 256 px, Dense128 head, Adam 1e-4, 10 epochs",
                        "acc 0.95 / 0.95 / 0.93; training 317 / 497 / 873 s"),
    "resnet50_spp_binary": ("3", "ResNet-50 + 3-level SPP, binary, SGD, 25 epochs",
                            "ablation basic / +SPP / +TL / +SPP+TL = 0.924 / 0.942 / 0.981 / 0.990 acc"),
    "resnet50_finetune_4class": ("4", "ResNet50V2 frozen + head, then last block at lr 1e-4, 4 classes",
                                 "99.54% on Testing (1,311)"),
    "resnet18_4class": ("5", "ResNet18, 4 classes, 224 px, stage 1 frozen (fc, Adam 1e-3), stage 2 layer3+4+fc (Adam 1e-4)",
                        "stage 1 92.68%, stage 2 98.70%"),
}


def machine() -> str:
    """One line: CPU model and cores, or the GPU."""
    env = environment_info()
    if env.get("cuda"):
        return f"{env['cuda']} (GPU), {os.cpu_count()} CPU cores"
    return f"{cpu_model()}, {os.cpu_count()} cores, no GPU"


def merged_sections(existing: str, title: str, intro: str, name: str, new_section: list[str]) -> str:
    """A benchmark page (``title``, ``intro``, then ``## name`` sections) with ``name``'s section replaced (or added)
    and the other sections of ``existing`` kept in order: each run of a script rewrites only what it measured."""
    sections = {}
    for block in existing.split("\n## ")[1:]:
        sections[block.split("\n", 1)[0].strip()] = "## " + block.rstrip() + "\n"
    sections[name] = "\n".join(new_section).rstrip() + "\n"
    return "\n".join([title, "", intro, ""]) + "\n" + "\n".join(sections.values())


def rel_path(path: Path) -> str:
    """``path`` relative to the project root when it lies below it (for pasteable commands), else as it is."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


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


#: the test split of each ``--dataset``, as the tables name it
TEST_SPLITS = {"kaggle": "Kaggle Testing", "brats2015": "BraTS-2015 held out"}


def run_logged(cmd: list[str], log: Path) -> float:
    """Run ``cmd`` from the project root with its output appended to ``log`` (a resumed run keeps the log of its
    earlier sittings); return its wall time, exit on failure."""
    start = time.perf_counter()
    with open(log, "a") as f:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"command failed ({proc.returncode}), see {log}: {shell_join(cmd)}")
    return seconds


def run_bundle(
    bundle: str, label: str, overrides: list[str], logs: Path, bundle_root: str | None, stage_checkpoints: list[str]
) -> dict:
    cfg = f"bundles/{bundle}/configs"
    extra = list(overrides) + (["--bundle_root", bundle_root] if bundle_root else [])
    root = Path(bundle_root) if bundle_root else ROOT / "bundles" / bundle
    train_cmd = ["python", "-m", "monai.bundle", "run", "training", "--config_file", f"{cfg}/train.json",
                 "--logging_file", f"{cfg}/logging.conf", *extra]
    eval_cmd = ["python", "-m", "monai.bundle", "run", "--config_file", f"['{cfg}/train.json','{cfg}/evaluate.json']",
                "--logging_file", f"{cfg}/logging.conf", *extra]
    logs.mkdir(parents=True, exist_ok=True)
    exe = [sys.executable] + train_cmd[1:]
    train_s = run_logged(exe, logs / f"{bundle}__{label}__train.log")
    eval_s = run_logged([sys.executable] + eval_cmd[1:], logs / f"{bundle}__{label}__eval.log")
    metrics = json.loads((root / "eval" / "metrics.json").read_text())
    ckpt_info_path = root / "models" / "model.pt.json"
    ckpt_info = json.loads(ckpt_info_path.read_text()) if ckpt_info_path.is_file() else {}
    stages = {}
    for ckpt in stage_checkpoints:  # e.g. the best stage-1 checkpoint of a two-stage bundle, on Testing too
        out_dir = root / f"eval_{Path(ckpt).stem}"
        stage_cmd = eval_cmd + ["--eval_checkpoint", rel_path(root / "models" / ckpt), "--output_dir", rel_path(out_dir)]
        run_logged([sys.executable] + stage_cmd[1:], logs / f"{bundle}__{label}__eval_{Path(ckpt).stem}.log")
        stage_metrics = json.loads((out_dir / "metrics.json").read_text())
        info_path = root / "models" / f"{ckpt}.json"
        stages[ckpt] = {
            "command": shell_join(stage_cmd),
            "best_checkpoint": json.loads(info_path.read_text()) if info_path.is_file() else {},
            "reports": {k: _summary(v) for k, v in stage_metrics["reports"].items()},
        }
    return {
        "bundle": bundle,
        "label": label,
        "dataset": dataset_of(overrides),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commands": [shell_join(train_cmd), shell_join(eval_cmd)],
        "overrides": overrides,
        "machine": machine(),
        "environment": environment_info(),
        "train_seconds": round(train_s, 1),
        "eval_seconds": round(eval_s, 1),
        "initialisation": metrics.get("initialisation"),
        "best_checkpoint": ckpt_info,
        "reports": {k: _summary(v) for k, v in metrics["reports"].items()},
        "temperature_fit": read_checkpoint_metadata(root / "models" / "model.pt").get("calibration"),
        "epoch_log": {p.name: read_epoch_log(p) for p in sorted((root / "models").glob("training_state*.pt"))},
        "stage_checkpoints": stages,
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


def _calibration_lines(r: dict) -> list[str]:
    """Expected calibration error and Brier score on each test split, before and after the temperature fitted on
    the validation split (stored in the checkpoint)."""
    fit = r.get("temperature_fit")
    rows = [(n, s["calibration"]) for n, s in r["reports"].items() if "calibration" in s]
    if not fit or not rows:
        return []
    lines = [f"Calibration: temperature T = {rows[0][1]['temperature']:.4f} fitted on the validation split "
             f"({fit['num_samples']} images; there cross-entropy, which T minimises, {fit['nll_before']:.4f} -> "
             f"{fit['nll_after']:.4f}, ECE {fit['ece_before']:.4f} -> {fit['ece_after']:.4f}, Brier "
             f"{fit['brier_before']:.4f} -> {fit['brier_after']:.4f}), applied as softmax(logits / T):", "",
             "| split | ECE (15 bins), T = 1 | ECE, fitted T | Brier, T = 1 | Brier, fitted T |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {n} | {c['ece']:.4f} | {c['ece_scaled']:.4f} | {c['brier']:.4f} | {c['brier_scaled']:.4f} |" for n, c in rows]
    return lines + [""]


def _epoch_log_lines(r: dict) -> list[str]:
    """Whole training time and machine load from the epochs the training state logged, over every sitting of a
    resumed run (``train_seconds`` is the last sitting's wall time only)."""
    parts = []
    for name, log in r.get("epoch_log", {}).items():
        if log:
            loads = [e["load_1min"] for e in log]
            epochs = f"epoch {log[0]['epoch']}" if len(log) == 1 else f"epochs {log[0]['epoch']}-{log[-1]['epoch']}"
            parts.append(f"{name}: {epochs}, {sum(e['seconds'] for e in log):.0f} s, "
                         "1-min load average at epoch ends median "
                         f"{statistics.median(loads):.2f}, max {max(loads):.2f}")
    return [f"- epochs timed in the training state (training + validation, every sitting): {'; '.join(parts)}"] if parts else []


def _validation_lines(r: dict) -> list[str]:
    """Each validated epoch's score from the training state, so that the best epoch is read beside the others."""
    lines = []
    for name, log in r.get("epoch_log", {}).items():
        metrics = dict.fromkeys(key for e in log for key in e if key not in ("epoch", "seconds", "load_1min"))
        lines += [f"- {metric} by epoch ({name}): " + ", ".join(f"{e['epoch']}: {e[metric]:.3f}" for e in log if metric in e)
                  for metric in metrics]
    return lines


def _training_seconds(r: dict) -> str:
    """The summary's training time: the training command's wall time or, for a run trained in several sittings
    (its logged epochs add up to more), the sum of the logged epochs, with "≥" when the log misses the first
    epochs (they were trained before epochs were logged)."""
    if not _trained_in_sittings(r):
        return f"{r['train_seconds']:.0f}"
    first_epochs_missing = any(log and log[0]["epoch"] > 1 for log in r["epoch_log"].values())
    return ("≥ " if first_epochs_missing else "") + f"{_logged_seconds(r):.0f}"


def _logged_seconds(r: dict) -> float:
    return sum(e["seconds"] for log in r.get("epoch_log", {}).values() for e in log)


def _trained_in_sittings(r: dict) -> bool:
    """Whether the logged epochs add up to more than the training command's wall time: a resumed run, whose
    ``train_seconds`` covers the last sitting only."""
    return _logged_seconds(r) > r["train_seconds"]


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.2f}"


def _accuracy_cell(accuracy: float, n: int) -> str:
    """Accuracy in percent with its 95 % Wilson score interval: how closely ``n`` test images pin it down."""
    from scipy.stats import binomtest

    interval = binomtest(round(accuracy * n), n).proportion_ci(0.95, method="wilson")
    return f"{_pct(accuracy)} ({100 * interval.low:.1f}–{100 * interval.high:.1f})"


def _summary_table(records: list[dict]) -> list[str]:
    """One row per run: Testing accuracy of the final and of any stage checkpoint, side by side."""
    lines = ["Side by side (details, commands and the per-metric tables below):", "",
             "| pipeline | bundle | run | initialisation | test data: n (dedup n) | training s | stage-1 checkpoint: test acc % | final: test acc % (dedup) | published |",
             "|---|---|---|---|---|---:|---:|---:|---|"]
    for r in records:
        num, _, pub = PUBLISHED.get(r["bundle"], ("?", "", ""))
        init = (r.get("initialisation") or "").split(" (")[0]
        stage = "; ".join(f"{_pct(st['reports'].get('testing', {}).get('accuracy'))}"
                          for st in r.get("stage_checkpoints", {}).values()) or "—"
        t, d = r["reports"].get("testing", {}), r["reports"].get("testing_dedup", {})
        test_data = f"{TEST_SPLITS[r.get('dataset', 'kaggle')]}, {t.get('num_samples')} ({d.get('num_samples')})"
        lines.append(f"| {num} | `{r['bundle']}` | {r['label']} | {init} | {test_data} | {_training_seconds(r)} | {stage} | "
                     f"{_pct(t.get('accuracy'))} ({_pct(d.get('accuracy'))}) | {pub} |")
    return lines + [""]


def render(records: list[dict]) -> str:
    lines = [
        "# Results: published pipelines and our measurements",
        "",
        "Generated by `benchmarks/results.py` from the records in `docs/results/*.json`; every number below the",
        "published column was measured by the command shown with it. Test split, unless a row names another: the",
        "official Kaggle `Testing` folder (1,311 images; binary = tumour vs notumor) and `testing_dedup` (the 103",
        "files byte-identical to Training files removed, 1,208 images); evaluations since 2026-12-03 add",
        "`testing_other_sizes` (the 524 images not 512x512, where image size does not give the class away:",
        "`docs/kaggle_size_shortcut.md`). Pipeline 3's rows on its own data test on the",
        "60 held-out BraTS-2015-derived slices (`docs/training.md`, `docs/brats2015_split.md`). Each run's table gives",
        "the accuracy's 95 % Wilson score interval from the number of test images: on 60 slices it spans 12-16",
        "points at the accuracies measured there, so rows on that set that differ by a few slices are not told apart.",
        "",
        "ImageNet weights cannot be downloaded on the machines these runs used, so unless a row says otherwise the",
        "networks were trained from **random initialisation** (`pretrained: null`). The published pipelines all",
        "start from ImageNet weights, so the two columns are not a like-for-like comparison. Budgets below the full",
        "recipe (fewer epochs, smaller images, subsets) are stated in each row's overrides.",
        "",
        "## Published",
        "",
        "| pipeline | bundle | recipe | published |",
        "|---|---|---|---|",
    ]
    for bundle, (num, recipe, pub) in PUBLISHED.items():
        lines.append(f"| {num} | `{bundle}` | {recipe} | {pub} |")
    lines += ["", "## Measured", ""]
    if not records:
        lines.append("No run recorded yet.")
    ordered = sorted(records, key=lambda r: (PUBLISHED.get(r["bundle"], ("9",))[0], r["label"]))
    if records:
        lines += _summary_table(ordered)
    for r in ordered:
        num = PUBLISHED.get(r["bundle"], ("?",))[0]
        t = r["reports"].get("testing", {})
        lines += [f"### Pipeline {num}: `{r['bundle']}` — {r['label']}", ""]
        lines += [f"- machine: {r['machine']}; torch {r['environment']['torch']}, monai {r['environment']['monai']}; {r['date']}",
                  f"- initialisation: {r['initialisation']}",
                  f"- overrides: `{' '.join(r['overrides']) or '(none: the bundle defaults)'}`",
                  f"- best checkpoint: epoch {r['best_checkpoint'].get('epoch')} (val_acc {r['best_checkpoint'].get('val_acc')})",
                  f"- wall time: training {r['train_seconds']:.0f} s"
                  f"{' (the last sitting only; every sitting in the next line)' if _trained_in_sittings(r) else ''}, "
                  f"evaluation {r['eval_seconds']:.0f} s",
                  *_epoch_log_lines(r),
                  *_validation_lines(r),
                  *([f"- note: {r['note']}"] if r.get("note") else []),
                  "- commands:", "", "  ```bash", *[f"  {c}" for c in r["commands"]],
                  *[f"  {st['command']}" for st in r.get("stage_checkpoints", {}).values()], "  ```", ""]
        lines += ["| checkpoint | split | n | accuracy % (95 % Wilson interval) | macro F1 % | ROC-AUC (macro OvR) % | tumour vs notumor: ACC / PREC / REC / F1 / SPEC / AUC % |",
                  "|---|---|---|---|---|---|---|"]
        rows = [(f"model.pt (best val epoch {r['best_checkpoint'].get('epoch')})", r["reports"])]
        rows += [(f"{ck} (best val epoch {st['best_checkpoint'].get('epoch')})", st["reports"]) for ck, st in r.get("stage_checkpoints", {}).items()]
        for ck_name, reports in rows:
            for name, s in reports.items():
                b = s.get("tumour_vs_notumor")
                bin_txt = " / ".join(_pct(b[k]) for k in ("accuracy", "precision", "recall", "f1", "specificity", "roc_auc")) if b else "n/a"
                lines.append(f"| {ck_name} | {name} | {s['num_samples']} | {_accuracy_cell(s['accuracy'], s['num_samples'])} | {_pct(s['macro_f1'])} | {_pct(s['roc_auc_macro_ovr'])} | {bin_txt} |")
        recalls = t.get("per_class_recall", {})
        if recalls:
            lines += ["", "Per-class recall (testing): " + ", ".join(f"{c} {_pct(v)}" for c, v in recalls.items())]
        lines.append("")
        lines += _calibration_lines(r)
    return "\n".join(lines) + "\n"


def load_records() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(RESULTS_DIR.glob("*.json"))]


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", help="bundle folder name under bundles/")
    p.add_argument("--label", default="default", help="name of this run (letters, digits, - and _)")
    p.add_argument("--bundle-root", default=None, help="where checkpoints/reports go (default: the bundle folder)")
    p.add_argument("--logs", default="/tmp/monai_tumorcls_results", help="folder for the run logs")
    p.add_argument("--render-only", action="store_true", help="only rebuild docs/results.md")
    p.add_argument("--note", default="", help="free text stored with the record (e.g. what else ran on the machine); "
                   "a note.txt in the run folder is added to it")
    p.add_argument("--also-evaluate", nargs="*", default=[], metavar="CKPT",
                   help="more checkpoints in models/ to evaluate on Testing, e.g. model_stage1.pt")
    args = p.parse_args(argv)
    if not args.render_only:
        if not args.bundle:
            p.error("--bundle is required")
        record = run_bundle(args.bundle, args.label, overrides, Path(args.logs), args.bundle_root, args.also_evaluate)
        record["note"] = run_note(args.note, Path(args.bundle_root) if args.bundle_root else ROOT / "bundles" / args.bundle)
        atomic_write_text(RESULTS_DIR / f"{args.bundle}__{args.label}.json", json.dumps(record, indent=2) + "\n")
        print(json.dumps(record["reports"], indent=2))
    atomic_write_text(RESULTS_MD, render(load_records()))
    print(f"wrote {RESULTS_MD}")


if __name__ == "__main__":
    main()
