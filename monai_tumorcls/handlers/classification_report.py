"""Evaluator handler writing the full classification report of a run (JSON, Markdown, confusion CSV/PNG, ROC
curves and reliability diagram PNG)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import torch

from monai_tumorcls.handlers.collector import ItemCollector, item_filename, to_scalar
from monai_tumorcls.metrics.calibration import calibration_summary
from monai_tumorcls.metrics.classification import classification_metrics
from monai_tumorcls.metrics.report import write_classification_report
from monai_tumorcls.utils.atomic import atomic_write_text

if TYPE_CHECKING:
    from ignite.engine import Engine

__all__ = ["ClassificationReportHandler"]


class ClassificationReportHandler(ItemCollector):
    """Collects probabilities and labels of every evaluated item and, when the run completes, writes
    ``metrics.json``, ``metrics.md``, ``confusion_matrix.{csv,png}``, ``roc_curves.png``, ``reliability.png`` and
    ``predictions.csv`` to ``output_dir``. Calibration (ECE, Brier score) is reported for the probabilities as
    evaluated and after dividing the logits by ``temperature`` (the checkpoint's, fitted on the validation split).
    The ``file`` column of ``predictions.csv`` is :func:`~.collector.item_filename` of the item: its ``image_path``
    (the bundles' evaluate overlays copy the datalist path there before loading, since their preprocessing drops
    the image metadata), else the image's ``filename_or_obj``.

    Besides the report on all items, ``subsets`` adds reports on parts of the data: ``{"dedup":
    "duplicate_in_training"}`` reports on the items whose ``duplicate_in_training`` flag is false. A subset is
    reported only when every evaluated item carries its flag, so one evaluate config serves datalists that set the
    flag and datalists that do not (the Kaggle set's ``size_512x512``, which the BraTS-2015 datalist lacks).

    Args:
        output_dir: destination folder.
        class_names: names indexed by label.
        positive_classes: classes whose union is the positive class of the binary summary (e.g. the tumour
            classes); ``None`` for no binary summary.
        subsets: report name -> item key of a boolean flag; items with the flag set are left out of that report.
        pred_key: item key of the (C,) class probabilities (apply softmax in the evaluator's postprocessing).
        label_key: item key of the integer label.
        main_name: name of the report on all items.
        extra: JSON-serialisable fields stored with the report (e.g. the checkpoint used).
        save_rank: rank that writes the files in distributed runs.
        temperature: softmax temperature to report calibration after (1.0: none fitted).
    """

    def __init__(
        self,
        output_dir: str | Path,
        class_names: Sequence[str],
        positive_classes: Sequence[str] | None = None,
        subsets: Mapping[str, str] | None = None,
        pred_key: str = "pred",
        label_key: str = "label",
        main_name: str = "all",
        extra: Mapping | None = None,
        save_rank: int = 0,
        temperature: float = 1.0,
    ) -> None:
        super().__init__(save_rank=save_rank)
        self.output_dir = Path(output_dir)
        self.class_names = list(class_names)
        self.positive_classes = list(positive_classes) if positive_classes else None
        self.subsets = dict(subsets or {})
        self.pred_key, self.label_key = pred_key, label_key
        self.main_name = main_name
        self.extra = dict(extra or {})
        self.temperature = float(temperature)

    def row(self, item: dict) -> dict:
        prob = item[self.pred_key]
        prob = prob.detach().float().cpu().numpy() if isinstance(prob, torch.Tensor) else np.asarray(prob, float)
        row = {
            "file": item_filename(item),
            "label": int(to_scalar(item[self.label_key])),
            "prob": prob.reshape(-1).tolist(),
        }
        for key in self.subsets.values():
            if key in item:
                row[key] = bool(to_scalar(item[key]))
        return row

    def flagged_subsets(self, rows: list[dict]) -> dict[str, str]:
        """The subsets (name -> flag key) whose flag every row carries."""
        return {name: key for name, key in self.subsets.items() if all(key in r for r in rows)}

    def scores(self, rows: list[dict]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Report name -> (labels, probabilities) of its items: all rows, and each flagged subset's."""
        if not rows:
            raise ValueError("no item was evaluated: the evaluation datalist is empty")
        parts = {self.main_name: rows}
        parts.update({name: [r for r in rows if not r[key]] for name, key in self.flagged_subsets(rows).items()})
        return {name: (np.array([r["label"] for r in part]), np.array([r["prob"] for r in part]))
                for name, part in parts.items() if part}

    def compute(self, scores: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
        """Reports (name -> metrics dict, with ``"calibration"``) for the ``scores`` of :meth:`scores`."""
        reports = {}
        for name, (y, p) in scores.items():
            reports[name] = classification_metrics(y, p, self.class_names, self.positive_classes)
            reports[name]["calibration"] = calibration_summary(p, y, self.temperature)
        return reports

    def finalize(self, rows: list[dict], engine: Engine | None = None) -> None:
        scores = self.scores(rows)
        reports = self.compute(scores)
        write_classification_report(reports, self.output_dir, extra=self.extra, scores=scores)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        flags = list(self.flagged_subsets(rows).values())
        writer.writerow(["file", "label", "predicted"] + [f"prob_{c}" for c in self.class_names] + flags)
        for r in rows:
            writer.writerow(
                [r["file"], self.class_names[r["label"]], self.class_names[int(np.argmax(r["prob"]))]]
                + [f"{v:.6f}" for v in r["prob"]]
                + [int(r[k]) for k in flags]
            )
        atomic_write_text(self.output_dir / "predictions.csv", buf.getvalue())
        main = reports[self.main_name]
        summary = ", ".join(f"{n}: acc {r['accuracy']:.4f} (n={r['num_samples']})" for n, r in reports.items())
        self.logger.info("classification report written to %s (%s)", self.output_dir, summary)
        if engine is not None:
            engine.state.metrics["report_accuracy"] = main["accuracy"]
