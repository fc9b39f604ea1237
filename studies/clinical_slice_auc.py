"""Do a trained bundle's tumour probabilities rank tumour slices above tumour-free slices of the same volume?

Loads the network and slice preprocessing through the bundle's own ``inference.json`` (so exactly what bundle
inference uses), runs :func:`monai_tumorcls.apps.clinical.run_clinical_inference` on the labelled volumes of
``$MONAI_DATA_DIRECTORY`` (:data:`monai_tumorcls.data.SHARED_LABELLED_VOLUMES`), and reports per volume the ROC-AUC
of slice tumour probability against "the label map has tumour on this slice" (tumour-free slices within 2 slices
of a tumour slice are left out: partial volume), with two controls:

- a position-only AUC that never looks at the image (closeness to the middle of the classified slices): on these
  volumes the tumour is mid-brain, so a model has found tumours only where it beats this content-free prior;
- the drop of tumour probability on the tumour slices when the labelled tumour is filled in from the surrounding
  tissue (:func:`tumour_filled_volume`, same inference): a model that reacts to the tumour loses probability there.

Multi-class bundles also get one AUC per class probability (which class follows the tumour, which opposes it).

Two models are measured:

1. the bundle's Kaggle-trained model (``<bundle root>/models/model.pt``), on every labelled volume;
2. with ``--adapt``: leave-one-patient-out in-domain fine-tuning. For each patient with a tumour label map, the
   user's command ``python -m monai.bundle run training --config_file "[train.json, adapt_clinical.json]"`` fine-tunes
   the Kaggle model on Kaggle images plus the labelled slices of the *other* patients and of the healthy volunteer
   (``--holdout_groups`` names the patient), and only the held-out patient's volumes are scored.

Writes the bundle's section of ``docs/reports/clinical_validation.md`` (atomically; the other bundles' sections are
kept) with the commands, machine and checkpoints.

    python -m studies.clinical_slice_auc --bundle resnet18_binary --adapt
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from monai_tumorcls.utils.reporting import local_path, merged_sections, portable_args, portable_path, run_logged

from .clinical_page import INTRO, TITLE, fmt_auc, render_section

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "reports" / "clinical_validation.md"
#: tumour-free slices this close to a tumour slice are left out of the AUC (partial volume)
IGNORE_MARGIN = 2


def labelled_volumes(groups=None):
    """The shared volumes with a tumour label map (optionally only those of ``groups``)."""
    from monai_tumorcls.data import SHARED_LABELLED_VOLUMES

    return [v for v in SHARED_LABELLED_VOLUMES if v.label is not None and (groups is None or v.group in groups)]


def tumour_filled_volume(image_file: Path, label_file: Path, out_file: Path, dilate: int = 2, sigma: float = 6.0) -> Path:
    """Write a copy of a NIfTI volume whose labelled tumour is replaced by its surroundings.

    The tumour (label > 0, dilated by ``dilate`` voxels) is filled by normalised convolution: a Gaussian blur
    (``sigma`` voxels) of the image outside the tumour divided by the same blur of the outside mask, so the hole
    takes the smoothed intensity of the tissue around it. Header and affine are kept, so the copy goes through
    bundle inference exactly like the original.
    """
    import nibabel as nib
    from skimage.filters import gaussian
    from skimage.morphology import dilation

    img = nib.load(str(image_file))
    data = np.asarray(img.dataobj, dtype=np.float32)
    lab = np.asarray(nib.load(str(label_file)).dataobj) > 0
    if lab.shape != data.shape:
        raise ValueError(f"{label_file}: label shape {lab.shape} does not match image {data.shape}")
    hole = dilation(lab, np.ones((2 * dilate + 1,) * 3, dtype=bool)).astype(bool) if dilate else lab
    keep = (~hole).astype(np.float32)
    num = gaussian(data * keep, sigma=sigma, preserve_range=True)
    den = gaussian(keep, sigma=sigma, preserve_range=True)
    filled = np.where(hole, num / np.maximum(den, 1e-6), data).astype(np.float32)
    header = img.header.copy()
    header.set_data_dtype(np.float32)
    header["scl_slope"], header["scl_inter"] = 1.0, 0.0
    nib.save(nib.Nifti1Image(filled, img.affine, header), str(out_file))
    return out_file


def _bundle_network(bundle: str, bundle_root: str | None, checkpoint: str | None, overrides: dict):
    """The bundle's parsed ``inference.json`` (with ``overrides``) and its network with the checkpoint loaded."""
    from monai_tumorcls.bundle import load_bundle_config
    from monai_tumorcls.checkpoint import load_checkpoint

    root = {"bundle_root": bundle_root} if bundle_root else {}
    parser = load_bundle_config(ROOT / "bundles" / bundle, "inference.json", {**root, **overrides})
    network = parser.get_parsed_content("network")
    load_checkpoint(checkpoint or parser.get_parsed_content("checkpoint"), network)
    return parser, network


