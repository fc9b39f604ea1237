"""Writing evaluation reports: JSON + Markdown summary, confusion matrix as CSV and PNG, ROC curves and reliability
diagram as PNG (all written atomically)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from monai_tumorcls.utils.atomic import atomic_write_bytes, atomic_write_text

__all__ = [
    "write_classification_report",
    "confusion_matrix_png",
    "report_markdown",
    "roc_curve",
    "roc_curves_png",
    "reliability_diagram_png",
]


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def confusion_matrix_csv(cm: Sequence[Sequence[int]], class_names: Sequence[str]) -> str:
    """CSV text: header ``true\\pred,<classes>``, one row per true class."""
    lines = ["true\\pred," + ",".join(class_names)]
    lines += [name + "," + ",".join(str(int(v)) for v in row) for name, row in zip(class_names, cm)]
    return "\n".join(lines) + "\n"


def confusion_matrix_png(cm: Sequence[Sequence[int]], class_names: Sequence[str], title: str = "") -> bytes:
    """Render a confusion matrix (rows true, columns predicted) as PNG bytes with Pillow."""
    from PIL import Image, ImageDraw, ImageFont

    cm = np.asarray(cm, dtype=np.int64)
    n = len(class_names)
    cell, left, top = 90, 130, 70
    img = Image.new("RGB", (left + n * cell + 20, top + n * cell + 50), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    row_sums = cm.sum(axis=1, keepdims=True).clip(min=1)
    frac = cm / row_sums
    draw.text((10, 8), title or "confusion matrix (rows: true, columns: predicted)", fill="black", font=font)
    for j, name in enumerate(class_names):
        draw.text((left + j * cell + 6, top - 20), name[:12], fill="black", font=font)
    for i, name in enumerate(class_names):
        draw.text((8, top + i * cell + cell // 2 - 6), name[:16], fill="black", font=font)
        for j in range(n):
            shade = int(255 - 200 * frac[i, j])
            x0, y0 = left + j * cell, top + i * cell
            draw.rectangle([x0, y0, x0 + cell - 2, y0 + cell - 2], fill=(shade, shade, 255), outline="grey")
            colour = "white" if frac[i, j] > 0.6 else "black"
            draw.text((x0 + 8, y0 + cell // 2 - 12), f"{cm[i, j]}", fill=colour, font=font)
            draw.text((x0 + 8, y0 + cell // 2 + 2), f"{100 * frac[i, j]:.1f}%", fill=colour, font=font)
    draw.text((left, top + n * cell + 15), "predicted", fill="black", font=font)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def roc_curve(is_positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct threshold of ``score`` (from (0, 0) to (1, 1))."""
    is_positive = np.asarray(is_positive, bool).reshape(-1)
    score = np.asarray(score, float).reshape(-1)
    order = np.argsort(-score, kind="stable")
    tp, fp = np.cumsum(is_positive[order]), np.cumsum(~is_positive[order])
    last_of_tie = np.r_[np.diff(score[order]) != 0, True]  # one point per threshold: ties move together
    tpr = np.r_[0.0, tp[last_of_tie] / max(is_positive.sum(), 1)]
    fpr = np.r_[0.0, fp[last_of_tie] / max((~is_positive).sum(), 1)]
    return fpr, tpr


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _figure():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5, 5))


