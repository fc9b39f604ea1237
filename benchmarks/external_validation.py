"""Held-out-patient validation of the multi-source bundle over patient folds, next to a Kaggle-only model.

Runs the user's own bundle commands (``bundles/resnet18_multisource``) from the project root:

1. **Kaggle-only model**: ``train.json --sources "['kaggle']"`` once (its training data do not depend on the fold),
   then ``evaluate.json --fold k`` for every fold: Kaggle Testing metrics, and the held-out LGG patients and IXI
   subjects of fold k, which it has never seen.
2. **Multi-source model**, per fold k: ``train.json --fold k`` on Kaggle Training + the LGG and IXI training people of
   fold k, initialised from the Kaggle-only model's trunk (``--pretrained``), then ``evaluate.json --fold k``.

Every step is skipped when its output exists (``train.done`` / ``eval/external.json``), so a killed run resumes
where it stopped. Writes ``docs/reports/external_validation.md`` and ``docs/reports/external_validation.json``
(atomically) with mean and spread over the folds, the commands, the machine and the wall times.

    MONAI_DATA_DIRECTORY=/path/to/data python -m benchmarks.external_validation --folds 5
    python -m benchmarks.external_validation --render-only      # rebuild the doc from the record

Everything after ``--`` is passed to every training and evaluation command (e.g. ``-- --epochs 2``; evaluation
must see the same ``image_size`` as training).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

import numpy as np

from monai_tumorcls.utils.reporting import local_path, machine_line, portable_args, portable_path, run_logged

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = "resnet18_multisource"
CFG = f"bundles/{BUNDLE}/configs"
RECORD = ROOT / "docs" / "reports" / "external_validation.json"  # not in docs/results/: studies.results renders those
DOC = ROOT / "docs" / "reports" / "external_validation.md"
#: the goals of the real-world-validity issue (metric, sequence or None, comparison, value)
GOALS = (
    ("slice AUC, FLAIR", "slice_auc", "flair", ">=", 0.95),
    ("slice AUC, post-contrast T1", "slice_auc", "post_contrast_t1", ">=", 0.90),
    ("median within-scan AUC (FLAIR)", "within_scan_auc_median", "flair", ">=", 0.90),
    ("pointing game (FLAIR)", "pointing_game", "flair", ">=", 0.80),
    ("healthy volumes called tumour", "healthy_rate", None, "<=", 0.10),
    ("Kaggle Testing accuracy", "kaggle_acc", None, ">=", 0.985),
)


def train_cmd(root: Path, overrides: list[str]) -> list[str]:
    # a step is rerun only when it did not finish: continue its training state (a new run would refuse the folder)
    return ["python", "-m", "monai.bundle", "run", "training", "--config_file", f"{CFG}/train.json",
            "--logging_file", f"{CFG}/logging.conf", "--bundle_root", local_path(root, ROOT), "--resume", "true", *overrides]


def eval_cmd(root: Path, out: Path, overrides: list[str]) -> list[str]:
    return ["python", "-m", "monai.bundle", "run", "--config_file", f"['{CFG}/train.json','{CFG}/evaluate.json']",
            "--logging_file", f"{CFG}/logging.conf", "--bundle_root", local_path(root, ROOT), "--output_dir", local_path(out, ROOT),
            *overrides]


def step(cmd: list[str], done: Path, log: Path, walls: dict, key: str) -> None:
    """Run ``cmd`` unless ``done`` exists; record its wall time under ``key``."""
    from monai_tumorcls.utils import shell_join

    if done.exists():
        print("done already:", key, flush=True)
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    print(key, ":", shell_join(cmd), flush=True)
    walls[key] = {"command": shell_join(portable_args(cmd, ROOT)),
                  "seconds": round(run_logged([sys.executable, *cmd[1:]], log, ROOT), 1),
                  "finished": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                  "load_average_at_end": os.getloadavg()}
    if done.suffix == ".done":
        done.write_text(json.dumps(walls[key]) + "\n")


def fold_summary(eval_dir: Path) -> dict:
    """The numbers of one evaluated fold."""
    ext = json.loads((eval_dir / "external.json").read_text())
    kaggle = json.loads((eval_dir / "metrics.json").read_text())["reports"]
    out = {"healthy_rate": ext["healthy_volumes"]["called_tumour_rate"],
           "healthy": f"{ext['healthy_volumes']['called_tumour']}/{ext['healthy_volumes']['n_subjects']}",
           "threshold": ext["series_rule"]["threshold"],
           "kaggle_acc": kaggle["testing"]["accuracy"], "kaggle_acc_dedup": kaggle["testing_dedup"]["accuracy"],
           "patients": ext["lgg_test_patients"], "sequences": {},
           "other_healthy": {k: v["called_tumour"] for k, v in ext["healthy_volumes"].get("other_scanners", {}).items()}}
    for seq, r in ext["sequences"].items():
        out["sequences"][seq] = {k: r.get(k) for k in (
            "slice_auc", "position_auc", "position_matched_auc", "position_matched_position_auc", "sensitivity",
            "specificity", "within_scan_auc_median", "within_scan_position_auc_median", "pointing_game",
            "pointing_game_brightest_region", "n_slices",
            "n_tumour_slices", "n_patients")}
        out["sequences"][seq]["patients_called_tumour"] = r["patients_called_tumour"]["with_tumour"]
        out["sequences"][seq]["within_scan"] = r["within_scan_auc"]
    return out


def _value(fold: dict, metric: str, seq: str | None):
    return fold[metric] if seq is None else fold["sequences"].get(seq, {}).get(metric)


def mean_sd(folds: list[dict], metric: str, seq: str | None = None) -> tuple[float | None, float | None]:
    vals = [v for v in (_value(f, metric, seq) for f in folds) if v is not None and np.isfinite(v)]
    if not vals:
        return None, None
    return float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0


def _ms(folds: list[dict], metric: str, seq: str | None = None) -> str:
    m, s = mean_sd(folds, metric, seq)
    return "-" if m is None else f"{m:.3f} ± {s:.3f}"


def _shared_patients_table(models: dict, seqs: list[str]) -> list[str]:
    """Within-scan AUC of the LGG patients that are also in the shared test data, from the fold holding each out."""
    from monai_tumorcls.data import LGG_DIRNAME

    shared_dir = ROOT.parent / "shared" / "data" / LGG_DIRNAME  # the test data, whatever the run's data root
    shared = sorted(p.name for p in shared_dir.iterdir() if p.is_dir()) if shared_dir.is_dir() else []
    rows = []
    for patient in shared:
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


def _f(v) -> str:
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.3f}"


def _model_lines(name: str, m: dict, seqs: list[str]) -> list[str]:
    """One model's section: the per-sequence table over folds, healthy volumes, Kaggle accuracy, patients called."""
    folds = m["folds"]
    lines = [f"## {name}", "", m["what"], "",
             "| sequence | slice AUC | position-only AUC | position-matched AUC (position-only) | sensitivity "
             "| specificity | within-scan AUC (median) | position-only within-scan | pointing game "
             "| brightest-region pointer |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for seq in seqs:
        matched = f"{_ms(folds, 'position_matched_auc', seq)} ({_ms(folds, 'position_matched_position_auc', seq)})"
        cells = [_ms(folds, k, seq) for k in ("slice_auc", "position_auc")] + [matched] + [
            _ms(folds, k, seq) for k in ("sensitivity", "specificity", "within_scan_auc_median",
                                         "within_scan_position_auc_median", "pointing_game",
                                         "pointing_game_brightest_region")]
        lines.append(f"| {seq} | " + " | ".join(cells) + " |")
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
                    ""]


