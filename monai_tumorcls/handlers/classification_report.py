"""Evaluator handler writing the full classification report of a run (JSON, Markdown, confusion CSV/PNG, ROC
curves and reliability diagram PNG)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import torch

from monai_tumorcls.data.item_keys import ItemKeys
from monai_tumorcls.handlers.collector import ItemCollector, item_filename, to_scalar
from monai_tumorcls.metrics.calibration import calibration_summary
from monai_tumorcls.metrics.classification import classification_metrics
from monai_tumorcls.metrics.report import write_classification_report
from monai_tumorcls.utils.atomic import atomic_write_text
from monai_tumorcls.utils.deprecation import moved_keywords

if TYPE_CHECKING:
    from ignite.engine import Engine

__all__ = ["ClassificationReportHandler", "ReportSplits"]


@dataclass(frozen=True)
class ReportSplits:
    """The reports of a :class:`ClassificationReportHandler`: one on all items, named ``main``, and one per entry of
    ``subsets`` (report name -> item key of a boolean flag; items with the flag set are left out of that report).

    ``ReportSplits("testing", {"testing_dedup": "duplicate_in_training"})`` adds a report on the items whose
    ``duplicate_in_training`` flag is false. A subset is reported only when every evaluated item carries its flag, so
    one evaluate config serves datalists that set the flag and datalists that do not (the Kaggle set's
    ``size_512x512``, which the BraTS-2015 datalist lacks).
    """

    main: str = "all"
    subsets: Mapping[str, str] = field(default_factory=dict)


_OLD_KEYS = ItemKeys.old_keywords("pred", "label")
_OLD_SPLITS = {"main_name": "main", "subsets": "subsets"}


class ClassificationReportHandler(ItemCollector):
    """Collects probabilities and labels of every evaluated item and, when the run completes, writes
    ``metrics.json``, ``metrics.md``, ``confusion_matrix.{csv,png}``, ``roc_curves.png``, ``reliability.png`` and
    ``predictions.csv`` to ``output_dir``. Calibration (ECE, Brier score) is reported for the probabilities as
    evaluated and after dividing the logits by ``temperature`` (the checkpoint's, fitted on the validation split).
    The ``file`` column of ``predictions.csv`` is :func:`~.collector.item_filename` of the item: its ``image_path``
    (the bundles' evaluate overlays copy the datalist path there before loading, since their preprocessing drops
    the image metadata), else the image's ``filename_or_obj``.

    Besides the report on all items, ``splits.subsets`` adds reports on parts of the data (:class:`ReportSplits`).

    Args:
        output_dir: destination folder.
        class_names: names indexed by label.
        positive_classes: classes whose union is the positive class of the binary summary (e.g. the tumour
            classes); ``None`` for no binary summary.
        splits: the name of the report on all items and the subsets reported besides (:class:`ReportSplits`;
            default: ``"all"``, no subset).
        keys: the item keys (:class:`~monai_tumorcls.data.ItemKeys`) read: ``pred`` (the (C,) class probabilities;
            apply softmax in the evaluator's postprocessing) and ``label`` (the integer label).
        extra: JSON-serialisable fields stored with the report (e.g. the checkpoint used).
        save_rank: rank that writes the files in distributed runs.
        temperature: softmax temperature to report calibration after (1.0: none fitted).
        old_keywords: ``subsets``, ``main_name`` (now ``splits``), ``pred_key``, ``label_key`` (now ``keys``):
            deprecated spellings (a ``FutureWarning``; they go in the next release).
    """

    def __init__(self, output_dir: str | Path, class_names: Sequence[str], positive_classes: Sequence[str] | None = None,
                 splits: ReportSplits | None = None, keys: ItemKeys | None = None, extra: Mapping | None = None,
                 save_rank: int = 0, temperature: float = 1.0, **old_keywords) -> None:
        old_keys = {k: old_keywords.pop(k) for k in list(old_keywords) if k in _OLD_KEYS}
        keys = moved_keywords("ClassificationReportHandler", keys, ItemKeys, old_keys, _OLD_KEYS, accepted=_OLD_KEYS)
        splits = moved_keywords("ClassificationReportHandler", splits, ReportSplits, old_keywords, _OLD_SPLITS,
                                accepted=_OLD_SPLITS)
        super().__init__(save_rank=save_rank)
        self.output_dir = Path(output_dir)
        self.class_names = list(class_names)
        self.positive_classes = list(positive_classes) if positive_classes else None
        self.subsets = dict(splits.subsets or {})
        self.keys, self.main_name = keys, splits.main
        self.extra = dict(extra or {})
        self.temperature = float(temperature)

    def row(self, item: dict) -> dict:
        prob = item[self.keys.pred]
        prob = prob.detach().float().cpu().numpy() if isinstance(prob, torch.Tensor) else np.asarray(prob, float)
        row = {
            "file": item_filename(item),
            "label": int(to_scalar(item[self.keys.label])),
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
