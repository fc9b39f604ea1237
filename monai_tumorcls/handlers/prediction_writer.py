"""Inference handler writing one row per input file (predicted class, probabilities or the per-file error)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from monai_tumorcls.handlers.collector import ItemCollector, item_filename
from monai_tumorcls.utils.atomic import atomic_write_text

if TYPE_CHECKING:
    from ignite.engine import Engine

__all__ = ["PredictionWriter"]


def printable_name(text: str) -> str:
    """``text`` as valid UTF-8: bytes of a file name that are not UTF-8 (kept by Python as surrogates) become
    ``\\xNN`` escapes instead of failing the write."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class PredictionWriter(ItemCollector):
    """Writes ``<stem>.csv`` and ``<stem>.json`` with, per input file, the predicted class and class
    probabilities, or the error that stopped the file from being read (``error`` column; see
    :class:`monai_tumorcls.data.FailSafeDataset`), and what makes a prediction untrustworthy (``warnings``: a blank
    or tiny image). Files are written atomically when the run completes.

    Args:
        output_dir: destination folder.
        class_names: names indexed by the network's output channel.
        stem: file name stem.
        pred_key: item key of the (C,) class probabilities.
        error_key: item key holding an error message ("" when the item was read).
        warnings_key: item key holding the image's warnings, joined by "; " ("" or absent when none).
        save_rank: rank that writes in distributed runs.
    """

    def __init__(
        self,
        output_dir: str | Path,
        class_names: Sequence[str],
        stem: str = "predictions",
        pred_key: str = "pred",
        error_key: str = "error",
        warnings_key: str = "warnings",
        save_rank: int = 0,
    ) -> None:
        super().__init__(save_rank=save_rank)
        self.output_dir = Path(output_dir)
        self.class_names = list(class_names)
        self.stem, self.pred_key, self.error_key, self.warnings_key = stem, pred_key, error_key, warnings_key
        self.num_failed = 0

    def row(self, item: dict) -> dict:
        error = item.get(self.error_key) or ""
        warnings = [w for w in str(item.get(self.warnings_key) or "").split("; ") if w]
        row = {"file": printable_name(item_filename(item)), "status": "error" if error else "ok",
               "error": printable_name(error), "warnings": warnings}
        if error:
            row.update({"predicted": None, "probabilities": None})
            return row
        prob = item[self.pred_key]
        prob = prob.detach().float().cpu().numpy() if isinstance(prob, torch.Tensor) else np.asarray(prob, float)
        prob = prob.reshape(-1)
        row["predicted"] = self.class_names[int(prob.argmax())]
        row["probabilities"] = {c: round(float(v), 6) for c, v in zip(self.class_names, prob)}
        for key in ("saliency_peak", "saliency_file"):  # from a SaliencyWriter attached before this writer
            if key in item:
                row[key] = item[key]
        return row

    def finalize(self, rows: list[dict], engine: Engine | None = None) -> None:
        rows = sorted(rows, key=lambda r: r["file"])
        self.num_failed = sum(r["status"] == "error" for r in rows)
        summary = {"num_files": len(rows), "num_failed": self.num_failed, "class_names": self.class_names, "rows": rows}
        json_text = json.dumps(summary, indent=2) + "\n"
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["file", "status", "predicted"] + [f"prob_{c}" for c in self.class_names] + ["error", "warnings"])
        for r in rows:
            probs = [r["probabilities"][c] for c in self.class_names] if r["probabilities"] else [""] * len(self.class_names)
            writer.writerow([r["file"], r["status"], r["predicted"] or ""] + probs + [r["error"], "; ".join(r["warnings"])])
        # both texts are complete before either file is written: the two outputs always come from the same run
        atomic_write_text(self.output_dir / f"{self.stem}.json", json_text)
        atomic_write_text(self.output_dir / f"{self.stem}.csv", buf.getvalue())
        self.logger.info(
            "predictions for %d files written to %s (%d failed)", len(rows), self.output_dir, self.num_failed
        )
        if engine is not None:
            engine.state.metrics["num_failed"] = self.num_failed