def _goal_lines(models: dict) -> list[str]:
    lines = ["## Goals of the real-world-validity issue (multi-source model)", "",
             "| goal | target | reached (mean ± sd over folds) | met |", "|---|---|---|---|"]
    ms = models.get("multi-source", {}).get("folds", [])
    for label, metric, seq, op, target in GOALS:
        m, _ = mean_sd(ms, metric, seq)
        met = "-" if m is None else ("yes" if (m >= target if op == ">=" else m <= target) else "no")
        lines.append(f"| {label} | {op} {target} | {_ms(ms, metric, seq)} | {met} |")
    return lines


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
        "numbers are mean ± standard deviation over the folds. Both models are measured on the same held-out people.",
        "`position-only` ranks slices by closeness to the middle of the patient's stack without looking at them:",
        "a model has learned the lesion rather than the anatomical level only where it beats it; `position-matched`",
        "compares only tumour and tumour-free slices at the same distance from the middle (fifths), with the",
        "position-only score's own value in brackets. `within-scan` is",
        "the AUC of tumour vs tumour-free slices of one scan (one scanner, one protocol), median over patients.",
        "The series rule (mean of the top 3 slice probabilities >= threshold) takes its threshold from each fold's",
        "validation people only. The pointing game counts held-out tumour slices whose Grad-CAM peak (tumour class,",
        "`features.layer4`) lies in the mask grown by 4 px; the brightest-region pointer (the brightest 9x9 window of",
        "the input, no model) is what a saliency map has to beat on these hyperintense lesions.",
        "",
    ]
    for name, m in models.items():
        lines += _model_lines(name, m, seqs)
    lines += _shared_patients_table(models, seqs) + _goal_lines(models)
    if record.get("note"):
        lines += ["", "## What this shows", "", record["note"]]
    lines += _step_lines(record["steps"])
    return "\n".join(lines).rstrip() + "\n"


