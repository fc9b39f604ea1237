"""benchmarks/external_validation.py: fold summaries, mean ± sd, the goals table (mean and worst fold), the lesion
rows, resuming (finished steps skipped, evaluations without this release's metrics redone) and the validation record
stamped into each evaluated checkpoint, from synthetic fold outputs (no training)."""

from __future__ import annotations

import json

import pytest

from benchmarks import external_validation as ev
from benchmarks import external_validation_report as report



def _write_fold(folder, flair_auc, healthy_called, kaggle_acc, lesion=False, current=True):
    folder.mkdir(parents=True, exist_ok=True)
    seq = {"slice_auc": flair_auc, "position_auc": 0.7, "position_matched_auc": 0.8, "position_matched_position_auc": 0.5, "sensitivity": 0.9, "specificity": 0.8,
           "within_scan_auc_median": flair_auc, "within_scan_position_auc_median": 0.75, "pointing_game": 0.85,
           "pointing_game_brightest_region": 0.5,
           "n_slices": 100, "n_tumour_slices": 30, "n_patients": 4,
           "patients_called_tumour": {"with_tumour": "4/4", "without_tumour": "0/0"},
           "within_scan_auc": {"TCGA_CS_4942_19970222": flair_auc}}
    if current:
        seq["patients_called_tumour_by_rule"] = {"top_k_mean": seq["patients_called_tumour"]}
    if lesion:
        seq.update(dice_mean=0.8, dice_median=0.85, hd95_median_px=3.0, lesion_map_empty=0.1,
                   pointing_game_lesion_map=0.95)
    (folder / "external.json").write_text(json.dumps({
        "series_rule": {"threshold": 0.6, "method": "lesion_volume" if lesion else "top_k_mean",
                        "why": "lesion_volume: validation J 1.000" if lesion else None}, "lgg_test_patients": ["TCGA_CS_4942_19970222"] if flair_auc > 0.97 else ["b"],
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
        folds.append(report.fold_summary(tmp_path / str(k)))
    assert folds[1]["healthy"] == "1/4" and folds[0]["sequences"]["flair"]["patients_called_tumour"] == "4/4"
    m, s = report.mean_sd(folds, "slice_auc", "flair")
    assert m == pytest.approx(0.97) and s == pytest.approx(0.0141421, abs=1e-6)
    assert report.mean_sd(folds, "healthy_rate") == pytest.approx((0.125, 0.1767767), abs=1e-6)
    step = {"command": "python x", "seconds": 12.0, "finished": "now", "load_average_at_end": [1.0, 1.0, 1.0]}
    record = {"command": "python -m benchmarks.external_validation", "date": "today", "machine": "m", "data": "d",
              "cores_note": "n", "steps": {"train": step},
              "models": {"Kaggle-only": {"what": "k", "folds": folds}, "multi-source": {"what": "m", "folds": folds}}}
    md = ev.render(record)
    assert "| flair | 0.970 ± 0.014 | 0.700 ± 0.000 | 0.800 ± 0.000 (0.500 ± 0.000) |" in md and "| 0.850 ± 0.000 | 0.500 ± 0.000 |" in md
    goal = "| slice AUC, FLAIR | >= 0.95 | 0.970 ± 0.014 (0.960) | 0.970 ± 0.014 (0.960) | met / met | met / met |"
    assert goal in md
    assert "| healthy IXI volumes called tumour (per fold) | <= 0 | 0.500 ± 0.707 (1.000) |" in md
    assert "| missed / missed | missed / missed |" in md.split("healthy IXI volumes called tumour (per fold)")[1].split("\n")[0]
    assert "| slice AUC, post-contrast T1 | >= 0.92 | - (-) | - (-) | - / - | - / - |" in md  # not measured: never met
    assert "python x" in md
    assert "| TCGA_CS_4942_19970222 | 0.980 | 0.980 |" in md  # held out in the second fold only
    assert "| TCGA_HT_7680_19970202 | - | - |" in md
    assert "never trained on (siemens): called tumour in 1/2 folds" in md


def test_a_goal_met_on_the_mean_can_be_missed_on_the_worst_fold(tmp_path):
    folds = []
    for k, auc in enumerate([0.99, 0.93]):
        _write_fold(tmp_path / str(k), auc, 0, 0.99, lesion=True)
        folds.append(report.fold_summary(tmp_path / str(k)))
    record = {"command": "c", "date": "d", "machine": "m", "data": "d", "cores_note": "n", "steps": {},
              "models": {"lesion-grounded, trunk random": {"what": "l", "folds": folds}}}
    md = ev.render(record)
    assert "| slice AUC, FLAIR | >= 0.95 | 0.960 ± 0.042 (0.930) | met / missed |" in md
    assert "| Dice of the lesion map (FLAIR) | >= 0.75 | 0.800 ± 0.000 (0.800) | met / met |" in md
    assert "| flair | 0.800 ± 0.000 | 3.000 ± 0.000 | 0.100 ± 0.000 | 0.950 ± 0.000 | 0.850 ± 0.000 |" in md
    assert "fold 0: lesion_volume: validation J 1.000" in md


def _fake_runs(monkeypatch, lesion_current=True):
    """``run_logged`` stand-in: training writes a checkpoint with metadata, evaluation a fold's outputs."""
    import torch

    from monai_tumorcls.checkpoint import save_checkpoint

    ran = []

    def run(cmd, log, cwd):
        ran.append(cmd)
        root = ev.ROOT / cmd[cmd.index("--bundle_root") + 1]
        if "training" in cmd:
            save_checkpoint(root / "models" / "model.pt", {"model": {"w": torch.zeros(2)}}, {"bundle": "b"})
        else:
            lesion = "resnet18_lesion" in cmd[cmd.index("--config_file") + 1]
            _write_fold(ev.ROOT / cmd[cmd.index("--output_dir") + 1], 0.9, 0, 0.95, lesion=lesion and lesion_current)
        return 1.0

    monkeypatch.setattr(ev, "run_logged", run)
    return ran


def test_resume_skips_finished_steps_redoes_stale_evaluations_and_stamps_records(tmp_path, monkeypatch):
    from monai_tumorcls.checkpoint import read_metadata

    work = tmp_path / "work"
    argv = ["--folds", "2", "--work", str(work), "--record", str(tmp_path / "r.json"), "--doc", str(tmp_path / "r.md"),
            "--lesion-trunk", "none"]
    _fake_runs(monkeypatch, lesion_current=False)  # lesion evaluations as an older release wrote them
    ev.main(argv)
    ran = _fake_runs(monkeypatch)
    ev.main(argv)
    trains = [c for c in ran if "training" in c]
    assert not any("kaggle_only" in c[c.index("--bundle_root") + 1] for c in trains)  # finished: not redone
    evals = [c[c.index("--output_dir") + 1] for c in ran if "training" not in c]
    assert any("lesion_random_fold0" in e for e in evals)  # stale (no lesion metrics): redone
    assert not any("kaggle_only/eval_fold0" in e for e in evals)  # complete: not redone
    record = read_metadata(work / "lesion_random_fold1" / "models" / "model.pt")["validation"]
    assert record["trained_on"] == ["kaggle", "lgg", "ixi"] and not record["volumes_validated"]
    assert record["source"] == "r.md" and not record["summary"].startswith("SMOKE")  # the page outside the project
    assert record["held_out"]["flair.dice_mean"] == 0.8 and record["held_out"]["kaggle_testing.accuracy"] == 0.95
    shared = read_metadata(work / "kaggle_only" / "models" / "model.pt")["validation"]
    assert "2 fold(s)" in shared["summary"] and shared["trained_on"] == ["kaggle"]
    md = (tmp_path / "r.md").read_text()
    assert "## lesion-grounded, trunk random" in md and "| lesion-grounded, trunk random | 0 |" in md
    ran.clear()
    record_path = tmp_path / "r.json"
    lost = json.loads(record_path.read_text())
    del lost["steps"]["lesion-grounded, trunk random: train fold 1"]  # a run stopped after training, before its record
    record_path.write_text(json.dumps(lost))
    ev.main(argv)
    assert ran == []  # everything finished: nothing rerun
    steps = json.loads(record_path.read_text())["steps"]  # the wall time comes back from the step's done file
    assert steps["lesion-grounded, trunk random: train fold 1"]["seconds"] == 1.0


def test_a_run_of_one_model_keeps_the_other_models_and_their_provenance(tmp_path, monkeypatch):
    """Measuring the lesion model alone (another day, fewer folds) keeps the earlier models' folds and who measured
    them; a step trained again keeps the earlier run's wall time under a dated key; the page says which folds."""
    work, record = tmp_path / "work", tmp_path / "r.json"
    common = ["--work", str(work), "--record", str(record), "--doc", str(tmp_path / "r.md")]
    _fake_runs(monkeypatch)
    ev.main(["--folds", "2", "--models", "kaggle-only", "multi-source", "--cores-note", "first run", *common])
    (work / "kaggle_only" / "train.done").unlink()  # e.g. a new machine: the trunk is trained again
    ev.main(["--folds", "1", "--models", "lesion", "--cores-note", "second run", *common])
    models = json.loads(record.read_text())["models"]
    assert list(models) == ["Kaggle-only", "multi-source", "lesion-grounded, trunk kaggle_only"]
    assert [f["fold"] for f in models["multi-source"]["folds"]] == [0, 1]
    assert {f["run"]["cores_note"] for f in models["multi-source"]["folds"]} == {"first run"}
    assert models["lesion-grounded, trunk kaggle_only"]["folds"][0]["run"]["cores_note"] == "second run"
    # one fold of a measured model again (e.g. to compare with another model on the same people): it replaces
    # that fold only
    (work / "multisource_fold1" / "train.done").unlink()
    ev.main(["--folds", "2", "--models", "multi-source", "--cores-note", "third run", *common])
    folds = json.loads(record.read_text())["models"]["multi-source"]["folds"]
    assert [(f["fold"], f["run"]["cores_note"]) for f in folds] == [(0, "first run"), (1, "third run")]
    steps = json.loads(record.read_text())["steps"]
    assert "kaggle-only: train" in steps and any(k.startswith("kaggle-only: train (finished ") for k in steps)
    md = (tmp_path / "r.md").read_text()
    assert "| flair | multi-source |" in md and md.count("| 0, 1 |") >= 2 and "| lesion-grounded, trunk kaggle_only |" in md
    assert "Measured on fold(s) 0 by" in md and "second run" in md and "first run" in md
    assert "Measured on fold(s) 1 by" in (tmp_path / "r.md").read_text()


def test_a_variant_trains_in_its_own_folders_beside_the_recipe_and_names_its_overrides(tmp_path, monkeypatch):
    work, record = tmp_path / "work", tmp_path / "r.json"
    common = ["--folds", "1", "--models", "lesion", "--work", str(work), "--record", str(record),
              "--doc", str(tmp_path / "r.md")]
    _fake_runs(monkeypatch)
    ev.main(common)
    ran = _fake_runs(monkeypatch)
    ev.main([*common, "--variant", "epochs16", "--", "--epochs", "16"])
    (train,) = [c for c in ran if "training" in c]  # the Kaggle-only trunk is done: only the variant trains
    assert train[train.index("--bundle_root") + 1].endswith("lesion_kaggle_only_epochs16_fold0")
    assert train[-2:] == ["--epochs", "16"] and all(c[-2:] == ["--epochs", "16"] for c in ran)
    models = json.loads(record.read_text())["models"]
    assert list(models) == ["lesion-grounded, trunk kaggle_only", "lesion-grounded, trunk kaggle_only, epochs16"]
    assert "overrides `--epochs 16`" in models["lesion-grounded, trunk kaggle_only, epochs16"]["what"]
    with pytest.raises(SystemExit):
        ev.main([*common, "--variant", "../x"])


def test_a_checkpoint_that_cannot_carry_a_record_is_reported_not_fatal(tmp_path, monkeypatch, capsys):
    import torch

    work = tmp_path / "work"
    argv = ["--folds", "1", "--work", str(work), "--record", str(tmp_path / "r.json"), "--doc", str(tmp_path / "r.md"),
            "--models", "kaggle-only"]
    _fake_runs(monkeypatch)
    (work / "kaggle_only" / "models").mkdir(parents=True)
    torch.save({"w": torch.zeros(2)}, work / "kaggle_only" / "models" / "model.pt")  # an older plain state dict
    (work / "kaggle_only" / "train.done").write_text("{}")
    ev.main(argv)
    assert "WARNING: no validation record stamped" in capsys.readouterr().out
    assert "## Kaggle-only" in (tmp_path / "r.md").read_text()


def test_smoke_runs_one_tiny_fold_away_from_the_docs(tmp_path, monkeypatch):
    ran = _fake_runs(monkeypatch)
    ev.main(["--smoke", "--models", "lesion", "--lesion-trunk", "none", "--work", str(tmp_path)])
    assert (tmp_path / "external_validation.md").is_file() and len([c for c in ran if "training" in c]) == 1
    assert all(c[-len(ev.SMOKE_OVERRIDES):] == ev.SMOKE_OVERRIDES for c in ran)
    from monai_tumorcls.checkpoint import read_metadata

    record = read_metadata(tmp_path / "lesion_random_fold0" / "models" / "model.pt")["validation"]
    assert record["summary"].startswith("SMOKE RUN") and record["source"] == "external_validation.md"


def test_the_model_free_baselines_come_from_the_fullest_summary_of_each_fold():
    old = {"fold": 0, "sequences": {"flair": {"position_auc": 0.8, "position_matched_position_auc": None}}}
    new = {"fold": 0, "sequences": {"flair": {"position_auc": 0.8, "position_matched_position_auc": 0.56}}}
    other = {"fold": 1, "sequences": {"flair": {"position_auc": 0.7, "position_matched_position_auc": None}}}
    models = {"first": {"folds": [old, other]}, "second": {"folds": [new]}}
    assert report._baseline_folds(models) == [new, other]


def test_the_model_threshold_rows_count_only_the_folds_that_chose_one(tmp_path):
    folds = []
    for k in range(3):
        _write_fold(tmp_path / str(k), 0.9, 0, 0.95, lesion=True)
        if k > 0:  # trained since a threshold is chosen after training
            ext = json.loads((tmp_path / str(k) / "external.json").read_text())
            ext["lesion_threshold"] = 0.25 + 0.05 * k
            ext["sequences"]["flair"].update(threshold_dice_mean=0.4 + 0.1 * k, scan_dice_mean_at_default=0.5,
                                             scan_dice_mean=0.6)
            (tmp_path / str(k) / "external.json").write_text(json.dumps(ext))
        folds.append({"fold": k, **report.fold_summary(tmp_path / str(k))})
    record = {"command": "c", "date": "d", "machine": "m", "data": "d", "cores_note": "n", "steps": {},
              "models": {"lesion-grounded, trunk random": {"what": "l", "folds": folds}}}
    md = ev.render(record)
    assert "folds 1, 2, thresholds 0.30 (fold 1), 0.35 (fold 2)" in md
    assert "| flair | 0.800 ± 0.000 | 0.550 ± 0.071 | 0.500 ± 0.000 | 0.600 ± 0.000 |" in md


def test_a_run_can_start_at_a_later_fold_and_keeps_the_earlier_records(tmp_path, monkeypatch):
    work = tmp_path / "work"
    argv = ["--work", str(work), "--record", str(tmp_path / "r.json"), "--doc", str(tmp_path / "r.md"),
            "--models", "lesion", "--lesion-trunk", "none"]
    _fake_runs(monkeypatch)
    ev.main(["--folds", "1", *argv])
    ran = _fake_runs(monkeypatch)
    ev.main(["--folds", "3", "--start-fold", "1", *argv])
    assert not any("lesion_random_fold0" in c[c.index("--bundle_root") + 1] for c in ran)  # fold 0 not rerun
    folds = json.loads((tmp_path / "r.json").read_text())["models"]["lesion-grounded, trunk random"]["folds"]
    assert [f["fold"] for f in folds] == [0, 1, 2]
