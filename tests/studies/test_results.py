"""studies/results.py and its page (studies/results_page.py): what a record of a run trained in several sittings says
about its time and the machine, and the committed page is what the records render to."""

from __future__ import annotations

import json

import pytest

from studies import results as results_module
from studies import results_page


@pytest.fixture(scope="module")
def results():
    return results_page


def test_epoch_log_lines_sum_every_sitting_per_state_file(results):
    record = {"epoch_log": {
        "training_state.pt": [{"epoch": 2, "seconds": 600.0, "load_1min": 2.1},
                              {"epoch": 3, "seconds": 610.4, "load_1min": 5.9},
                              {"epoch": 4, "seconds": 590.0, "load_1min": 2.0}],
        "training_state_stage1.pt": [],  # a state file that predates the log adds nothing
    }}
    assert results._epoch_log_lines(record) == [
        "- epochs timed in the training state (training + validation, every resumption): training_state.pt: epochs 2-4, "
        "1800 s, 1-min load average at epoch ends median 2.10, max 5.90"]
    assert results._epoch_log_lines({}) == []  # records written before the log render as before


def test_validation_lines_list_the_validated_epochs(results):
    record = {"epoch_log": {
        "training_state.pt": [{"epoch": 1, "seconds": 600.0, "load_1min": 2.0, "val_acc": 0.8378},
                              {"epoch": 2, "seconds": 600.0, "load_1min": 2.0},  # no validation this epoch
                              {"epoch": 3, "seconds": 600.0, "load_1min": 2.0, "val_acc": 0.5222}],
        "training_state_stage1.pt": [{"epoch": 1, "seconds": 60.0, "load_1min": 2.0}],  # logged before the scores
    }}
    assert results._validation_lines(record) == ["- val_acc by epoch (training_state.pt): 1: 0.838, 3: 0.522"]
    assert results._validation_lines({}) == []
    record["epoch_log"]["training_state.pt"][2]["val_auc"] = 0.9012  # a later sitting also kept the AUC
    assert results._validation_lines(record) == ["- val_acc by epoch (training_state.pt): 1: 0.838, 3: 0.522",
                                                 "- val_auc by epoch (training_state.pt): 3: 0.901"]


def test_accuracy_cell_gives_the_wilson_interval_of_the_test_set(results):
    assert results._accuracy_cell(53 / 60, 60) == "88.33 (77.8–94.2)"  # 60 slices: a wide interval
    assert results._accuracy_cell(1120 / 1311, 1311) == "85.43 (83.4–87.2)"  # checked against the closed-form Wilson formula
    assert results._accuracy_cell(1.0, 60) == "100.00 (94.0–100.0)"


def test_summary_training_time_covers_every_sitting(results):
    one_sitting = {"train_seconds": 700.0, "epoch_log": {"training_state.pt": [{"epoch": 1, "seconds": 650.0, "load_1min": 2.0}]}}
    assert results._training_seconds(one_sitting) == "700"  # the command's wall time (startup included)
    resumed = {"train_seconds": 900.0, "epoch_log": {"training_state.pt": [
        {"epoch": e, "seconds": 600.0, "load_1min": 2.0} for e in (1, 2, 3)]}}
    assert results._training_seconds(resumed) == "1800"
    resumed["epoch_log"]["training_state.pt"].pop(0)  # epoch 1 trained before epochs were logged
    assert results._training_seconds(resumed) == "≥ 1200"
    assert results._training_seconds({"train_seconds": 42.4}) == "42"  # records written before the log


def test_dataset_of_the_overrides():
    assert results_module.dataset_of(["--head", "spp", "--dataset", "brats2015", "--resume", "true"]) == "brats2015"
    assert results_module.dataset_of(["--epochs", "2"]) == "kaggle"