def roc_curves_png(report: Mapping, labels: np.ndarray, probs: np.ndarray, title: str = "") -> bytes:
    """One-vs-rest ROC curve of every class (one curve for two classes: the positive summary's, else class 1),
    with the AUCs of ``report`` (a :func:`~monai_tumorcls.metrics.classification_metrics` output) in the legend."""
    labels, probs = np.asarray(labels, int), np.asarray(probs, float)
    names = report["class_names"]
    fig, ax = _figure()
    if "binary" in report and len(names) == 2:
        pos = [names.index(c) for c in report["binary"]["positive_classes"]]
        curves = [("+".join(report["binary"]["positive_classes"]), np.isin(labels, pos), probs[:, pos].sum(axis=1),
                   report["binary"]["roc_auc"])]
    else:
        curves = [(n, labels == i, probs[:, i], report["roc_auc_per_class"][n]) for i, n in enumerate(names)]
    for name, is_pos, score, auc in curves:
        if 0 < is_pos.sum() < is_pos.size:
            fpr, tpr = roc_curve(is_pos, score)
            ax.plot(fpr, tpr, label=f"{name} (AUC {_fmt(auc)})")
    ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=1)
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title=title or "ROC (one vs rest)")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def reliability_diagram_png(calibration: Mapping, title: str = "") -> bytes:
    """Top-label reliability diagram (accuracy against mean confidence per bin) from a
    :func:`~monai_tumorcls.metrics.calibration.calibration_summary`, before and, if a temperature was fitted,
    after temperature scaling."""
    fig, ax = _figure()
    runs = [("as predicted", calibration["reliability"], calibration["ece"])]
    if calibration["temperature"] != 1.0:
        runs.append((f"T = {calibration['temperature']:.3f}", calibration["reliability_scaled"], calibration["ece_scaled"]))
    for label, bins, ece in runs:
        conf, acc = np.asarray(bins["confidence"], float), np.asarray(bins["accuracy"], float)
        keep = ~np.isnan(conf)
        ax.plot(conf[keep], acc[keep], marker="o", label=f"{label} (ECE {ece:.4f})")
    ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=1, label="perfect calibration")
    ax.set(xlabel="confidence (top-class probability)", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1),
           title=title or "reliability diagram")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def report_markdown(reports: Mapping[str, Mapping], title: str = "Evaluation report") -> str:
    """Markdown text for one or more named reports (e.g. ``{"official": ..., "dedup": ...}``)."""
    lines = [f"# {title}", ""]
    names = list(reports)
    first = reports[names[0]]
    lines += ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    rows = [("samples", lambda r: r["num_samples"]), ("accuracy", lambda r: r["accuracy"])]
    rows += [(f"macro {k}", (lambda k: lambda r: r["macro"][k])(k)) for k in first["macro"]]
    rows += [("ROC-AUC (macro one-vs-rest)", lambda r: r["roc_auc_macro_ovr"])]
    if "calibration" in first:
        t = first["calibration"]["temperature"]
        rows += [("expected calibration error", lambda r: r["calibration"]["ece"]),
                 ("Brier score", lambda r: r["calibration"]["brier"]),
                 (f"ECE after temperature scaling (T = {t:.4f})", lambda r: r["calibration"]["ece_scaled"]),
                 (f"Brier after temperature scaling (T = {t:.4f})", lambda r: r["calibration"]["brier_scaled"])]
    if "binary" in first:
        pos = "+".join(first["binary"]["positive_classes"])
        for k in ("accuracy", "precision", "recall", "f1", "sensitivity", "specificity", "roc_auc"):
            rows.append((f"{pos} vs rest: {k}", (lambda k: lambda r: r["binary"][k])(k)))
    for label, get in rows:
        lines.append(f"| {label} | " + " | ".join(_fmt(get(reports[n])) for n in names) + " |")
    for n in names:
        r = reports[n]
        lines += ["", f"## Per-class report ({n})", "", "| class | precision | recall | F1 | specificity | ROC-AUC | support |",
                  "|---|---|---|---|---|---|---|"]
        for cls, m in r["per_class"].items():
            lines.append(
                f"| {cls} | {_fmt(m['precision'])} | {_fmt(m['recall'])} | {_fmt(m['f1'])} | {_fmt(m['specificity'])} "
                f"| {_fmt(r['roc_auc_per_class'][cls])} | {m['support']} |"
            )
        lines += ["", f"Confusion matrix ({n}; rows true, columns predicted):", "",
                  "| true \\ pred | " + " | ".join(r["class_names"]) + " |", "|---|" + "---|" * len(r["class_names"])]
        for cls, row in zip(r["class_names"], r["confusion_matrix"]):
            lines.append(f"| {cls} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_classification_report(
    reports: Mapping[str, Mapping],
    output_dir: str | Path,
    prefix: str = "metrics",
    extra: Mapping | None = None,
    scores: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, Path]:
    """Write ``<prefix>.json``, ``<prefix>.md`` and, per report, ``confusion_matrix[_<name>].{csv,png}``, plus
    ``roc_curves[_<name>].png`` for the reports in ``scores`` and ``reliability[_<name>].png`` for those with a
    ``"calibration"`` entry.

    Args:
        reports: named outputs of :func:`monai_tumorcls.metrics.classification_metrics`; the first is the main one.
        output_dir: destination folder (created).
        prefix: file name stem of the JSON/Markdown files.
        extra: more JSON-serialisable fields stored at the top level of the JSON (e.g. checkpoint, command).
        scores: report name -> ``(labels, probabilities)`` it was computed from, for the ROC curves.

    Returns:
        Mapping of artefact name to written path.
    """
    out = Path(output_dir)
    paths = {}
    payload = {**(extra or {}), "reports": dict(reports)}
    paths["json"] = atomic_write_text(out / f"{prefix}.json", json.dumps(payload, indent=2, sort_keys=False) + "\n")
    paths["markdown"] = atomic_write_text(out / f"{prefix}.md", report_markdown(reports))
    for i, (name, r) in enumerate(reports.items()):
        suffix = "" if i == 0 else f"_{name}"
        stem = f"confusion_matrix{suffix}"
        paths[f"{stem}.csv"] = atomic_write_text(out / f"{stem}.csv", confusion_matrix_csv(r["confusion_matrix"], r["class_names"]))
        paths[f"{stem}.png"] = atomic_write_bytes(
            out / f"{stem}.png", confusion_matrix_png(r["confusion_matrix"], r["class_names"], title=f"confusion matrix ({name})")
        )
        if scores and name in scores:
            png = roc_curves_png(r, *scores[name], title=f"ROC, one vs rest ({name})")
            paths[f"roc_curves{suffix}.png"] = atomic_write_bytes(out / f"roc_curves{suffix}.png", png)
        if "calibration" in r:
            png = reliability_diagram_png(r["calibration"], title=f"reliability diagram ({name})")
            paths[f"reliability{suffix}.png"] = atomic_write_bytes(out / f"reliability{suffix}.png", png)
    return paths
