"""The one writer of inference results: the clinical run's JSON report and CSV slice table, and the prediction
table of an image-folder run (``predictions.json``/``.csv``, one row per file). Each run's files are written as
one set (all replace the old files, or none does), so they always come from the same run, and each names what
produced it (the provenance record: in the JSON as ``provenance``, in every CSV row as the last columns).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from ...checkpoint.provenance import PROVENANCE_COLUMNS, provenance_cells
from ...handlers.prediction_writer import prediction_tables
from ...utils.atomic import atomic_write_texts
from .records import ClinicalRunResult, SeriesResult

__all__ = ["CSV_COLUMNS", "LESION_CSV_COLUMNS", "PREDICTIONS_STEM",
           "csv_text", "finite_or_null", "write_run_outputs", "write_predictions"]

#: stem of an image-folder run's prediction table (users' scripts read ``predictions.json``/``.csv``)
PREDICTIONS_STEM = "predictions"

CSV_COLUMNS = [
    "series_index",
    "series_id",
    "input_index",
    "source",
    "modality",
    "slice_plane",
    "series_label",
    "series_tumour_probability",
    "series_predicted_class",
    "slice_index",
    "position_mm",
    "excluded",
    "exclusion_reason",
    "foreground_fraction",
    "contributing",
    "tumour_probability",
    "warnings",
]


#: the columns of a network with a lesion head (:class:`~monai_tumorcls.apps.clinical.lesion.SeriesLesion`)
LESION_CSV_COLUMNS = [
    "lesion_area_px",
    "lesion_area_mm2",
    "lesion_peak_row",
    "lesion_peak_col",
    "lesion_peak_probability",
    "series_lesion_volume_ml",
    "series_lesion_first_slice",
    "series_lesion_last_slice",
]


def _lesion_cells(s: SeriesResult, r) -> dict:
    """The :data:`LESION_CSV_COLUMNS` of slice ``r`` of series ``s`` (empty without a lesion)."""
    if s.lesion is None:
        return {}
    first, last = s.lesion.slice_range or ("", "")
    return {"lesion_area_px": r.lesion_area_px, "lesion_area_mm2": _fmt(r.lesion_area_mm2),
            "lesion_peak_row": r.lesion_peak["row"], "lesion_peak_col": r.lesion_peak["col"],
            "lesion_peak_probability": _fmt(r.lesion_peak["probability"]),
            "series_lesion_volume_ml": _fmt(s.lesion.volume_ml), "series_lesion_first_slice": first,
            "series_lesion_last_slice": last}


def csv_text(series: Sequence[SeriesResult], class_names: Sequence[str], with_path: bool,
             provenance: Mapping | None = None) -> str:
    """The CSV slice table: one row per slice of each series, ``prob_<class>`` columns in ``class_names`` order,
    the series' warnings, the lesion columns when a series has a predicted lesion, and last the
    :data:`~monai_tumorcls.checkpoint.PROVENANCE_COLUMNS` of ``provenance`` when given."""
    buf = io.StringIO()
    cols = (
        CSV_COLUMNS + [f"prob_{c}" for c in class_names] + ["source_file_id", "source_frame", "source_instance_number"]
        + ["series_warnings"] + (LESION_CSV_COLUMNS if any(s.lesion is not None for s in series) else [])
    )
    if with_path:
        cols.append("source_path")
    traced = provenance_cells(provenance) if provenance is not None else {}
    cols += list(PROVENANCE_COLUMNS) if traced else []
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for s in series:
        for r in s.slices:
            row = {
                "series_index": s.series_index,
                "series_id": s.series_id,
                "input_index": s.input_index,
                "source": s.source,
                "modality": s.modality,
                "slice_plane": s.slice_plane,
                "series_label": s.decision.label,
                "series_tumour_probability": _fmt(s.decision.tumour_probability),
                "series_predicted_class": s.decision.predicted_class or "",
                "slice_index": r.slice_index,
                "position_mm": r.position_mm,
                "excluded": int(r.excluded),
                "exclusion_reason": r.exclusion_reason,
                "foreground_fraction": r.foreground_fraction,
                "contributing": int(r.contributing),
                "tumour_probability": _fmt(r.tumour_probability),
                "warnings": "; ".join(r.warnings),
                "source_file_id": r.source_file_id or "",
                "source_frame": "" if r.source_frame is None else r.source_frame,
                "source_instance_number": "" if r.source_instance_number is None else r.source_instance_number,
                "series_warnings": "; ".join(s.warnings),
                **_lesion_cells(s, r),
            }
            for c in class_names:
                row[f"prob_{c}"] = _fmt(r.probabilities[c]) if r.probabilities else ""
            if with_path:
                row["source_path"] = r.source_path or ""
            w.writerow({**row, **traced})
    return buf.getvalue()


def _fmt(v: float | None) -> str:
    return "" if v is None or not math.isfinite(v) else f"{v:.6f}"


def finite_or_null(value):
    """``value`` with every float that is not finite (NaN, Inf) replaced by ``None``, in nested dicts, lists and
    tuples: JSON has no NaN, and one such value must not stop the run's report from being written."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value


def write_run_outputs(result: ClinicalRunResult, report: dict, class_names: Sequence[str], with_path: bool) -> None:
    """Write ``report`` to ``result.json_path`` and the slice table to ``result.csv_path`` as one set (both replace
    the old files, or neither does), so the two files always come from the same run; both carry the report's
    ``provenance``. A value that is not finite is written as null (JSON) or left empty (CSV)."""
    json_text = json.dumps(finite_or_null(report), indent=2, allow_nan=False) + "\n"
    table = csv_text(result.series, class_names, with_path, report.get("provenance"))
    atomic_write_texts({result.json_path: json_text, result.csv_path: table})


def write_predictions(output_dir: str | Path, rows: list[dict], class_names: Sequence[str],
                      provenance: Mapping | None = None) -> None:
    """Write the prediction table of an image-folder run: ``<output_dir>/predictions.json`` and ``.csv``, one row
    per file (sorted by file), as one set, with the ``provenance`` record when given."""
    json_text, csv_table = prediction_tables(sorted(rows, key=lambda r: r["file"]), class_names, provenance)
    output_dir = Path(output_dir)
    atomic_write_texts({output_dir / f"{PREDICTIONS_STEM}.json": json_text,
                        output_dir / f"{PREDICTIONS_STEM}.csv": csv_table})
