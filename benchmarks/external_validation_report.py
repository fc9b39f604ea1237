"""The page of ``benchmarks/external_validation.py``: fold summaries, mean ± sd over folds, the side-by-side table,
the goals (met/missed on the mean and on the worst fold), the series rule chosen, and the measured minutes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: the goals of the lesion-grounded model: (label, metric, sequence or None, comparison, target)
GOALS = (
    ("slice AUC, FLAIR", "slice_auc", "flair", ">=", 0.95),
    ("slice AUC, post-contrast T1", "slice_auc", "post_contrast_t1", ">=", 0.92),
    ("position-matched AUC, FLAIR", "position_matched_auc", "flair", ">=", 0.90),
    ("median within-scan AUC (FLAIR)", "within_scan_auc_median", "flair", ">=", 0.95),
    ("worst shared patient's within-scan AUC (FLAIR)", "within_scan_shared_min", "flair", ">=", 0.80),
    ("Dice of the lesion map (FLAIR)", "dice_mean", "flair", ">=", 0.75),
    ("pointing game of the lesion map (FLAIR)", "pointing_game_lesion_map", "flair", ">=", 0.90),
    ("healthy IXI volumes called tumour (per fold)", "healthy_called", None, "<=", 0),
    ("Kaggle Testing accuracy", "kaggle_acc", None, ">=", 0.97),
)
_SEQ_KEYS = ("slice_auc", "position_auc", "position_matched_auc", "position_matched_position_auc", "sensitivity",
             "specificity", "within_scan_auc_median", "within_scan_position_auc_median", "pointing_game",
             "pointing_game_brightest_region", "n_slices", "n_tumour_slices", "n_patients", "dice_mean", "dice_median",
             "hd95_median_px", "lesion_map_empty", "pointing_game_lesion_map", "patients_called_tumour_by_rule",
             "threshold_dice_mean", "scan_dice_mean_at_default", "scan_dice_mean")


def shared_patients() -> list[str]:
    """The LGG patients of the shared test data (whatever the run's data root)."""
    from monai_tumorcls.data import LGG_DIRNAME

    shared_dir = ROOT.parent / "shared" / "data" / LGG_DIRNAME
    return sorted(p.name for p in shared_dir.iterdir() if p.is_dir()) if shared_dir.is_dir() else []


def fold_summary(eval_dir: Path) -> dict:
    """The numbers of one evaluated fold."""
    ext = json.loads((eval_dir / "external.json").read_text())
    kaggle = json.loads((eval_dir / "metrics.json").read_text())["reports"]
    healthy, rule = ext["healthy_volumes"], ext["series_rule"]
    out = {"healthy_rate": healthy["called_tumour_rate"], "healthy_called": healthy["called_tumour"],
           "healthy": f"{healthy['called_tumour']}/{healthy['n_subjects']}", "threshold": rule["threshold"],
           "series_rule": {k: rule.get(k) for k in ("method", "why", "rules")},
           "healthy_by_rule": healthy.get("called_tumour_by_rule"),
           "kaggle_acc": kaggle["testing"]["accuracy"], "kaggle_acc_dedup": kaggle["testing_dedup"]["accuracy"],
           "patients": ext["lgg_test_patients"], "sequences": {}, "lesion_threshold": ext.get("lesion_threshold"),
           "other_healthy": {k: v["called_tumour"] for k, v in healthy.get("other_scanners", {}).items()}}
    shared = set(shared_patients())
    for seq, r in ext["sequences"].items():
        s = out["sequences"][seq] = {k: r.get(k) for k in _SEQ_KEYS}
        s["patients_called_tumour"] = r["patients_called_tumour"]["with_tumour"]
        s["within_scan"] = within = r["within_scan_auc"]
        finite = [v for v in within.values() if v is not None]
        s["within_scan_auc_min"] = min(finite) if finite else None
        in_shared = [v for p, v in within.items() if p in shared and v is not None]
        s["within_scan_shared_min"] = min(in_shared) if in_shared else None
    return out


def _derived(fold: dict, metric: str, seq: str | None):
    """Numbers that records written before they were summarised still hold: derived from the measured ones."""
    if metric == "healthy_called" and "healthy" in fold:
        return int(fold["healthy"].split("/")[0])
    within = fold["sequences"].get(seq, {}).get("within_scan", {}) if seq else {}
    if metric == "within_scan_shared_min":
        within = {p: v for p, v in within.items() if p in shared_patients()}
    values = [v for v in within.values() if v is not None]
    return min(values) if values and metric in ("within_scan_auc_min", "within_scan_shared_min") else None


def _value(fold: dict, metric: str, seq: str | None):
    value = fold.get(metric) if seq is None else fold["sequences"].get(seq, {}).get(metric)
    return _derived(fold, metric, seq) if value is None else value


def _values(folds: list[dict], metric: str, seq: str | None) -> list[float]:
    return [v for v in (_value(f, metric, seq) for f in folds) if v is not None and np.isfinite(v)]


def mean_sd(folds: list[dict], metric: str, seq: str | None = None) -> tuple[float | None, float | None]:
    vals = _values(folds, metric, seq)
    if not vals:
        return None, None
    return float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0


def _ms(folds: list[dict], metric: str, seq: str | None = None) -> str:
    m, s = mean_sd(folds, metric, seq)
    return "-" if m is None else f"{m:.3f} ± {s:.3f}"


def _f(v) -> str:
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.3f}"


