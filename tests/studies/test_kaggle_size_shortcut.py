"""studies/kaggle_size_shortcut.py: the content-free "512x512 -> tumour" rule and a run's scores split by size."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tools import full_recipes as full_recipes_module
from studies import kaggle_size_shortcut as kaggle_size_shortcut_module


@pytest.fixture(scope="module")
def shortcut():
    return kaggle_size_shortcut_module


def _image(path, size):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros(size[::-1], np.uint8)).save(path)
    return str(path)


def test_rule_counts_and_scores_each_split(shortcut, tmp_path):
    for split in ("Training", "Testing"):
        _image(tmp_path / split / "glioma" / "g.jpg", (512, 512))
        _image(tmp_path / split / "meningioma" / "m.jpg", (300, 280))  # a tumour of another source: rule says no
        _image(tmp_path / split / "notumor" / "n.jpg", (225, 225))
        (tmp_path / split / "pituitary").mkdir()  # every Kaggle class folder exists, this one empty
        (tmp_path / split / "notumor" / "notes.txt").write_text("not an image")  # left out like the datalists do
    _image(tmp_path / "Training" / "notumor" / "n512.jpg", (512, 512))  # a 512x512 tumour-free image: rule wrong
    lines = shortcut.rule_table(tmp_path)
    assert "| Training | notumor | 1 | 1 |" in lines and "| Testing | meningioma | 0 | 1 |" in lines
    assert lines[-1].endswith("Training 50.00 % (2 of 4); Testing 66.67 % (2 of 3).")


def test_scores_split_by_size_against_the_rule(shortcut, tmp_path):
    big, small = (512, 512), (236, 236)
    rows = [  # (file size, truth, run's answer)
        {"file": _image(tmp_path / "a.png", big), "label": "tumor", "predicted": "tumor"},
        {"file": _image(tmp_path / "b.png", big), "label": "notumor", "predicted": "tumor"},
        {"file": _image(tmp_path / "c.png", small), "label": "tumor", "predicted": "tumor"},
        {"file": _image(tmp_path / "d.png", small), "label": "notumor", "predicted": "notumor"},
        {"file": _image(tmp_path / "e.png", small), "label": "notumor", "predicted": "tumor"},
    ]
    scores = shortcut.stratum_scores(rows)
    assert scores["512x512"] == {"n": 2, "tumours": 1, "tumour_free": 1, "accuracy": 0.5, "rule": 0.5,
                                 "recall": 1.0, "specificity": 0.0}
    other = scores["other sizes"]
    assert (other["n"], other["recall"], other["specificity"]) == (3, 1.0, 0.5)
    assert other["accuracy"] == other["rule"] == pytest.approx(2 / 3)  # c, d right; the rule: d, e right
    assert scores["all"]["n"] == 5 and scores["all"]["accuracy"] == pytest.approx(3 / 5)
    line = shortcut.section("basic-kaggle", next(e for e in full_recipes_module.queue()
                                                 if e.label == "basic-kaggle"), scores, "cmd")[-2]
    assert line == "| all | 5 (2 / 3) | 60.00 | 60.00 | 100.00 | 33.33 |"
    assert list(shortcut.stratum_scores(rows[2:])) == ["other sizes", "all"]  # no 512x512 image: no such row


def test_predictions_without_file_names_are_refused(shortcut, tmp_path):
    old = tmp_path / "predictions.csv"
    old.write_text("file,label,predicted,prob_notumor,prob_tumor\n,tumor,tumor,0.1,0.9\n")
    with pytest.raises(SystemExit, match="rows without a file name.*rerun the evaluate command"):
        shortcut.read_predictions(old)
    with pytest.raises(SystemExit, match="no evaluation predictions"):
        shortcut.read_predictions(tmp_path / "missing.csv")


def test_only_kaggle_entries_are_accepted(shortcut, tmp_path, capsys):
    with pytest.raises(SystemExit):
        shortcut.main(["--entries", "basic-kaggle", "basic-brats2015", "--out", str(tmp_path / "page.md")])
    error = capsys.readouterr().err
    assert "not Kaggle entries of tools/full_recipes.py: basic-brats2015;" in error and "spp-kaggle" in error
    assert not (tmp_path / "page.md").exists()
