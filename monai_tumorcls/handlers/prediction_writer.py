"""Inference handler writing one row per input file (predicted class, probabilities or the per-file error)."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from monai_tumorcls.checkpoint.provenance import PROVENANCE_COLUMNS, Provenance, provenance_cells
from monai_tumorcls.data.item_keys import ItemKeys
from monai_tumorcls.handlers.collector import ItemCollector, RawOutputs, item_filename, merged_items
from monai_tumorcls.utils.atomic import atomic_write_texts, is_out_of_space
from monai_tumorcls.utils.deprecation import moved_keywords
from monai_tumorcls.utils.model_outputs import NON_FINITE_OUTPUT, finite_values

if TYPE_CHECKING:
    from ignite.engine import Engine

__all__ = ["PredictionWriter", "prediction_row", "prediction_tables"]

logger = logging.getLogger("PredictionWriter")
_OLD_KEYWORDS = ItemKeys.old_keywords("pred", "error", "warnings", "skipped", "logits")


def printable_name(text: str) -> str:
    """``text`` as valid UTF-8: bytes of a file name that are not UTF-8 (kept by Python as surrogates) become
    ``\\xNN`` escapes instead of failing the write."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def prediction_row(name: str, class_names: Sequence[str], probabilities, problem: str = "", skipped: bool = False,
                   warnings: str = "", extra: dict | None = None) -> dict:
    """One row of the prediction table: file ``name``; ``problem`` (why it is not classified: a read error, or the
    reason it is ``skipped``), else its class ``probabilities`` (None when the network output is not finite: an
    error row too, no decision from a broken model); ``warnings`` joined by ``"; "``; ``extra`` (the saliency peak
    and overlay file) added to a classified row."""
    if not problem and probabilities is None:
        problem = f"{name}: {NON_FINITE_OUTPUT}"
        logger.error("%s", problem)
    row = {"file": name, "status": "skipped" if skipped else ("error" if problem else "ok"),
           "error": printable_name(problem), "warnings": [w for w in warnings.split("; ") if w]}
    if problem:
        return {**row, "predicted": None, "probabilities": None}
    row["predicted"] = class_names[int(np.asarray(probabilities).argmax())]
    row["probabilities"] = {c: round(float(v), 6) for c, v in zip(class_names, probabilities)}
    return {**row, **(extra or {})}


_LESION_COLUMNS = ("lesion_area_px", "lesion_peak_row", "lesion_peak_col", "lesion_peak_probability")


def _lesion_cells(row: dict) -> list:
    """The lesion cells of a row (empty for a row without a lesion map: an error or a skipped file)."""
    if "lesion_area_px" not in row:
        return [""] * len(_LESION_COLUMNS)
    peak = row["lesion_peak"]
    return [row["lesion_area_px"], peak["row"], peak["col"], peak["probability"]]


def prediction_tables(rows: list[dict], class_names: Sequence[str],
                      provenance: Mapping | None = None) -> tuple[str, str]:
    """The JSON and CSV text of the prediction table of ``rows`` (sorted by file). A ``provenance`` record
    (:meth:`~monai_tumorcls.checkpoint.Provenance.record`) goes into the JSON as ``provenance`` and into every CSV
    row as the :data:`~monai_tumorcls.checkpoint.PROVENANCE_COLUMNS`, last."""
    counts = {status: sum(r["status"] == status for r in rows) for status in ("ok", "error", "skipped")}
    summary = {"num_files": len(rows), "num_failed": counts["error"], "num_skipped": counts["skipped"],
               "num_classified": counts["ok"], "class_names": list(class_names)}
    if provenance is not None:
        summary["provenance"] = dict(provenance)
    summary["rows"] = rows
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    lesion = any("lesion_area_px" in r for r in rows)  # a network with a lesion head: its columns
    traced = list(provenance_cells(provenance).values()) if provenance is not None else []
    writer.writerow(["file", "status", "predicted"] + [f"prob_{c}" for c in class_names] + ["error", "warnings"]
                    + (list(_LESION_COLUMNS) if lesion else []) + (list(PROVENANCE_COLUMNS) if traced else []))
    for r in rows:
        probs = [r["probabilities"][c] for c in class_names] if r["probabilities"] else [""] * len(class_names)
        writer.writerow([r["file"], r["status"], r["predicted"] or ""] + probs + [r["error"], "; ".join(r["warnings"])]
                        + (_lesion_cells(r) if lesion else []) + traced)
    return json.dumps(summary, indent=2, allow_nan=False) + "\n", buf.getvalue()


