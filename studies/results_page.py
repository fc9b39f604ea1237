"""``docs/reports/results.md``: the published numbers beside the measured ones, rendered from the records in
``docs/results/*.json`` (written by :mod:`studies.results`) and nothing else, so the committed page is exactly what
:func:`render` writes from the committed records (a test checks it)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "docs" / "results"
RESULTS_MD = ROOT / "docs" / "reports" / "results.md"

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


#: the test split of each ``--dataset``, as the tables name it
TEST_SPLITS = {"kaggle": "Kaggle Testing", "brats2015": "BraTS-2015 held out"}


def _calibration_lines(r: dict) -> list[str]:
    """Expected calibration error and Brier score on each test split, before and after the temperature fitted on
    the validation split (stored in the checkpoint)."""
    fit = r.get("temperature_fit")
    rows = [(n, s["calibration"]) for n, s in r["reports"].items() if "calibration" in s]
    if not fit or not rows:
        return []
    if not fit.get("kept", True):  # a record without "kept" predates the rule: its temperature was applied
        lines = [f"Calibration: no temperature applied ({fit['reason']}); the plain softmax:", "",
                 "| split | ECE (15 bins) | Brier |", "|---|---:|---:|"]
        return lines + [f"| {n} | {c['ece']:.4f} | {c['brier']:.4f} |" for n, c in rows] + [""]
    nll = "held-out cross-entropy" if "kept" in fit else "there cross-entropy, which T minimises,"
    lines = [f"Calibration: temperature T = {rows[0][1]['temperature']:.4f} fitted on the validation split "
             f"({fit['num_samples']} images; {nll} {fit['nll_before']:.4f} -> "
             f"{fit['nll_after']:.4f}, ECE {fit['ece_before']:.4f} -> {fit['ece_after']:.4f}, Brier "
             f"{fit['brier_before']:.4f} -> {fit['brier_after']:.4f}), applied as softmax(logits / T):", "",
             "| split | ECE (15 bins), T = 1 | ECE, fitted T | Brier, T = 1 | Brier, fitted T |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {n} | {c['ece']:.4f} | {c['ece_scaled']:.4f} | {c['brier']:.4f} | {c['brier_scaled']:.4f} |" for n, c in rows]
    return lines + [""]


def _epoch_log_lines(r: dict) -> list[str]:
    """Whole training time and machine load from the epochs the training state logged, over every command of a
    resumed run (``train_seconds`` is the last command's wall time only)."""
    parts = []
    for name, log in r.get("epoch_log", {}).items():
        if log:
            loads = [e["load_1min"] for e in log]
            epochs = f"epoch {log[0]['epoch']}" if len(log) == 1 else f"epochs {log[0]['epoch']}-{log[-1]['epoch']}"
            parts.append(f"{name}: {epochs}, {sum(e['seconds'] for e in log):.0f} s, "
                         "1-min load average at epoch ends median "
                         f"{statistics.median(loads):.2f}, max {max(loads):.2f}")
    return [f"- epochs timed in the training state (training + validation, every resumption): {'; '.join(parts)}"] if parts else []


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


INTRO = [
    "# Results: published pipelines and our measurements",
    "",
    "Generated by `python -m studies.results` from the records in `docs/results/*.json`; every number below the",
    "published column was measured by the command shown with it. Test split, unless a row names another: the",
    "official Kaggle `Testing` folder (1,311 images; binary = tumour vs notumor) and `testing_dedup` (the 103",
    "files byte-identical to Training files removed, 1,208 images); records evaluated with the current code add",
    "`testing_other_sizes` (the 524 images not 512x512, where image size does not give the class away:",
    "`kaggle_size_shortcut.md`). Pipeline 3's rows on its own data test on the",
    "60 held-out BraTS-2015-derived slices (`../training.md`, `brats2015_split.md`). Each run's table gives",
    "the accuracy's 95 % Wilson score interval from the number of test images: on 60 slices it spans 12-16",
    "points at the accuracies measured there, so rows on that set that differ by a few slices are not told apart.",
    "",
    "ImageNet weights cannot be downloaded on the machines these runs used, so unless a row says otherwise the",
    "networks were trained from **random initialisation** (`pretrained: null`). The published pipelines all",
    "start from ImageNet weights, so the two columns are not a like-for-like comparison. Budgets below the full",
    "recipe (fewer epochs, smaller images, subsets) are stated in each row's overrides.",
    "",
]


def _epoch_minutes(r: dict) -> str:
    """The shortest and longest logged epoch, in minutes (``"—"`` when the record logged none)."""
    seconds = [e["seconds"] for log in r.get("epoch_log", {}).values() for e in log]
    return f"{min(seconds) / 60:.1f}–{max(seconds) / 60:.1f}" if seconds else "—"


def status_table(records: list[dict]) -> list[str]:
    """The training status of every recorded run (``tools/full_recipes.py`` entries and the others): when it was
    recorded, its overrides, how long its epochs took, the checkpoint kept and its Testing accuracy."""
    lines = ["### Training status", "",
             "One row per record; `python -m tools.full_recipes --status` tells the queued full-recipe entries that "
             "have none yet (done / epoch n of N / not started).", "",
             "| run | bundle | overrides | recorded | epochs logged: min per epoch | training s | best validation epoch "
             "(val_acc) | test acc % |", "|---|---|---|---|---:|---:|---|---:|"]
    for r in records:
        best = r["best_checkpoint"]
        val = "" if best.get("val_acc") is None else f" ({best['val_acc']:.3f})"
        lines.append(f"| {r['label']} | `{r['bundle']}` | `{' '.join(r['overrides']) or '(defaults)'}` | {r['date']} | "
                     f"{_epoch_minutes(r)} | {_training_seconds(r)} | {best.get('epoch')}{val} | "
                     f"{_pct(r['reports'].get('testing', {}).get('accuracy'))} |")
    return lines + [""]


def _published_table() -> list[str]:
    lines = ["## Published", "", "| pipeline | bundle | recipe | published |", "|---|---|---|---|"]
    return lines + [f"| {num} | `{bundle}` | {recipe} | {pub} |" for bundle, (num, recipe, pub) in PUBLISHED.items()]


def _run_facts(r: dict) -> list[str]:
    """The bullet list of one run: machine, initialisation, overrides, checkpoint, times, note and commands."""
    record = f"docs/results/{r['bundle']}__{r['label']}.json"
    return [f"- machine: {r['machine']}; torch {r['environment']['torch']}, monai {r['environment']['monai']}; {r['date']}",
            f"- initialisation: {r['initialisation']}",
            f"- overrides: `{' '.join(r['overrides']) or '(none: the bundle defaults)'}`",
            f"- best checkpoint: epoch {r['best_checkpoint'].get('epoch')} (val_acc {r['best_checkpoint'].get('val_acc')})",
            f"- wall time: training {r['train_seconds']:.0f} s"
            f"{' (the last training command only; all logged epochs in the next line)' if _trained_in_sittings(r) else ''}, "
            f"evaluation {r['eval_seconds']:.0f} s",
            *_epoch_log_lines(r),
            *_validation_lines(r),
            *([f"- how the run went (other jobs on the cores, pauses, resumptions): the `note` of `{record}`"]
              if r.get("note") else []),
            "- commands:", "", "  ```bash", *[f"  {c}" for c in r["commands"]],
            *[f"  {st['command']}" for st in r.get("stage_checkpoints", {}).values()], "  ```", ""]


def _metrics_lines(r: dict) -> list[str]:
    """The per-split table of the final (and any stage) checkpoint, per-class recall and calibration."""
    lines = ["| checkpoint | split | n | accuracy % (95 % Wilson interval) | macro F1 % | ROC-AUC (macro OvR) % | tumour vs notumor: ACC / PREC / REC / F1 / SPEC / AUC % |",
             "|---|---|---|---|---|---|---|"]
    rows = [(f"model.pt (best val epoch {r['best_checkpoint'].get('epoch')})", r["reports"])]
    rows += [(f"{ck} (best val epoch {st['best_checkpoint'].get('epoch')})", st["reports"]) for ck, st in r.get("stage_checkpoints", {}).items()]
    for ck_name, reports in rows:
        for name, s in reports.items():
            b = s.get("tumour_vs_notumor")
            bin_txt = " / ".join(_pct(b[k]) for k in ("accuracy", "precision", "recall", "f1", "specificity", "roc_auc")) if b else "n/a"
            lines.append(f"| {ck_name} | {name} | {s['num_samples']} | {_accuracy_cell(s['accuracy'], s['num_samples'])} | {_pct(s['macro_f1'])} | {_pct(s['roc_auc_macro_ovr'])} | {bin_txt} |")
    recalls = r["reports"].get("testing", {}).get("per_class_recall", {})
    if recalls:
        lines += ["", "Per-class recall (testing): " + ", ".join(f"{c} {_pct(v)}" for c, v in recalls.items())]
    return lines + ["", *_calibration_lines(r)]


def render(records: list[dict]) -> str:
    """The whole page: published numbers, the side-by-side and status tables, then each run's details."""
    lines = [*INTRO, *_published_table(), "", "## Measured", ""]
    ordered = sorted(records, key=lambda r: (PUBLISHED.get(r["bundle"], ("9",))[0], r["label"]))
    if not records:
        lines.append("No run recorded yet.")
    else:
        lines += _summary_table(ordered) + status_table(ordered)
    for r in ordered:
        lines += [f"### Pipeline {PUBLISHED.get(r['bundle'], ('?',))[0]}: `{r['bundle']}` — {r['label']}", ""]
        lines += _run_facts(r) + _metrics_lines(r)
    return "\n".join(lines) + "\n"


def load_records(results_dir: Path = RESULTS_DIR) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))]