def position_scores(series) -> list:
    """Content-free control: closeness of each classified slice to the middle of the classified range."""
    idx = np.array([s.slice_index for s in series.slices if s.tumour_probability is not None], dtype=float)
    centre, half = (idx.min() + idx.max()) / 2, max((idx.max() - idx.min()) / 2, 1.0)
    return [None if s.tumour_probability is None else 1 - abs(s.slice_index - centre) / half for s in series.slices]


def occlusion_drop(series, filled, flags) -> float | None:
    """Mean drop of tumour probability on the tumour slices when the tumour is filled in (``filled``: same slices)."""
    pairs = [(a, b) for a, b, t in zip(series.tumour_probabilities, filled.tumour_probabilities, flags)
             if t and a is not None and b is not None]
    return float(np.mean([a - b for a, b in pairs])) if pairs else None


def slice_aucs(
    bundle: str, bundle_root: str | None, data_root: Path, output_dir: Path, checkpoint: str | None = None,
    volumes=None, occlusion: bool = True, **overrides,
) -> list[dict]:
    """Per labelled volume: AUC, slice counts and the series decision of the bundle's trained model.

    Args:
        bundle: bundle folder name.
        bundle_root: folder holding ``models/model.pt`` (default: the bundle folder).
        data_root: ``$MONAI_DATA_DIRECTORY`` (the volumes' paths are relative to it).
        output_dir: scratch folder for the inference outputs.
        checkpoint: weights (default ``<bundle_root>/models/model.pt``).
        volumes: :class:`~monai_tumorcls.data.LabelledVolume` list (default: all labelled shared volumes).
        occlusion: also score each volume with its tumour filled in (:func:`tumour_filled_volume`) and report
            the mean drop in tumour probability over the tumour slices (``occlusion_drop``).
        overrides: set on the bundle's ``inference.json`` (e.g. ``train_overrides``).
    """
    from monai_tumorcls.apps.clinical import run_clinical_inference

    parser, network = _bundle_network(bundle, bundle_root, checkpoint, overrides)
    class_names = parser.get_parsed_content("class_names")

    def infer(image: Path):
        result = run_clinical_inference(
            [image], network, parser.get_parsed_content("slice_preprocessing"), class_names, output_dir,
            positive_classes=parser.get_parsed_content("positive_classes"), aggregation="top_k_mean",
            run_name="slice_auc", batch_size=32,
        )
        return result.series[0]

    scratch = Path(output_dir) if occlusion else None
    return [volume_row(vol, Path(data_root), infer, class_names, scratch)
            for vol in (volumes if volumes is not None else labelled_volumes())]


def volume_row(vol, data_root: Path, infer, class_names: list[str], scratch: Path | None) -> dict:
    """One labelled volume scored by ``infer`` (image -> series): slice AUC, the position-only control and, with a
    ``scratch`` folder, the tumour-filled-in control."""
    from monai_tumorcls.apps.validation import load_slice_labels, tumour_slice_auc

    def auc(scores, flags):
        return tumour_slice_auc(scores, flags, ignore_margin=IGNORE_MARGIN)

    image, label = data_root / vol.image, data_root / vol.label
    series, flags = infer(image), load_slice_labels(label)
    res = auc(series.tumour_probabilities, flags)
    drop = None
    if scratch is not None:  # same slices, tumour filled in: does the tumour itself raise the slice's probability?
        scratch.mkdir(parents=True, exist_ok=True)
        filled = infer(tumour_filled_volume(image, label, scratch / "tumour_filled.nii.gz"))
        drop = occlusion_drop(series, filled, flags)
    return {
        "volume": vol.image, "group": vol.group, "label": vol.label, "what": vol.description, "auc": res.auc,
        "position_auc": auc(position_scores(series), flags).auc,
        "tumour_slices": res.n_tumour_slices, "tumour_free_slices": res.n_tumour_free_slices, "ignored": res.n_ignored,
        "series_tumour_probability": series.decision.tumour_probability if series.decision else None,
        "occlusion_drop": drop,
        "class_aucs": {
            name: auc([None if s.probabilities is None else s.probabilities[name] for s in series.slices], flags).auc
            for name in class_names
        },
    }


