from __future__ import annotations

import csv
import json

import pytest
import torch
from ignite.engine import Engine
from monai.data import MetaTensor

from monai_tumorcls.checkpoint import Provenance
from monai_tumorcls.handlers import (
    ClassificationReportHandler,
    PredictionWriter,
    ReportSplits,
    stack_pred_label,
    stack_pred_onehot,
)


_OUTPUT_KEYS = ("pred", "label")


def _engine(batches):
    """An engine shaped like a MONAI evaluator after decollation: ``state.batch`` holds the datalist fields and
    ``state.output`` the network results, both lists of per-item dicts."""

    def step(engine, batch):
        return [{k: v for k, v in it.items() if k in _OUTPUT_KEYS} for it in batch]

    engine = Engine(step)
    return engine, batches


def _items():
    probs = [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]]
    labels = [0, 1, 0, 1]
    dups = [False, False, True, False]
    return [
        {"pred": torch.tensor(p), "label": torch.tensor(l), "image_path": f"/d/img{i}.jpg", "duplicate_in_training": d}
        for i, (p, l, d) in enumerate(zip(probs, labels, dups))
    ]


def test_report_handler_writes_all_artefacts(tmp_path):
    items = _items()
    handler = ClassificationReportHandler(
        tmp_path, ["notumor", "tumor"], positive_classes=["tumor"],
        splits=ReportSplits("testing", {"dedup": "duplicate_in_training"}), extra={"checkpoint": "models/model.pt"}, temperature=2.0,
    )
    engine, batches = _engine([items[:2], items[2:]])
    handler.attach(engine)
    engine.run(batches, max_epochs=1)
    report = json.loads((tmp_path / "metrics.json").read_text())
    assert report["checkpoint"] == "models/model.pt"
    testing, dedup = report["reports"]["testing"], report["reports"]["dedup"]
    assert testing["num_samples"] == 4 and dedup["num_samples"] == 3
    assert testing["accuracy"] == pytest.approx(0.75)
    assert dedup["accuracy"] == pytest.approx(1.0)
    assert testing["binary"]["specificity"] == pytest.approx(0.5)
    assert testing["binary"]["roc_auc"] == pytest.approx(1.0)
    assert engine.state.metrics["report_accuracy"] == pytest.approx(0.75)
    assert testing["calibration"]["temperature"] == 2.0
    assert testing["calibration"]["brier"] == pytest.approx((0.01 * 2 + 0.04 * 2 + 0.36 * 2 + 0.09 * 2) / 4)
    for name in ("metrics.md", "confusion_matrix.csv", "confusion_matrix.png", "confusion_matrix_dedup.csv", "predictions.csv",
                 "roc_curves.png", "reliability.png", "roc_curves_dedup.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.reader(open(tmp_path / "confusion_matrix.csv")))
    assert rows == [["true\\pred", "notumor", "tumor"], ["notumor", "1", "1"], ["tumor", "0", "2"]]
    md = (tmp_path / "metrics.md").read_text()
    assert "| tumor |" in md and "specificity" in md
    assert not list(tmp_path.glob(".*.tmp"))


def test_report_handler_reports_a_subset_only_where_the_items_carry_its_flag(tmp_path):
    """The Kaggle datalist flags 512x512 images and the BraTS-2015 one does not: one evaluate config serves both,
    reporting the "other sizes" subset only on the data that has the flag."""
    subsets = {"dedup": "duplicate_in_training", "other_sizes": "size_512x512"}
    handler = ClassificationReportHandler(tmp_path / "brats", ["notumor", "tumor"], splits=ReportSplits("testing", subsets))
    rows = [handler.row(it) for it in _items()]
    handler.finalize(rows)
    assert set(json.loads((tmp_path / "brats" / "metrics.json").read_text())["reports"]) == {"testing", "dedup"}
    header = next(csv.reader(open(tmp_path / "brats" / "predictions.csv")))
    assert header[-1] == "duplicate_in_training" and "size_512x512" not in header

    kaggle = [dict(it, size_512x512=big) for it, big in zip(_items(), [False, True, False, True])]
    handler = ClassificationReportHandler(tmp_path / "kaggle", ["notumor", "tumor"], splits=ReportSplits("testing", subsets))
    handler.finalize([handler.row(it) for it in kaggle])
    reports = json.loads((tmp_path / "kaggle" / "metrics.json").read_text())["reports"]
    assert reports["other_sizes"]["num_samples"] == 2 and reports["other_sizes"]["accuracy"] == pytest.approx(0.5)
    table = list(csv.DictReader(open(tmp_path / "kaggle" / "predictions.csv")))
    assert [r["size_512x512"] for r in table] == ["0", "1", "0", "1"]


def test_report_handler_empty_raises(tmp_path):
    handler = ClassificationReportHandler(tmp_path, ["a", "b"])
    with pytest.raises(ValueError, match="empty"):
        handler.finalize([])
    assert not list(tmp_path.iterdir())  # nothing written for an empty evaluation


def test_prediction_writer_records_errors(tmp_path):
    ok = {"pred": torch.tensor([0.25, 0.75]), "image": MetaTensor(torch.zeros(1), meta={"filename_or_obj": "/x/b.png"}), "error": ""}
    bad = {"pred": torch.tensor([0.5, 0.5]), "image_path": "/x/a.jpg", "error": "/x/a.jpg: truncated JPEG"}
    writer = PredictionWriter(tmp_path, ["notumor", "tumor"])
    engine, batches = _engine([[ok, bad]])
    writer.attach(engine)
    engine.run(batches, max_epochs=1)
    data = json.loads((tmp_path / "predictions.json").read_text())
    assert data["num_files"] == 2 and data["num_failed"] == 1
    assert [r["file"] for r in data["rows"]] == ["/x/a.jpg", "/x/b.png"]
    assert data["rows"][0]["status"] == "error" and "truncated" in data["rows"][0]["error"]
    assert data["rows"][1]["predicted"] == "tumor"
    rows = list(csv.DictReader(open(tmp_path / "predictions.csv")))
    assert rows[1]["prob_tumor"] == "0.75" and rows[0]["predicted"] == ""
    assert engine.state.metrics["num_failed"] == 1
    assert "provenance" not in data and "checkpoint_sha256" not in rows[0]  # none given: none claimed


def test_prediction_writer_names_what_produced_the_predictions(tmp_path):
    item = {"pred": torch.tensor([0.25, 0.75]), "image_path": "/x/b.png", "error": ""}
    writer = PredictionWriter(tmp_path, ["notumor", "tumor"], provenance=Provenance("bundle_b", "2.0", "cd" * 32))
    engine, batches = _engine([[item]])
    writer.attach(engine)
    engine.run(batches, max_epochs=1)
    data = json.loads((tmp_path / "predictions.json").read_text())
    assert data["provenance"]["bundle"] == {"name": "bundle_b", "version": "2.0"}
    (row,) = csv.DictReader(open(tmp_path / "predictions.csv"))
    assert (row["bundle_name"], row["checkpoint_sha256"], row["created"]) == (
        "bundle_b", "cd" * 32, data["provenance"]["created"])


def test_stack_pred_label():
    pred, label = stack_pred_label(_items())
    assert pred.shape == (4, 2) and label.tolist() == [0, 1, 0, 1] and label.dtype == torch.long


def test_stack_pred_onehot_feeds_monai_rocauc():
    from monai.handlers import ROCAUC

    items = _items()
    items[2]["pred"] = torch.tensor([0.25, 0.75], dtype=torch.bfloat16)  # a negative scored above one positive
    pred, onehot = stack_pred_onehot(items)
    assert pred.dtype == torch.float32 and onehot.tolist() == [[1, 0], [0, 1], [1, 0], [0, 1]]
    auc = ROCAUC(output_transform=stack_pred_onehot)
    auc.reset()
    auc.update(stack_pred_onehot(items))
    assert auc.compute() == pytest.approx(0.75)  # 3 of the 4 (positive, negative) pairs in order, in both classes


def test_non_utf8_file_name_is_escaped_and_both_outputs_written(tmp_path):
    import json as _json

    from monai_tumorcls.handlers import PredictionWriter

    bad = "/in/scan_\udcff\udcfe.png"  # the bytes b"scan_\\xff\\xfe.png" as Python decodes a non-UTF-8 name
    writer = PredictionWriter(tmp_path, ["notumor", "tumor"])
    rows = [writer.row({"image_path": bad, "pred": torch.tensor([0.2, 0.8]), "error": ""}),
            writer.row({"image_path": "/in/ok.png", "pred": torch.tensor([0.9, 0.1]), "error": ""})]
    writer.finalize(rows)
    data = _json.loads((tmp_path / "predictions.json").read_text(encoding="utf-8"))
    csv_text = (tmp_path / "predictions.csv").read_text(encoding="utf-8")
    assert {r["file"] for r in data["rows"]} == {"/in/scan_\\xff\\xfe.png", "/in/ok.png"}
    assert "/in/scan_\\xff\\xfe.png" in csv_text and "/in/ok.png" in csv_text


def test_prediction_writer_carries_the_image_warnings(tmp_path):
    tiny = {"pred": torch.tensor([0.01, 0.99]), "image_path": "/x/tiny.png", "error": "",
            "warnings": "blank image (one value); tiny image (1x1 px, a side below 16)"}
    fine = {"pred": torch.tensor([0.9, 0.1]), "image_path": "/x/fine.png", "error": "", "warnings": ""}
    writer = PredictionWriter(tmp_path, ["notumor", "tumor"])
    engine, batches = _engine([[tiny, fine]])
    writer.attach(engine)
    engine.run(batches, max_epochs=1)
    rows = {r["file"]: r for r in json.loads((tmp_path / "predictions.json").read_text())["rows"]}
    assert rows["/x/tiny.png"]["warnings"] == ["blank image (one value)", "tiny image (1x1 px, a side below 16)"]
    assert rows["/x/fine.png"]["warnings"] == []
    table = {r["file"]: r for r in csv.DictReader(open(tmp_path / "predictions.csv"))}
    assert table["/x/tiny.png"]["warnings"] == "blank image (one value); tiny image (1x1 px, a side below 16)"
    assert table["/x/fine.png"]["warnings"] == "" and table["/x/tiny.png"]["predicted"] == "tumor"
