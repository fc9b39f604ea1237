"""benchmarks/external_validation.py: fold summaries, mean ± sd and the goals table, from synthetic fold outputs."""

from __future__ import annotations

import json

import pytest

from benchmarks import external_validation as ev



def _write_fold(folder, flair_auc, healthy_called, kaggle_acc):
    folder.mkdir(parents=True)
    seq = {"slice_auc": flair_auc, "position_auc": 0.7, "position_matched_auc": 0.8, "position_matched_position_auc": 0.5, "sensitivity": 0.9, "specificity": 0.8,
           "within_scan_auc_median": flair_auc, "within_scan_position_auc_median": 0.75, "pointing_game": 0.85,
           "pointing_game_brightest_region": 0.5,
           "n_slices": 100, "n_tumour_slices": 30, "n_patients": 4,
           "patients_called_tumour": {"with_tumour": "4/4", "without_tumour": "0/0"},
           "within_scan_auc": {"TCGA_CS_4942_19970222": flair_auc}}
    (folder / "external.json").write_text(json.dumps({
        "series_rule": {"threshold": 0.6}, "lgg_test_patients": ["TCGA_CS_4942_19970222"] if flair_auc > 0.97 else ["b"],
        "sequences": {"flair": seq},
        "healthy_volumes": {"called_tumour": healthy_called, "n_subjects": 4, "called_tumour_rate": healthy_called / 4,
                            "other_scanners": {"siemens": {"called_tumour": healthy_called > 0}}},
    }))
    (folder / "metrics.json").write_text(json.dumps(
        {"reports": {"testing": {"accuracy": kaggle_acc}, "testing_dedup": {"accuracy": kaggle_acc - 0.01}}}))


def test_summary_mean_sd_and_goals(tmp_path):
    folds = []
    for k, (auc, healthy, acc) in enumerate([(0.96, 0, 0.99), (0.98, 1, 0.98)]):
        _write_fold(tmp_path / str(k), auc, healthy, acc)
        folds.append(ev.fold_summary(tmp_path / str(k)))
    assert folds[1]["healthy"] == "1/4" and folds[0]["sequences"]["flair"]["patients_called_tumour"] == "4/4"
    m, s = ev.mean_sd(folds, "slice_auc", "flair")
    assert m == pytest.approx(0.97) and s == pytest.approx(0.0141421, abs=1e-6)
    assert ev.mean_sd(folds, "healthy_rate") == pytest.approx((0.125, 0.1767767), abs=1e-6)
    step = {"command": "python x", "seconds": 12.0, "finished": "now", "load_average_at_end": [1.0, 1.0, 1.0]}
    record = {"command": "python -m benchmarks.external_validation", "date": "today", "machine": "m", "data": "d",
              "cores_note": "n", "steps": {"train": step},
              "models": {"Kaggle-only": {"what": "k", "folds": folds}, "multi-source": {"what": "m", "folds": folds}}}
    md = ev.render(record)
    assert "| flair | 0.970 ± 0.014 | 0.700 ± 0.000 | 0.800 ± 0.000 (0.500 ± 0.000) |" in md and "| 0.850 ± 0.000 | 0.500 ± 0.000 |" in md
    assert "| slice AUC, FLAIR | >= 0.95 | 0.970 ± 0.014 | yes |" in md
    assert "| healthy volumes called tumour | <= 0.1 | 0.125 ± 0.177 | no |" in md
    assert "| slice AUC, post-contrast T1 | >= 0.9 | - | - |" in md  # not measured: said so, never "met"
    assert "python x" in md
    assert "| TCGA_CS_4942_19970222 | 0.980 | 0.980 |" in md  # held out in the second fold only
    assert "| TCGA_HT_7680_19970202 | - | - |" in md
    assert "never trained on (siemens): called tumour in 1/2 folds" in md