def _shared_patients_table(models: dict, seqs: list[str]) -> list[str]:
    """Within-scan AUC of the LGG patients that are also in the shared test data, from the fold holding each out."""
    rows = []
    for patient in shared_patients():
        cells = []
        for m in models.values():
            fold = next((f for f in m["folds"] if patient in f["patients"]), None)
            cells += [_f(None if fold is None else fold["sequences"][s].get("within_scan", {}).get(patient)) for s in seqs]
        rows.append(f"| {patient} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    head = " | ".join(f"{name}: {s}" for name in models for s in seqs)
    return ["## The clinical-input check again: the shared LGG patients, held out", "",
            "Tumour vs tumour-free slices of the same scan (within-scan AUC) of the six LGG patients in "
            "`../shared/data`, each from the fold that holds it out (the shared NIfTI volumes: "
            "`clinical_validation.md`, section `resnet18_multisource`).", "",
            f"| patient | {head} |", "|---|" + "---|" * (len(models) * len(seqs)), *rows, ""]


def _table_start(head: list[str]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]


def _lesion_rows(folds: list[dict], seqs: list[str]) -> list[str]:
    """The lesion map on held-out tumour slices (models with a lesion head only)."""
    if not _values(folds, "dice_mean", seqs[0] if seqs else None):
        return []
    rows = [f"| {seq} | {_ms(folds, 'dice_mean', seq)} | {_ms(folds, 'hd95_median_px', seq)} "
            f"| {_ms(folds, 'lesion_map_empty', seq)} | {_ms(folds, 'pointing_game_lesion_map', seq)} "
            f"| {_ms(folds, 'pointing_game', seq)} | {_ms(folds, 'within_scan_auc_min', seq)} |" for seq in seqs]
    return ["", "Lesion map on held-out tumour slices (Dice per slice, MONAI `HausdorffDistanceMetric(percentile=95)` in "
            "pixels of the input; an empty map counts Dice 0):", "",
            *_table_start(["sequence", "Dice (mean)", "HD95 (median, px)", "empty maps", "pointing game: lesion map",
                           "pointing game: Grad-CAM", "within-scan AUC, worst patient"]), *rows,
            *_threshold_rows(folds, seqs)]


def _threshold_rows(folds: list[dict], seqs: list[str]) -> list[str]:
    """The lesion map at the model's own threshold (chosen on the fold's validation people after training) beside
    the default 0.5, on the folds trained since that choice exists, and the scan Dice (each scan's slices pooled)."""
    chosen = [f for f in folds if _values([f], "threshold_dice_mean", seqs[0] if seqs else None)]
    if not chosen:
        return []
    rows = [f"| {seq} | {_ms(chosen, 'dice_mean', seq)} | {_ms(chosen, 'threshold_dice_mean', seq)} "
            f"| {_ms(chosen, 'scan_dice_mean_at_default', seq)} | {_ms(chosen, 'scan_dice_mean', seq)} |"
            for seq in seqs]
    thresholds = ", ".join(f"{f['lesion_threshold']:.2f} (fold {f['fold']})" for f in chosen)
    return ["", "At the model's own lesion threshold, chosen after training on the fold's validation people (best "
            f"mean scan Dice), beside 0.5; folds {_fold_list(chosen)}, thresholds {thresholds}. The scan Dice pools each "
            "held-out scan's slices (tumour and tumour-free) before comparing, as per-volume Dice does; the slices "
            "the set leaves out at a tumour's edge are not in it:", "",
            *_table_start(["sequence", "Dice, tumour slices (0.5)", "Dice, tumour slices (model's threshold)",
                           "scan Dice (0.5)", "scan Dice (model's threshold)"]), *rows]


def _model_lines(name: str, m: dict, seqs: list[str]) -> list[str]:
    """One model's section: the per-sequence table over folds, healthy volumes, Kaggle accuracy, patients called."""
    folds = m["folds"]
    lines = [f"## {name}", "", m["what"], "", *_run_lines(folds),
             *_table_start(["sequence", "slice AUC", "position-only AUC", "position-matched AUC (position-only)",
                            "sensitivity", "specificity", "within-scan AUC (median)", "position-only within-scan",
                            "pointing game", "brightest-region pointer"])]
    for seq in seqs:
        matched = f"{_ms(folds, 'position_matched_auc', seq)} ({_ms(folds, 'position_matched_position_auc', seq)})"
        cells = [_ms(folds, k, seq) for k in ("slice_auc", "position_auc")] + [matched] + [
            _ms(folds, k, seq) for k in ("sensitivity", "specificity", "within_scan_auc_median",
                                         "within_scan_position_auc_median", "pointing_game",
                                         "pointing_game_brightest_region")]
        lines.append(f"| {seq} | " + " | ".join(cells) + " |")
    lines += _lesion_rows(folds, seqs)
    thresholds = ", ".join(format(f["threshold"], ".3f") for f in folds)
    return lines + ["", f"Healthy IXI volumes called tumour: {_ms(folds, 'healthy_rate')} per fold "
                        f"({', '.join(f['healthy'] for f in folds)}); series thresholds {thresholds}.",
                    f"Kaggle Testing accuracy: {_ms(folds, 'kaggle_acc')} (without the 103 files duplicated in Training: "
                    f"{_ms(folds, 'kaggle_acc_dedup')}).",
                    *(f"Healthy volume of another scanner, never trained on ({other}): called tumour in "
                      f"{sum(f['other_healthy'].get(other, False) for f in folds)}/{len(folds)} folds."
                      for other in dict.fromkeys(n for f in folds for n in f.get("other_healthy", {}))),
                    "Held-out LGG patients called tumour (FLAIR), per fold: "
                    + ", ".join(f["sequences"].get("flair", {}).get("patients_called_tumour", "-") for f in folds) + ".",
                    *_series_rule_lines(folds), ""]


def _fold_list(folds: list[dict]) -> str:
    """The folds a model was measured on (records written before folds were numbered: 0..n-1)."""
    return ", ".join(str(f.get("fold", i)) for i, f in enumerate(folds))


def _run_lines(folds: list[dict]) -> list[str]:
    """Which folds, and which run measured each (its command, date, machine and what else used the cores)."""
    runs: dict[str, list[dict]] = {}
    for f in folds:
        runs.setdefault(json.dumps(f.get("run"), sort_keys=True), []).append(f)
    lines = []
    for key, measured in runs.items():
        run = json.loads(key)
        where = (f" by `{run['command']}` on {run['date']}; machine: {run['machine']}. {run['cores_note']}"
                 if run else " by the page's command.")
        lines += [f"Measured on fold(s) {_fold_list(measured)}{where}", ""]
    return lines


def _series_rule_lines(folds: list[dict]) -> list[str]:
    """Which series rule each fold's validation people chose, and why (folds evaluated since both rules exist)."""
    chosen = [f.get("series_rule", {}) for f in folds]
    if not any(c.get("why") for c in chosen):
        return []
    return ["Series rule chosen on each fold's validation people (Youden J, then series AUC; top-k mean on a tie): "
            + "; ".join(f"fold {k}: {c['why']}" for k, c in enumerate(chosen) if c.get("why")) + "."]


def _baseline_folds(models: dict) -> list[dict]:
    """One summary per fold for the model-free baselines (the same people give the same values whatever the model):
    of each fold, the summary that holds the most metrics (an older evaluation lacks the newer baselines)."""
    best: dict[int, tuple[int, dict]] = {}
    for m in models.values():
        for i, fold in enumerate(m["folds"]):
            k = fold.get("fold", i)
            held = sum(v is not None for s in fold["sequences"].values() for v in s.values())
            if k not in best or held > best[k][0]:
                best[k] = (held, fold)
    return [fold for _, (_, fold) in sorted(best.items())]


def _side_by_side(models: dict, seqs: list[str]) -> list[str]:
    """Every model and both model-free baselines on the same held-out people, per sequence (mean over folds)."""
    if not models:
        return []
    lines = ["## Side by side (mean ± sd over folds)", "",
             *_table_start(["sequence", "method", "slice AUC", "position-matched AUC", "within-scan AUC (median)",
                            "within-scan, worst patient", "Dice", "HD95 (px)", "pointing: lesion map",
                            "pointing: Grad-CAM", "IXI called tumour", "Kaggle Testing", "folds"])]
    base = _baseline_folds(models)
    for seq in seqs:
        for name, m in models.items():
            fs = m["folds"]
            cells = [_ms(fs, k, seq) for k in ("slice_auc", "position_matched_auc", "within_scan_auc_median",
                                               "within_scan_auc_min", "dice_mean", "hd95_median_px",
                                               "pointing_game_lesion_map", "pointing_game")]
            lines.append(f"| {seq} | {name} | " + " | ".join(cells) + f" | {_ms(fs, 'healthy_called')} "
                         f"| {_ms(fs, 'kaggle_acc')} | {_fold_list(fs)} |")
        prior = [_ms(base, k, seq) for k in ("position_auc", "position_matched_position_auc",
                                             "within_scan_position_auc_median")]
        lines.append(f"| {seq} | position-only prior | " + " | ".join(prior) + " | - | - | - | - | - | - | - | " + _fold_list(base) + " |")
        lines.append(f"| {seq} | brightest-region pointer | - | - | - | - | - | - | - "
                     f"| {_ms(base, 'pointing_game_brightest_region', seq)} | - | - | {_fold_list(base)} |")
    return lines + ["", "The brightest-region pointer (the brightest 9x9 window, no model) is shown in the Grad-CAM "
                        "pointing column: it is what a saliency map has to beat.", ""]


def _met(value: float | None, op: str, target: float) -> str:
    return "-" if value is None else ("met" if (value >= target if op == ">=" else value <= target) else "missed")


def _goal_lines(models: dict) -> list[str]:
    lines = ["## Goals", "",
             "Each goal on the mean over a model's folds (fold numbers in brackets after its name) and on its worst "
             "fold; `-` where the model was not measured on it.", "",
             *_table_start(["goal", "target", *(f"{name} ({_fold_list(m['folds'])}): mean ± sd (worst fold)"
                                                for name, m in models.items()),
                            *(f"{name}: mean / worst" for name in models)])]
    for label, metric, seq, op, target in GOALS:
        reached, met = [], []
        for m in models.values():
            vals = _values(m["folds"], metric, seq)
            worst = (min(vals) if op == ">=" else max(vals)) if vals else None
            mean = float(np.mean(vals)) if vals else None
            reached.append(f"{_ms(m['folds'], metric, seq)} ({_f(worst)})")
            met.append(f"{_met(mean, op, target)} / {_met(worst, op, target)}")
        lines.append(f"| {label} | {op} {target} | " + " | ".join(reached + met) + " |")
    return lines


def _minutes_lines(steps: dict) -> list[str]:
    """Measured minutes per model and fold (training + evaluation; the Kaggle-only training is shared by all folds)."""
    per: dict[tuple[str, str], float] = {}
    for key, w in steps.items():
        found = re.match(r"(.+?): (?:train|evaluate) fold (\d+)$", key)
        if found:
            per[(found[1], found[2])] = per.get((found[1], found[2]), 0.0) + w["seconds"] / 60
    if not per:
        return []
    return ["", "## Measured minutes per fold", "",
            *_table_start(["model", "fold", "minutes (train + evaluate)"]),
            *(f"| {model} | {fold} | {minutes:.1f} |" for (model, fold), minutes in per.items())]


def _step_lines(steps: dict) -> list[str]:
    lines = ["", "## Commands and wall times", ""]
    for key, w in steps.items():
        lines += [f"- {key}: {w['seconds']:.0f} s, finished {w['finished']} (load average at the end "
                  f"{', '.join(f'{x:.1f}' for x in w['load_average_at_end'])}):", "", "  ```bash", f"  {w['command']}",
                  "  ```", ""]
    return lines


def render(record: dict) -> str:
    models = record["models"]
    seqs = list(next(iter(models.values()))["folds"][0]["sequences"]) if models else []
    lines = [
        "# External validation: held-out patients (LGG) and healthy volunteers (IXI)",
        "",
        f"Written by `{record['command']}` on {record['date']}; machine: {record['machine']}.",
        f"Data: `{record['data']}`. {record['cores_note']}",
        "",
        "Each fold holds out a fifth of the 110 LGG patients (site-stratified, seeded) and of the 20 IXI subjects; the",
        "numbers are mean ± standard deviation over the folds each model was measured on (its section and the `folds`",
        "column say which; one fold has no spread). A fold holds out the same people for every model.",
        "`position-only` ranks slices by closeness to the middle of the patient's stack without looking at them:",
        "a model has learned the lesion rather than the anatomical level only where it beats it; `position-matched`",
        "compares only tumour and tumour-free slices at the same distance from the middle (fifths), with the",
        "position-only score's own value in brackets. `within-scan` is",
        "the AUC of tumour vs tumour-free slices of one scan (one scanner, one protocol), median over patients.",
        "The series rule (mean of the top 3 slice probabilities >= threshold) takes its threshold from each fold's",
        "validation people only. The pointing game counts held-out tumour slices whose Grad-CAM peak (tumour class,",
        "`features.layer4`) lies in the mask grown by 4 px; the brightest-region pointer (the brightest 9x9 window of",
        "the input, no model) is what a saliency map has to beat on these hyperintense lesions.",
        "A lesion-grounded model (a lesion map per slice) is also measured on its lesion map (Dice, HD95, pointing",
        "game of its peak), and its series rule is the top-3 mean or the nominal lesion volume, whichever separates",
        "the fold's validation people better (Youden J).",
        "",
    ]
    for name, m in models.items():
        lines += _model_lines(name, m, seqs)
    lines += _side_by_side(models, seqs) + _shared_patients_table(models, seqs) + _goal_lines(models)
    if record.get("note"):
        lines += ["", "## What this shows", "", record["note"]]
    lines += _minutes_lines(record["steps"]) + _step_lines(record["steps"])
    return "\n".join(lines).rstrip() + "\n"