def adapt_command(bundle: str, fold_root: Path, init_checkpoint: Path, group: str, extra: list[str]) -> list[str]:
    """The user's fine-tuning command for one held-out patient."""
    cfg = f"bundles/{bundle}/configs"
    return [
        "python", "-m", "monai.bundle", "run", "training",
        "--config_file", f"['{cfg}/train.json','{cfg}/adapt_clinical.json']",
        "--logging_file", f"{cfg}/logging.conf",
        "--bundle_root", local_path(fold_root, ROOT),
        "--adapt_init_checkpoint", local_path(init_checkpoint, ROOT),
        "--holdout_groups", repr([group]),
        *extra,
    ]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default="resnet18_binary", help="e.g. resnet18_binary, resnet18_4class")
    p.add_argument("--bundle-root", default=None, help="folder holding models/model.pt (default: the bundle)")
    p.add_argument("--checkpoint", default=None, help="Kaggle-trained weights (default: <bundle root>/models/model.pt)")
    p.add_argument("--adapt", action="store_true", help="also run leave-one-patient-out in-domain fine-tuning")
    p.add_argument("--folds-root", default=None,
                   help="where each fold's bundle root goes (default: <bundle root>/clinical_folds)")
    p.add_argument("--rescore", action="store_true",
                   help="with --adapt: score a fold's existing models/model_clinical.pt instead of training it again")
    p.add_argument("--out", default=str(OUT), help="the page whose section of --bundle is written (the others are kept)")
    p.add_argument("--model-title", default="Kaggle-trained model", help="heading of the first model's section")
    p.add_argument("--model-note", default="see docs/reports/results.md for how it was trained. It has seen no slice of these volumes.",
                   help="what the first model is and what it has seen (goes after its checkpoint)")
    p.add_argument("--train-overrides", type=json.loads, default={},
                   help='JSON object of the training overrides the model was trained with, e.g. a recipe variant\'s '
                        '\'{"prepare#2#_target_": "monai_tumorcls.transforms.HeadMaskNormalized"}\'')
    p.add_argument("--section", default=None, help="the page's section to write (default: --bundle)")
    p.add_argument("adapt_overrides", nargs="*", help="after --: extra overrides for the fine-tuning command")
    return p


def adapt_folds(args, root: Path, ckpt: Path, rows: list[dict], data_root) -> list[dict]:
    """Leave-one-patient-out fine-tuning (``--adapt``): train (or, with ``--rescore``, reuse) each fold and score its
    held-out patient; each fold's rows get the Kaggle model's AUC on the same volume as ``before``."""
    from monai_tumorcls.utils import shell_join

    folds = []
    folds_root = Path(args.folds_root) if args.folds_root else root / "clinical_folds"
    for group in dict.fromkeys(v.group for v in labelled_volumes()):
        fold_root = folds_root / group
        (fold_root / "logs").mkdir(parents=True, exist_ok=True)
        cmd = adapt_command(args.bundle, fold_root, ckpt, group, args.adapt_overrides)
        fold_ckpt = fold_root / "models" / "model_clinical.pt"
        if args.rescore and fold_ckpt.is_file():
            print("fold", group, ": scoring the existing", local_path(fold_ckpt, ROOT), flush=True)
            wall = None
        else:
            print("fold", group, ":", shell_join(cmd), flush=True)
            wall = run_logged([sys.executable, *cmd[1:]], fold_root / "logs" / "adapt.log", ROOT)
        with tempfile.TemporaryDirectory() as tmp:
            fold_rows = slice_aucs(args.bundle, str(fold_root), data_root, Path(tmp), checkpoint=str(fold_ckpt),
                                   volumes=labelled_volumes([group]))
        for r in fold_rows:
            r["before"] = next(fmt_auc(b["auc"]) for b in rows if b["volume"] == r["volume"])
        folds.append({"group": group, "command": shell_join(portable_args(cmd, ROOT)), "wall_s": wall, "rows": fold_rows})
        print(json.dumps(fold_rows, indent=1), flush=True)
    return folds


def main(argv: list[str] | None = None) -> None:
    from monai_tumorcls.config import get_data_root
    from monai_tumorcls.utils import atomic_write_text
    parser = _parser()
    args = parser.parse_args(argv)
    if args.adapt and args.train_overrides:  # the fine-tuning command and its folds' scoring do not take them
        parser.error("--train-overrides scores the given model only; it cannot be combined with --adapt")
    args.section = args.section or args.bundle
    data_root = get_data_root(must_exist=True)
    root = Path(args.bundle_root) if args.bundle_root else ROOT / "bundles" / args.bundle
    ckpt = Path(args.checkpoint) if args.checkpoint else root / "models" / "model.pt"
    info_path = ckpt.with_name(ckpt.name + ".json")
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    with tempfile.TemporaryDirectory() as tmp:
        variant = {"train_overrides": args.train_overrides} if args.train_overrides else {}
        rows = slice_aucs(args.bundle, str(root), data_root, Path(tmp), checkpoint=str(ckpt), **variant)
    folds = adapt_folds(args, root, ckpt, rows, data_root) if args.adapt else []
    argv_used = argv if argv is not None else sys.argv[1:]
    lines = render_section(args, argv_used, (portable_path(ckpt, ROOT), info), rows, folds)
    out = Path(args.out)
    existing = out.read_text() if out.is_file() else ""
    atomic_write_text(out, merged_sections(existing, TITLE, INTRO, args.section, lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
