"""Do a trained bundle's tumour probabilities rank tumour slices above tumour-free slices of the same volume?

Loads the network and slice preprocessing through the bundle's own ``inference.json`` (so exactly what bundle
inference uses), runs :func:`monai_tumorcls.inference.run_clinical_inference` on the labelled NIfTI volumes in
``$MONAI_DATA_DIRECTORY/nifti``, and reports per volume the ROC-AUC of slice tumour probability against "the label
map has tumour on this slice" (tumour-free slices within 2 slices of a tumour slice are left out: partial volume).
Writes ``docs/clinical_validation.md`` (atomically) with the command, machine and checkpoint.

    python benchmarks/clinical_slice_auc.py --bundle resnet18_binary
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: (volume, label map, what the label is) below $MONAI_DATA_DIRECTORY/nifti
LABELLED_VOLUMES = (
    ("pyradiomics-tcga-gbm/converted_nifti/brain1_image.nii.gz", "pyradiomics-tcga-gbm/converted_nifti/brain1_label.nii.gz",
     "TCGA-GBM T1 post-Gd, tumour label (pyradiomics test case)"),
    ("pyradiomics-tcga-gbm/converted_nifti/brain2_image.nii.gz", "pyradiomics-tcga-gbm/converted_nifti/brain2_label.nii.gz",
     "TCGA-GBM T1 post-Gd, tumour label (pyradiomics test case)"),
    ("tcga-lgg-TCGA-FG-6692-brats-space/OtherEXampleFromTCIA_t1c_bet.nii.gz",
     "tcga-lgg-TCGA-FG-6692-brats-space/segmentation_predicted/fusion_mav.nii.gz",
     "TCGA-LGG T1 post-Gd, skull-stripped; label = BraTS-Toolkit model prediction, not ground truth"),
)


def slice_aucs(
    bundle: str, bundle_root: str | None, data_root: Path, output_dir: Path, margin: int = 2, checkpoint: str | None = None,
    **overrides,
) -> list[dict]:
    """Per labelled volume: AUC, slice counts and the series decision of the bundle's trained model
    (``checkpoint``, default ``<bundle_root>/models/model.pt``)."""
    from monai.bundle import ConfigParser

    from monai_tumorcls.handlers import load_checkpoint
    from monai_tumorcls.inference import load_slice_labels, run_clinical_inference, tumour_slice_auc

    parser = ConfigParser()
    parser.read_config(str(ROOT / "bundles" / bundle / "configs" / "inference.json"))
    if bundle_root:
        parser["bundle_root"] = bundle_root
    for k, v in overrides.items():
        parser[k] = v
    parser.parse()
    network = parser.get_parsed_content("network")
    load_checkpoint(checkpoint or parser.get_parsed_content("checkpoint"), network)
    rows = []
    for image, label, what in LABELLED_VOLUMES:
        result = run_clinical_inference(
            [data_root / image], network, parser.get_parsed_content("slice_preprocessing"),
            parser.get_parsed_content("class_names"), output_dir,
            tumour_classes=parser.get_parsed_content("positive_classes"), aggregation="top_k_mean",
            run_name="slice_auc", batch_size=32,
        )
        series = result.series[0]
        flags = load_slice_labels(data_root / label)
        res = tumour_slice_auc(series.tumour_probabilities, flags, ignore_margin=margin)
        rows.append({
            "volume": image, "label": label, "what": what, "auc": res.auc,
            "tumour_slices": res.n_tumour_slices, "tumour_free_slices": res.n_tumour_free_slices, "ignored": res.n_ignored,
            "series_tumour_probability": series.decision.tumour_probability if series.decision else None,
        })
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default="resnet18_binary")
    p.add_argument("--bundle-root", default=None, help="folder holding models/model.pt (default: the bundle)")
    p.add_argument("--checkpoint", default=None, help="weights to use (default: <bundle root>/models/model.pt)")
    p.add_argument("--out", default=str(ROOT / "docs" / "clinical_validation.md"))
    args = p.parse_args(argv)

    from monai_tumorcls.config import get_data_root
    from monai_tumorcls.utils import atomic_write_text, cpu_model, environment_info

    with tempfile.TemporaryDirectory() as tmp:
        rows = slice_aucs(args.bundle, args.bundle_root, get_data_root(must_exist=True) / "nifti", Path(tmp), checkpoint=args.checkpoint)
    root = Path(args.bundle_root) if args.bundle_root else ROOT / "bundles" / args.bundle
    ckpt = Path(args.checkpoint) if args.checkpoint else root / "models" / "model.pt"
    info_path = ckpt.with_name(ckpt.name + ".json")
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    env = environment_info()
    cmd = shlex.join(["python", "benchmarks/clinical_slice_auc.py", *(argv if argv is not None else sys.argv[1:])])
    lines = [
        "# Clinical validation: tumour slices vs tumour-free slices of the same volume",
        "",
        f"Written by `{cmd}` on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC;",
        f"machine: {cpu_model()}, torch {env['torch']}, monai {env['monai']}.",
        f"Model: bundle `{args.bundle}`, checkpoint `{ckpt.relative_to(ROOT) if ckpt.is_relative_to(ROOT) else ckpt}` ({json.dumps(info)}); see docs/results.md for how it was trained.",
        "",
        "Each volume goes through bundle inference (axial display-oriented slices, the training preprocessing) and the",
        "per-slice tumour probability is compared with the label map: ROC-AUC of tumour slices (label present) vs",
        "tumour-free slices, leaving out tumour-free slices within 2 slices of a tumour slice. 0.5 = no ranking.",
        "",
        "| volume | label | tumour / tumour-free slices (ignored) | slice AUC | series tumour probability (top-3 mean) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| `{r['volume']}` | {r['what']} | {r['tumour_slices']} / {r['tumour_free_slices']} ({r['ignored']}) | "
                     f"{r['auc']:.3f} | {r['series_tumour_probability']:.3f} |")
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