def run_folds(args):
    """Run (or skip, when done) the Kaggle-only training, then per fold its evaluation and the multi-source training
    and evaluation; yield ``(models, walls)`` after each fold."""
    record_path, work = Path(args.record), Path(args.work)
    walls = json.loads(record_path.read_text())["steps"] if record_path.is_file() else {}
    kaggle_root = work / "kaggle_only"
    step(train_cmd(kaggle_root, ["--sources", "['kaggle']", *args.train_overrides]), kaggle_root / "train.done",
         kaggle_root / "logs" / "train.log", walls, "kaggle-only: train")
    init = local_path(kaggle_root / "models" / "model.pt", ROOT)
    models = {"Kaggle-only": {"what": "Trained on Kaggle Training only (random init); never saw LGG or IXI.", "folds": []},
              "multi-source": {"what": f"Kaggle Training + the fold's LGG training patients (3 sequences) + IXI "
                                       f"training subjects, trunk initialised from the Kaggle-only model "
                                       f"(`{portable_path(kaggle_root / 'models' / 'model.pt', ROOT)}`).",
                               "folds": []}}
    for k in range(args.folds):
        out = kaggle_root / f"eval_fold{k}"
        step(eval_cmd(kaggle_root, out, ["--sources", "['kaggle']", "--fold", str(k), *args.train_overrides]), out / "external.json",
             kaggle_root / "logs" / f"eval_fold{k}.log", walls, f"kaggle-only: evaluate fold {k}")
        models["Kaggle-only"]["folds"].append(fold_summary(out))
        root = work / f"multisource_fold{k}"
        step(train_cmd(root, ["--fold", str(k), "--pretrained", init, *args.train_overrides]), root / "train.done",
             root / "logs" / "train.log", walls, f"multi-source: train fold {k}")
        step(eval_cmd(root, root / "eval", ["--fold", str(k), *args.train_overrides]), root / "eval" / "external.json",
             root / "logs" / "eval.log", walls, f"multi-source: evaluate fold {k}")
        models["multi-source"]["folds"].append(fold_summary(root / "eval"))
        yield models, walls


def _without_note(argv: list[str] | None) -> list[str]:
    """The command-line arguments less ``--note TEXT`` (the note is rendered on its own)."""
    args = list(argv if argv is not None else sys.argv[1:])
    if "--note" in args:
        i = args.index("--note")
        del args[i : i + 2]
    return args


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folds", type=int, default=5, help="patient folds to run (0..folds-1 of n_folds=5)")
    p.add_argument("--work", default=str(ROOT / "bundles" / BUNDLE / "folds"), help="bundle roots of the runs")
    p.add_argument("--cores-note", default="Nothing else ran on the machine's cores unless stated here.",
                   help="what else used the cores during the run (goes into the record)")
    p.add_argument("--record", default=str(RECORD), help="JSON record written (and read to resume wall times)")
    p.add_argument("--doc", default=str(DOC), help="Markdown written")
    p.add_argument("--note", default="", help="what the numbers show and what did not work (rendered under the tables)")
    p.add_argument("--render-only", action="store_true")
    p.add_argument("train_overrides", nargs="*", help="after --: overrides for every training and evaluation command")
    args = p.parse_args(argv)
    from monai_tumorcls.config import get_data_root
    from monai_tumorcls.utils import atomic_write_text, shell_join

    record_path, doc_path = Path(args.record), Path(args.doc)
    if args.render_only:
        atomic_write_text(doc_path, render(json.loads(record_path.read_text())))
        return
    command = shell_join(["python", "-m", "benchmarks.external_validation", *_without_note(argv)])
    for models, walls in run_folds(args):  # after each fold: the record and the page so far
        record = {
            "command": command, "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine_line(), "data": portable_path(get_data_root(), ROOT), "cores_note": args.cores_note,
            "steps": walls, "models": models, "note": args.note,
        }
        atomic_write_text(record_path, json.dumps(record, indent=1) + "\n")
        atomic_write_text(doc_path, render(record))
    print(doc_path.read_text())


if __name__ == "__main__":
    main()
