"""Held-out-patient validation over patient folds: Kaggle-only, multi-source and lesion-grounded models side by side,
next to the position-only prior and the brightest-region pointer.

Runs the user's own bundle commands from the project root:

1. **Kaggle-only model** (``bundles/resnet18_multisource --sources "['kaggle']"``): trained once (its training data
   do not depend on the fold), then evaluated on every fold's held-out LGG patients and IXI subjects.
2. **Multi-source model** per fold k (``resnet18_multisource --fold k``): Kaggle Training + the LGG and IXI training
   people of fold k, trunk initialised from the Kaggle-only model.
3. **Lesion-grounded model** per fold k (``bundles/resnet18_lesion --fold k``): the same data with the lesion
   decoder, level-balanced draws and brain-mask normalisation; its trunk is ``--lesion-trunk`` (``kaggle-only``:
   the Kaggle-only model; ``none``: random; or a trunk file, e.g. a SimCLR trunk), each trunk in its own folders,
   so two trunks can be compared fold by fold. Its evaluation adds Dice and HD95 of the lesion map, the pointing
   game of the lesion map and the lesion-volume series rule.

Every step is skipped when its output is complete (``train.done``; ``eval/external.json`` holding every metric of
this release: an evaluation written before the position-matched AUC or the lesion metrics existed is redone, so
they are measured on all folds), so a killed run resumes where it stopped. After each fold the held-out numbers
are stamped into each evaluated ``model.pt`` (``metadata["validation"]``,
:mod:`monai_tumorcls.checkpoint.validation_record`) and ``docs/reports/external_validation.{md,json}`` are
rewritten (atomically) with mean and spread over the folds, the goals, the commands, machine, load and minutes.

    MONAI_DATA_DIRECTORY=/path/to/data python -m benchmarks.external_validation --folds 5
    python -m benchmarks.external_validation --folds 1 --models lesion --lesion-trunk path/to/simclr_trunk.pt
    python -m benchmarks.external_validation --folds 1 --models lesion --variant epochs16 -- --epochs 16
    python -m benchmarks.external_validation --smoke          # 1 epoch, 3 patients, 64 px: minutes, own folder
    python -m benchmarks.external_validation --render-only    # rebuild the doc from the record

Everything after ``--`` is passed to every training and evaluation command (e.g. ``-- --epochs 2``; evaluation
must see the same ``image_size`` as training).

Measured minutes per fold on the 2-core CPU machine (the page's "Measured minutes per fold" table has each run):
Kaggle-only model 5-16 min of training once + 2 min evaluation per fold; multi-source 10-28 min training + 2-3 min
evaluation; lesion-grounded (the bundle's 12-epoch recipe) 15-16 min of training and evaluation per fold with the
cores free (the 8-epoch recipe took 18-19 min of training where the cores were shared). All 5 folds of the three
models: about 3 hours, resumable at every step. Machines of the same kind differ: on one where a training step took
about 2 s instead of 0.9 s, 16 epochs of the lesion model took 30 min of training with the cores free (50 with them
shared) and 3 min of evaluation. On a lent GPU
with ``.device/lesion-128``: ``benchmarks/device_recipes.sh`` (``docs/training.md``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.external_validation_report import fold_summary, render
from monai_tumorcls.utils.reporting import (local_path, machine_line, portable_args, portable_path, read_json_object,
                                            run_logged)

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "reports" / "external_validation.json"  # not in docs/results/: studies.results renders those
DOC = ROOT / "docs" / "reports" / "external_validation.md"
MODELS = ("kaggle-only", "multi-source", "lesion")
#: a few minutes on the shared data: one epoch of 32 draws at 64 px, 3 LGG patients, FLAIR only
SMOKE_OVERRIDES = ["--max_per_class", "4", "--max_patients", "3", "--lgg_sequences", "['flair']", "--image_size", "64",
                   "--epochs", "1", "--val_interval", "1", "--samples_per_epoch", "32", "--batch_size", "16",
                   "--cache_rate", "0", "--num_workers", "0"]
#: metrics an evaluation must hold to count as done (older ones lack them and are redone)
REQUIRED = ("position_matched_auc", "patients_called_tumour_by_rule")
LESION_REQUIRED = ("dice_mean", "pointing_game_lesion_map")


def _cfg(bundle: str) -> str:
    return f"bundles/{bundle}/configs"


def train_cmd(bundle: str, root: Path, overrides: list[str]) -> list[str]:
    # a step is rerun only when it did not finish: continue its training state (a new run would refuse the folder)
    return ["python", "-m", "monai.bundle", "run", "training", "--config_file", f"{_cfg(bundle)}/train.json",
            "--logging_file", f"{_cfg(bundle)}/logging.conf", "--bundle_root", local_path(root, ROOT), "--resume",
            "true", *overrides]


def eval_cmd(bundle: str, root: Path, out: Path, overrides: list[str]) -> list[str]:
    cfg = _cfg(bundle)
    return ["python", "-m", "monai.bundle", "run", "--config_file", f"['{cfg}/train.json','{cfg}/evaluate.json']",
            "--logging_file", f"{cfg}/logging.conf", "--bundle_root", local_path(root, ROOT), "--output_dir",
            local_path(out, ROOT), *overrides]


def evaluated(out: Path, lesion: bool = False) -> bool:
    """``out`` holds a finished evaluation with every metric of this release (each sequence)."""
    path = out / "external.json"
    if not path.is_file() or not (out / "metrics.json").is_file():
        return False
    sequences = json.loads(path.read_text()).get("sequences", {})
    keys = REQUIRED + (LESION_REQUIRED if lesion else ())
    return bool(sequences) and all(k in r for r in sequences.values() for k in keys)


def step(cmd: list[str], done: bool, log: Path, walls: dict, key: str, done_file: Path | None = None) -> bool:
    """Run ``cmd`` unless ``done``; record its wall time, machine load and end under ``key`` (and in ``done_file``).
    Returns whether it ran."""
    from monai_tumorcls.utils import shell_join

    if done:
        record = read_json_object(done_file) if key not in walls and done_file is not None else {}
        if "seconds" in record:  # finished by a run that stopped before writing the record
            walls[key] = record
        print("done already:", key, flush=True)
        return False
    if key in walls:  # an earlier run of the same step (e.g. the Kaggle-only model trained again): keep its record
        earlier = walls.pop(key)
        walls[f"{key} (finished {earlier['finished']})"] = earlier
    log.parent.mkdir(parents=True, exist_ok=True)
    print(key, ":", shell_join(cmd), flush=True)
    walls[key] = {"command": shell_join(portable_args(cmd, ROOT)),
                  "seconds": round(run_logged([sys.executable, *cmd[1:]], log, ROOT), 1),
                  "finished": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                  "load_average_at_end": os.getloadavg(), "cpus": os.cpu_count()}
    if done_file is not None:
        done_file.write_text(json.dumps(walls[key]) + "\n")
    return True


@dataclass
class FoldModel:
    """One model of the benchmark.

    Attributes:
        name: its section on the page (and its steps' keys, lower case).
        bundle: the bundle folder's name under ``bundles/``.
        folder: its bundle roots under the work folder (``<folder>_fold<k>``; ``<folder>`` alone when ``shared``).
        what: what it was trained on, for the page.
        trained_on: the sources, for the checkpoint's validation record.
        overrides: of its training and evaluation commands (less ``--fold``).
        shared: one training for all folds (the Kaggle-only model, whose data do not depend on the fold).
        lesion: it has a lesion head (its evaluation must hold the lesion metrics).
    """

    name: str
    bundle: str
    folder: str
    what: str
    trained_on: tuple[str, ...]
    overrides: tuple[str, ...] = ()
    shared: bool = False
    lesion: bool = False

    def root(self, work: Path, fold: int) -> Path:
        return work / (self.folder if self.shared else f"{self.folder}_fold{fold}")


def _trunk(args, kaggle_model: Path) -> tuple[str, str]:
    """(the lesion model's ``--pretrained`` value, a tag for its folders) from ``--lesion-trunk``."""
    if args.lesion_trunk == "kaggle-only":
        return local_path(kaggle_model, ROOT), "kaggle_only"
    if args.lesion_trunk == "none":
        return "null", "random"
    return args.lesion_trunk, Path(args.lesion_trunk).stem


def stamp_record(model: FoldModel, checkpoint: Path, folds: list[dict], doc: Path, smoke: bool = False) -> None:
    """Write what was measured on held-out people (``folds``: the folds this checkpoint was evaluated on) into
    ``checkpoint`` (:func:`~monai_tumorcls.checkpoint.stamp_validation_record`), naming the page ``doc`` as its
    source (its name alone outside the project) and a smoke run as such."""
    from benchmarks.external_validation_report import mean_sd
    from monai_tumorcls.checkpoint import stamp_validation_record, validation_record

    held_out = {}
    for metric in ("slice_auc", "position_matched_auc", "within_scan_auc_median", "within_scan_auc_min",
                   "dice_mean", "threshold_dice_mean", "scan_dice_mean", "pointing_game_lesion_map", "pointing_game"):
        for seq in folds[0]["sequences"]:
            value = mean_sd(folds, metric, seq)[0]
            if value is not None:
                held_out[f"{seq}.{metric}"] = value
    for metric, name in (("healthy_rate", "ixi.called_tumour_rate"), ("kaggle_acc", "kaggle_testing.accuracy")):
        if mean_sd(folds, metric)[0] is not None:
            held_out[name] = mean_sd(folds, metric)[0]
    flair = folds[0]["sequences"].get("flair", {})
    summary = (f"{model.name}, {len(folds)} fold(s) of held-out LGG patients (TIFF slices) and IXI subjects: FLAIR "
               f"slice AUC {held_out.get('flair.slice_auc', float('nan')):.3f}, position-matched "
               f"{held_out.get('flair.position_matched_auc', float('nan')):.3f}; healthy IXI called tumour "
               f"{', '.join(f['healthy'] for f in folds)}. Not validated on tumour volumes (NIfTI/DICOM)."
               if flair else f"{model.name}, {len(folds)} fold(s) of held-out people.")
    summary = ("SMOKE RUN, not the recipe: " if smoke else "") + summary
    source = str(doc.relative_to(ROOT)) if doc.resolve().is_relative_to(ROOT) else doc.name
    record = validation_record(model.trained_on, held_out, summary[:400], volumes_validated=False, source=source)
    stamp_validation_record(checkpoint, record)


KAGGLE_ONLY = FoldModel("Kaggle-only", "resnet18_multisource", "kaggle_only",
                        "Trained on Kaggle Training only (random init); never saw LGG or IXI.", ("kaggle",),
                        ("--sources", "['kaggle']"), shared=True)


def fold_models(args, work: Path) -> list[FoldModel]:
    """The models of ``--models``; the lesion model's trunk (and folders) from ``--lesion-trunk``."""
    kaggle_model = work / KAGGLE_ONLY.folder / "models" / "model.pt"
    out = [KAGGLE_ONLY] if "kaggle-only" in args.models else []
    if "multi-source" in args.models:
        out.append(FoldModel("multi-source", "resnet18_multisource", "multisource",
                             f"Kaggle Training + the fold's LGG training patients (3 sequences) + IXI training "
                             f"subjects, trunk initialised from the Kaggle-only model "
                             f"(`{portable_path(kaggle_model, ROOT)}`).", ("kaggle", "lgg", "ixi"),
                             ("--pretrained", local_path(kaggle_model, ROOT))))
    if "lesion" in args.models:
        trunk, tag = _trunk(args, kaggle_model)
        out.append(FoldModel(f"lesion-grounded, trunk {tag}", "resnet18_lesion", f"lesion_{tag}",
                             f"`resnet18_lesion`: the multi-source data with a lesion decoder (Dice + BCE on the "
                             f"manual masks), level-balanced draws and brain-mask normalisation; trunk `{trunk}`.",
                             ("kaggle", "lgg", "ixi"), ("--pretrained", trunk), lesion=True))
    return [_as_variant(m, args) for m in out] if args.variant else out


def _as_variant(model: FoldModel, args) -> FoldModel:
    """``model`` under ``--variant``: its own folders, name and section, saying which overrides made it (the shared
    Kaggle-only model stays itself: it is a trunk and a baseline, not a recipe under test)."""
    if model.shared:
        return model
    overrides = " ".join(args.train_overrides)
    return dataclasses.replace(model, name=f"{model.name}, {args.variant}", folder=f"{model.folder}_{args.variant}",
                               what=f"{model.what} Variant `{args.variant}`: overrides `{overrides}`.")


def _fold(model: FoldModel, k: int, args, walls: dict) -> tuple[Path, bool]:
    """Train (fold models, unless done) and evaluate (unless complete) ``model`` on fold ``k``: its eval folder, and
    whether anything ran."""
    root, key = model.root(Path(args.work), k), model.name.lower()
    overrides = ["--fold", str(k), *model.overrides, *args.train_overrides]
    trained = not model.shared and step(
        train_cmd(model.bundle, root, overrides), (root / "train.done").exists(), root / "logs" / "train.log", walls,
        f"{key}: train fold {k}", root / "train.done")
    out = root / (f"eval_fold{k}" if model.shared else "eval")
    evaluated_now = step(eval_cmd(model.bundle, root, out, overrides), evaluated(out, model.lesion),
                         root / "logs" / f"{out.name}.log", walls, f"{key}: evaluate fold {k}")
    return out, trained or evaluated_now


def _earlier_runs(earlier_models: dict) -> dict:
    """``(model name, fold) -> the run that measured it`` in an earlier record (kept for folds not run again)."""
    return {(name, f.get("fold")): f.get("run") for name, m in earlier_models.items() for f in m["folds"]}


def run_folds(args, earlier: dict):
    """Run (or skip, when done) the Kaggle-only training, then per fold every model's training (fold models) and
    evaluation, stamping each evaluated checkpoint; yield ``(models, walls)`` after each fold. ``earlier``: the
    record of earlier runs (``{}`` for none), whose wall times this run extends."""
    work = Path(args.work)
    walls = dict(earlier.get("steps", {}))
    chosen = fold_models(args, work)
    uses_kaggle_only = {"kaggle-only", "multi-source"} & set(args.models) or args.lesion_trunk == "kaggle-only"
    if uses_kaggle_only:  # evaluated, or the trunk of a fold model
        root = KAGGLE_ONLY.root(work, 0)
        step(train_cmd(KAGGLE_ONLY.bundle, root, [*KAGGLE_ONLY.overrides, *args.train_overrides]),
             (root / "train.done").exists(), root / "logs" / "train.log", walls, "kaggle-only: train",
             root / "train.done")
    models = {m.name: {"what": m.what, "folds": []} for m in chosen}
    run, earlier_runs = run_info(args), _earlier_runs(earlier.get("models", {}))
    for k in range(args.start_fold, args.folds):
        for model in chosen:
            folds = models[model.name]["folds"]
            out, ran = _fold(model, k, args, walls)
            measured_by = run if ran else earlier_runs.get((model.name, k), run)  # a finished fold keeps its run
            folds.append({"fold": k, "run": measured_by, **fold_summary(out)})
            # the shared model was measured on every fold so far; a fold model on its own fold
            checkpoint = model.root(work, k) / "models" / "model.pt"
            try:
                stamp_record(model, checkpoint, folds if model.shared else folds[-1:], Path(args.doc).resolve(),
                             args.smoke)
            except (OSError, ValueError) as e:  # e.g. a checkpoint of an older release without digest: say so
                print(f"WARNING: no validation record stamped into {checkpoint}: {e}", flush=True)
        yield models, walls


def run_info(args) -> dict:
    """Who measured a model: the command, date, machine and what else used the cores (kept with its folds, so a
    later run of other models does not relabel them)."""
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return {"command": shell_command(args.argv), "date": date, "machine": machine_line(), "cores_note": args.cores_note}


def shell_command(argv: list[str] | None) -> str:
    from monai_tumorcls.utils import shell_join

    return shell_join(["python", "-m", "benchmarks.external_validation", *_without_note(argv)])


def kept_models(earlier_models: dict, chosen: dict) -> dict:
    """The models of an earlier record with this run's folds (``chosen``) merged in: a fold measured again replaces
    the earlier one of that model, every other fold is kept as it was (with the run that measured it)."""
    models = dict(earlier_models)
    for name, model in chosen.items():
        new = {f["fold"] for f in model["folds"]}
        kept = [f for f in models.get(name, {}).get("folds", []) if f.get("fold") not in new]
        models[name] = {**model, "folds": sorted(kept + model["folds"], key=lambda f: f["fold"])}
    return models


def _without_note(argv: list[str] | None) -> list[str]:
    """The command-line arguments less ``--note TEXT`` (the note is rendered on its own)."""
    args = list(argv if argv is not None else sys.argv[1:])
    if "--note" in args:
        i = args.index("--note")
        del args[i : i + 2]
    return args


def _resolve(args):
    """Defaults that depend on ``--smoke``: the work folder, the record and page, the folds and overrides."""
    if args.smoke:
        args.work = args.work or tempfile.mkdtemp(prefix="external_validation_smoke_")
        args.folds, args.train_overrides = 1, [*SMOKE_OVERRIDES, *args.train_overrides]
    args.work = args.work or str(ROOT / "bundles" / "resnet18_multisource" / "folds")
    out = Path(args.work) if args.smoke else RECORD.parent
    args.record = args.record or str(out / RECORD.name)
    args.doc = args.doc or str(out / DOC.name)
    return args


def _slug(text: str) -> str:
    """``--variant``: letters, digits, ``-`` and ``_`` only (it names folders)."""
    if not text or not all(c.isalnum() or c in "-_" for c in text):
        raise argparse.ArgumentTypeError(f"--variant {text!r}: use letters, digits, '-' or '_'")
    return text


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folds", type=int, default=5, help="patient folds to run (0..folds-1 of n_folds=5)")
    p.add_argument("--start-fold", type=int, default=0,
                   help="first fold to run: the earlier folds keep their records (e.g. measured on another machine, "
                        "whose fold folders this one does not have)")
    p.add_argument("--work", default=None, help="bundle roots of the runs (default bundles/resnet18_multisource/folds; "
                   "with --smoke a temporary folder)")
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="models to train and evaluate")
    p.add_argument("--lesion-trunk", default="kaggle-only",
                   help="the lesion model's trunk: kaggle-only (the Kaggle-only model), none (random) or a trunk file "
                        "(e.g. a SimCLR trunk); each trunk gets its own folders and section")
    p.add_argument("--variant", default=None, type=_slug,
                   help="a short name for a recipe variant (the overrides after --), e.g. epochs16: the fold models "
                        "get their own folders and section beside the recipe's own, to compare on the same people")
    p.add_argument("--smoke", action="store_true",
                   help="1 fold, 1 epoch of 32 draws at 64 px on 3 LGG patients (FLAIR), 4 Kaggle images per class; "
                        "record and page in the work folder, never in docs/")
    p.add_argument("--cores-note", default="Nothing else ran on the machine's cores unless stated here.",
                   help="what else used the cores during the run (goes into the record)")
    p.add_argument("--record", default=None, help="JSON record written (and read to resume wall times); default "
                   "docs/reports/external_validation.json, with --smoke in the work folder")
    p.add_argument("--doc", default=None, help="Markdown written (default beside the record's default)")
    p.add_argument("--note", default="", help="what the numbers show and what did not work (rendered under the tables)")
    p.add_argument("--render-only", action="store_true")
    p.add_argument("train_overrides", nargs="*", help="after --: overrides for every training and evaluation command")
    args = _resolve(p.parse_args(argv))
    args.argv = argv
    from monai_tumorcls.config import get_data_root
    from monai_tumorcls.utils import atomic_write_text

    record_path, doc_path = Path(args.record), Path(args.doc)
    if args.render_only:  # with --note: the record's note replaced first
        record = json.loads(record_path.read_text())
        if args.note:
            record["note"] = args.note
            atomic_write_text(record_path, json.dumps(record, indent=1) + "\n")
        atomic_write_text(doc_path, render(record))
        return
    earlier = json.loads(record_path.read_text()) if record_path.is_file() else {}  # read once, before any write
    for models, walls in run_folds(args, earlier):  # after each fold: the record and the page so far
        record = {**run_info(args), "data": portable_path(get_data_root(), ROOT), "steps": walls,
                  "models": kept_models(earlier.get("models", {}), models),
                  "note": args.note or earlier.get("note", "")}
        atomic_write_text(record_path, json.dumps(record, indent=1) + "\n")
        atomic_write_text(doc_path, render(record))
    print(doc_path.read_text())


if __name__ == "__main__":
    main()
