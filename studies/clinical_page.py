"""``docs/reports/clinical_validation.md``: one page, the method once, then one ``## <bundle>`` section per bundle,
written by :mod:`studies.clinical_slice_auc` (a run replaces its bundle's section and keeps the others)."""

from __future__ import annotations

import json

TITLE = "# Clinical validation: tumour slices vs tumour-free slices of the same volume"
INTRO = "\n".join([
    "Each bundle's section is written by `python -m studies.clinical_slice_auc --bundle <bundle>` (a rerun replaces",
    "only its own bundle's section). Each volume goes through bundle inference (axial display-oriented slices, the",
    "training preprocessing) and the per-slice tumour probability is compared with the label map: ROC-AUC of tumour",
    "slices (label present) vs tumour-free slices, leaving out tumour-free slices within 2 slices of a tumour slice.",
    "0.5 = no ranking, 1 = every tumour slice above every tumour-free slice.",
    "",
    "`position-only AUC` scores the same slices without looking at them: 1 - |slice index - middle of the",
    "classified range| / half that range. Here the tumours sit mid-brain and the tumour-free slices are the skull",
    "base and the vertex, so this content-free prior ranks well: a model's AUC says it found tumours only where it",
    "beats this baseline.",
    "",
    "`tumour filled in` controls for position: the same volume with its labelled tumour (dilated by 2 voxels)",
    "replaced by the smoothed surrounding tissue goes through the same inference, and the column gives the mean",
    "change of tumour probability over the tumour slices (original minus filled). A model that reacts to the",
    "tumour itself loses probability there (a clearly positive drop); one that reads level, sequence or",
    "acquisition style does not.",
    "",
    "`per-class AUC` (multi-class bundles): the same AUC computed on each class's probability instead of the tumour",
    "probability.",
])
FOLDS_INTRO = [
    "Each fold starts from the checkpoint above and fine-tunes it with the bundle's `adapt_clinical.json` overlay on",
    "Kaggle Training images plus the labelled slices of every *other* patient and of the healthy volunteer",
    "(`monai_tumorcls.data.SHARED_LABELLED_VOLUMES`); the held-out patient's volumes, scored below, were never",
    "seen in training. `before` is the Kaggle-trained model's AUC on the same volume.",
]


def _fmt_drop(drop: float | None) -> str:
    return "n/a" if drop is None else f"{drop:+.3f}"


def fmt_auc(auc: float | None) -> str:
    """An AUC to 3 decimals, ``n/a`` where it is undefined (one class only: ``None``)."""
    return "n/a" if auc is None else f"{auc:.3f}"


def table(rows: list[dict], extra_col: str | None = None) -> list[str]:
    """One row per volume: slice counts, slice AUC, both controls and the series decision (and ``extra_col``)."""
    head = ("| volume | patient | label | tumour / tumour-free slices (ignored) | slice AUC | position-only AUC "
            "| tumour filled in: drop of tumour probability | series tumour probability (top-3 mean) |")
    sep = "|---|---|---|---|---|---|---|---|"
    if extra_col:
        head, sep = head + f" {extra_col} |", sep + "---|"
    out = [head, sep]
    for r in rows:
        line = (f"| `{r['volume']}` | {r['group']} | {r['what']} | {r['tumour_slices']} / {r['tumour_free_slices']} "
                f"({r['ignored']}) | {fmt_auc(r['auc'])} | {fmt_auc(r['position_auc'])} | {_fmt_drop(r['occlusion_drop'])} "
                f"| {r['series_tumour_probability']:.3f} |")
        out.append(line + (f" {r[extra_col]} |" if extra_col else ""))
    return out


def folds_lines(folds: list[dict]) -> list[str]:
    """The leave-one-patient-out subsection: the held-out volumes' table and each fold's command and wall time."""
    lines = ["", "### Leave-one-patient-out in-domain fine-tuning", "", *FOLDS_INTRO, ""]
    lines += table([r for f in folds for r in f["rows"]], "before")
    lines += ["", "Commands (one per fold; wall time on this machine):", ""]
    for f in folds:
        when = "not re-run (`--rescore`: its existing checkpoint was scored)" if f["wall_s"] is None else f"{f['wall_s']:.0f} s"
        lines += [f"- {f['group']} held out, {when}:", "", "  ```bash", f"  {f['command']}", "  ```", ""]
    return lines


def render_section(args, argv: list[str], checkpoint: tuple[str, dict], rows: list[dict], folds: list[dict]) -> list[str]:
    """The lines of the section ``args.section`` (the CLI defaults it to the bundle); ``checkpoint`` is (its portable
    path, its ``.json`` info)."""
    from monai_tumorcls.utils import cpu_model, environment_info, shell_join
    from monai_tumorcls.utils.reporting import utc_now

    env = environment_info()
    cmd = shell_join(["python", "-m", "studies.clinical_slice_auc", *argv])
    per_class = len(rows[0]["class_aucs"]) > 2  # which class's probability follows the tumour, which opposes it
    for r in rows if per_class else ():
        r["per-class AUC"] = ", ".join(f"{k} {v:.2f}" for k, v in r["class_aucs"].items())
    ckpt, info = checkpoint
    lines = [
        f"## {args.section}",
        "",
        f"Written by `{cmd}` on {utc_now()};",
        f"machine: {cpu_model()}, torch {env['torch']}, monai {env['monai']}.",
        "",
        f"### {args.model_title}",
        "",
        f"Bundle `{args.bundle}`, checkpoint `{ckpt}` ({json.dumps(info)}); {args.model_note}",
        "",
        *table(rows, "per-class AUC" if per_class else None),
    ]
    return lines + (folds_lines(folds) if folds else [])