def test_run_note_keeps_what_the_run_folder_says(tmp_path):
    results = results_module
    assert results.run_note("CI ran beside it", tmp_path) == "CI ran beside it."
    (tmp_path / "note.txt").write_text("Epochs 1-2 predate the epoch log:\n773 s and 871 s.\n")
    assert results.run_note("CI ran beside it", tmp_path) == "CI ran beside it. Epochs 1-2 predate the epoch log: 773 s and 871 s."
    assert results.run_note("", tmp_path) == "Epochs 1-2 predate the epoch log: 773 s and 871 s."
    assert results.run_note("", tmp_path / "no such run") == ""


def test_a_run_trained_in_sittings_is_told_by_its_epoch_log(results):
    resumed = {"train_seconds": 650.0, "epoch_log": {"training_state.pt": [
        {"epoch": e, "seconds": 600.0, "load_1min": 2.0} for e in (3, 4)]}}
    assert results._trained_in_sittings(resumed)
    resumed["train_seconds"] = 1300.0  # one sitting: its wall time covers both epochs
    assert not results._trained_in_sittings(resumed)
    assert not results._trained_in_sittings({"train_seconds": 42.0})  # records written before the log


def test_committed_results_page_is_what_the_committed_records_render_to():
    """docs/reports/results.md (the status table included) is generated, never hand-kept: rerender with
    ``python -m studies.results --render-only`` after changing a record or the renderer."""
    assert results_page.RESULTS_MD.read_text() == results_page.render(results_page.load_records())


def test_status_table_has_one_row_per_record_with_its_epoch_times():
    records = results_page.load_records()
    table = [line for line in results_page.status_table(records) if line.startswith("| ") and "`" in line]
    assert len(table) == len(records) >= 14
    basic = next(line for line in table if line.startswith("| basic-brats2015 |"))
    # 25 logged epochs of 307.8 s to 824.9 s (8,777 s in all, under the command's 8,854 s of wall time); best
    # validation epoch 25 (val_acc 0.9111); 93.33 % of the 60 test slices
    assert "| 2026-12-02 06:40 UTC | 5.1–13.7 | 8854 | 25 (0.911) | 93.33 |" in basic


def test_record_commands_are_written_with_portable_paths(tmp_path, monkeypatch):
    outside = tmp_path / "calib_run"
    assert results_module.portable(["--bundle_root", str(outside), "--epochs", "2"]) == [
        "--bundle_root", "path/to/calib_run", "--epochs", "2"]
    inside = results_module.ROOT / "runs" / "p3"
    assert results_module.portable(["--pretrained", str(inside)]) == ["--pretrained", "runs/p3"]
    monkeypatch.setenv("MONAI_DATA_DIRECTORY", str(tmp_path))
    assert results_module.portable([str(tmp_path / "lgg")]) == ["$MONAI_DATA_DIRECTORY/lgg"]
    assert results_module.rel_path(outside) == str(outside)  # the command itself still runs with the real path
    assert json.dumps(results_page.load_records()).count('"/') == 0  # no record holds an absolute path


def test_calibration_lines_say_when_no_temperature_was_applied(results):
    report = {"testing": {"calibration": {"temperature": 1.0, "ece": 0.0731, "brier": 0.2112, "ece_scaled": 0.0731,
                                          "brier_scaled": 0.2112}}}
    fit = {"num_samples": 36, "fitted": False, "kept": False, "reason": "36 validation items, fewer than the 200 a "
           "temperature is fitted on", "nll_before": 0.41, "ece_before": 0.09, "brier_before": 0.2}
    assert results._calibration_lines({"reports": report, "temperature_fit": fit}) == [
        "Calibration: no temperature applied (36 validation items, fewer than the 200 a temperature is fitted on); "
        "the plain softmax:", "", "| split | ECE (15 bins) | Brier |", "|---|---:|---:|", "| testing | 0.0731 | 0.2112 |", ""]
    kept = {**fit, "fitted": True, "kept": True, "nll_after": 0.35, "ece_after": 0.05, "brier_after": 0.19}
    report["testing"]["calibration"]["temperature"] = 1.7
    assert "held-out cross-entropy 0.4100 -> 0.3500" in results._calibration_lines({"reports": report, "temperature_fit": kept})[0]
