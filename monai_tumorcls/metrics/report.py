"""Writing evaluation reports: JSON + Markdown summary, confusion matrix as CSV and PNG (all written atomically)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from monai_tumorcls.utils.atomic import atomic_write_bytes, atomic_write_text

__all__ = ["write_classification_report", "confusion_matrix_png", "report_markdown"]


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


def report_markdown(reports: Mapping[str, Mapping], title: str = "Evaluation report") -> str:
    """Markdown text for one or more named reports (e.g. ``{"official": ..., "dedup": ...}``)."""
    lines = [f"# {title}", ""]
    names = list(reports)
    first = reports[names[0]]
    lines += ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    rows = [("samples", lambda r: r["num_samples"]), ("accuracy", lambda r: r["accuracy"])]
    rows += [(f"macro {k}", (lambda k: lambda r: r["macro"][k])(k)) for k in first["macro"]]
    rows += [("ROC-AUC (macro one-vs-rest)", lambda r: r["roc_auc_macro_ovr"])]
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
    reports: Mapping[str, Mapping], output_dir: str | Path, prefix: str = "metrics", extra: Mapping | None = None
) -> dict[str, Path]:
    """Write ``<prefix>.json``, ``<prefix>.md`` and, per report, ``confusion_matrix[_<name>].{csv,png}``.

    Args:
        reports: named outputs of :func:`monai_tumorcls.metrics.classification_metrics`; the first is the main one.
        output_dir: destination folder (created).
        prefix: file name stem of the JSON/Markdown files.
        extra: more JSON-serialisable fields stored at the top level of the JSON (e.g. checkpoint, command).

    Returns:
        Mapping of artefact name to written path.
    """
    out = Path(output_dir)
    paths = {}
    payload = {**(extra or {}), "reports": dict(reports)}
    paths["json"] = atomic_write_text(out / f"{prefix}.json", json.dumps(payload, indent=2, sort_keys=False) + "\n")
    paths["markdown"] = atomic_write_text(out / f"{prefix}.md", report_markdown(reports))
    for i, (name, r) in enumerate(reports.items()):
        stem = "confusion_matrix" if i == 0 else f"confusion_matrix_{name}"
        paths[f"{stem}.csv"] = atomic_write_text(out / f"{stem}.csv", confusion_matrix_csv(r["confusion_matrix"], r["class_names"]))
        paths[f"{stem}.png"] = atomic_write_bytes(
            out / f"{stem}.png", confusion_matrix_png(r["confusion_matrix"], r["class_names"], title=f"confusion matrix ({name})")
        )
    return paths