class PredictionWriter(ItemCollector):
    """Writes ``<stem>.csv`` and ``<stem>.json`` with one row per input file: ``status`` ``ok`` with the predicted
    class and class probabilities; ``error`` with what stopped the file from being read or classified (see
    :class:`monai_tumorcls.data.FailSafeDataset`; a network output that is not finite, e.g. from NaN weights, is an
    error too: no decision from a broken model); or ``skipped`` with why the file is not classified (an output of this
    package). ``error`` holds the one-line reason of both. ``warnings`` says what makes a prediction untrustworthy (a
    blank or tiny image). Files are written atomically when the run completes; :attr:`num_classified`,
    :attr:`num_failed` and :attr:`num_skipped` count the rows.

    Args:
        output_dir: destination folder.
        class_names: names indexed by the network's output channel.
        stem: file name stem.
        keys: the item keys (:class:`~monai_tumorcls.data.ItemKeys`) read: ``pred`` (the (C,) class probabilities),
            ``error`` (an error message, "" when the item was read), ``warnings`` (the image's warnings, joined by
            "; "; "" or absent when none), ``skipped`` (why the file is not classified; "" or absent when it is) and
            ``logits`` (the network's raw output, checked to be finite too: a ``-inf`` logit can still give finite
            probabilities; on a MONAI engine it is captured before the postprocessing, :class:`RawOutputs` of
            ``pred``).
        save_rank: rank that writes in distributed runs.
        provenance: what produced the predictions (:class:`~monai_tumorcls.checkpoint.Provenance`), recorded in
            both tables with the time they are written; None: not recorded.
        old_keywords: ``pred_key``, ``error_key``, ``warnings_key``, ``skipped_key``, ``logits_key``: deprecated
            spellings of ``keys`` (a ``FutureWarning``; they go in the next release).
    """

    def __init__(self, output_dir: str | Path, class_names: Sequence[str], stem: str = "predictions",
                 keys: ItemKeys | None = None, save_rank: int = 0, provenance: Provenance | None = None,
                 **old_keywords: str) -> None:
        keys = moved_keywords("PredictionWriter", keys, ItemKeys, old_keywords, _OLD_KEYWORDS, accepted=_OLD_KEYWORDS)
        super().__init__(save_rank=save_rank)
        self.output_dir = Path(output_dir)
        self.class_names = list(class_names)
        self.stem, self.keys, self.provenance = stem, keys, provenance
        self.raw_outputs = RawOutputs(keys.pred)
        self.num_failed = self.num_skipped = self.num_classified = 0
        self.write_error: OSError | None = None  # a full disk when the tables were written

    def attach(self, engine: Engine) -> None:
        super().attach(engine)
        self.raw_outputs.attach(engine)

    def _collect(self, engine: Engine) -> None:
        items = merged_items(engine.state.batch, engine.state.output)
        raw = self.raw_outputs.take(len(items))  # in batch order, as the decollated items
        if raw is not None:
            items = [{**item, self.keys.logits: logits} for item, logits in zip(items, raw)]
        self.rows.extend(self.row(item) for item in items)

    def row(self, item: dict) -> dict:
        name = printable_name(item_filename(item))
        error, skipped = item.get(self.keys.error) or "", item.get(self.keys.skipped) or ""
        prob = None if error or skipped else finite_values(item[self.keys.pred])
        if not (error or skipped) and not self._finite_logits(item):
            prob = None
        warnings = str(item.get(self.keys.warnings) or "")
        extra = {k: item[k] for k in ("saliency_peak", "saliency_file") if k in item}  # from a SaliencyWriter
        return prediction_row(name, self.class_names, prob, error or skipped, not error and bool(skipped), warnings, extra)

    def _finite_logits(self, item: dict) -> bool:
        return self.keys.logits not in item or finite_values(item[self.keys.logits]) is not None

    def finalize(self, rows: list[dict], engine: Engine | None = None) -> None:
        rows = sorted(rows, key=lambda r: r["file"])
        counts = {status: sum(r["status"] == status for r in rows) for status in ("ok", "error", "skipped")}
        self.num_classified, self.num_failed, self.num_skipped = counts["ok"], counts["error"], counts["skipped"]
        record = self.provenance.record() if self.provenance is not None else None
        json_text, csv_text = prediction_tables(rows, self.class_names, record)
        # one set: either both files of this run replace the old ones, or neither does (e.g. on a full disk)
        try:
            atomic_write_texts({self.output_dir / f"{self.stem}.json": json_text,
                                self.output_dir / f"{self.stem}.csv": csv_text})
        except OSError as e:
            if not is_out_of_space(e):
                raise
            self.write_error = e  # the run ends with one line (run_inference), not an engine traceback
            return
        self.logger.info("predictions for %d files written to %s (%d classified, %d failed, %d skipped)", len(rows),
                         self.output_dir, self.num_classified, self.num_failed, self.num_skipped)
        if engine is not None:
            engine.state.metrics["num_failed"] = self.num_failed
