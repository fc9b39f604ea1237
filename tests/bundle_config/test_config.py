"""Bundle config helpers."""

from __future__ import annotations

import pytest

import types

from monai_tumorcls.bundle import (
    LOCK_FILE,
    exit_on_failures,
    exit_with_status,
    optional_value,
    output_lock,
    run_inference,
    start_or_exit,
)
from monai_tumorcls.checkpoint import load_checkpoint


@pytest.mark.parametrize("value", [None, "", "null", "None", " NONE "])
def test_optional_value_unset(value):
    assert optional_value(value) is None


@pytest.mark.parametrize("value", ["models/model.pt", 0, [], "nulls"])
def test_optional_value_kept(value):
    assert optional_value(value) is value


def test_exit_helpers():
    exit_with_status(0)
    exit_on_failures(0)
    with pytest.raises(SystemExit) as e:
        exit_with_status(2)
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        exit_on_failures(3, "image")
    assert e.value.code == 1


def _inferer(ran: list, statuses=("ok",), exit_code: int = 0):
    """A stand-in for a bundle's ``clinical_inferer`` (called when the run starts): records the run it did; its image
    rows have ``statuses``, its clinical result ``exit_code``."""
    from monai_tumorcls.apps.clinical import ImageRunResult

    inferer = types.SimpleNamespace(
        run_images=lambda batches: ran.append("images") or ImageRunResult([{"status": s} for s in statuses]),
        run=lambda inputs: ran.append("clinical") or types.SimpleNamespace(exit_code=exit_code),
    )
    return lambda: inferer


def test_run_inference_routes_by_input_kind_and_exits_with_the_status():
    import types

    import pytest

    from monai_tumorcls.bundle import run_inference

    ran = []
    run_inference("images", _inferer(ran), [], [])
    with pytest.raises(SystemExit) as e:
        run_inference("images", _inferer(ran, ("ok", "error", "error")), [], [])
    assert e.value.code == 1
    with pytest.raises(SystemExit) as e:
        run_inference("images", _inferer(ran, ("error", "skipped")), [], [])
    assert e.value.code == 2
    run_inference("clinical", _inferer(ran, exit_code=0), [], [])
    with pytest.raises(SystemExit) as e:
        run_inference("clinical", _inferer(ran, exit_code=2), [], [])
    assert e.value.code == 2 and ran == ["images", "images", "images", "clinical", "clinical"]


def test_unwritable_output_folder_stops_the_run_first_with_status_3(tmp_path, caplog):
    import types

    import pytest

    from monai_tumorcls.bundle import run_inference

    (tmp_path / "a_file").write_text("x")
    ran = []
    with pytest.raises(SystemExit) as e:
        run_inference("images", _inferer(ran), [], [], tmp_path / "a_file" / "out")
    assert e.value.code == 3 and ran == []  # nothing was done
    assert "output folder not writable" in caplog.text and "a_file" in caplog.text
    run_inference("images", _inferer(ran), [], [], tmp_path / "out")
    # the write test leaves nothing; the lock file stays (removing it could let two runs lock two different files)
    assert ran == ["images"] and [p.name for p in (tmp_path / "out").iterdir()] == [LOCK_FILE]


def test_second_run_into_a_locked_output_folder_stops_with_status_3(tmp_path, caplog):
    ran = []
    with output_lock(tmp_path):  # a first run is writing there
        with pytest.raises(SystemExit) as e:
            run_inference("images", _inferer(ran), [], [], tmp_path)
    assert e.value.code == 3 and ran == []
    assert "another run is writing to this output folder" in caplog.text
    run_inference("images", _inferer(ran), [], [], tmp_path)  # released
    assert ran == ["images"] and "replaces the outputs" not in caplog.text
    (tmp_path / "predictions.json").write_text("{}")  # what that run wrote
    run_inference("images", _inferer(ran), [], [], tmp_path)  # one after another
    assert "this run replaces the outputs of an earlier run (predictions.json)" in caplog.text


def test_clinical_options_refused_means_the_run_could_not_start(tmp_path, caplog):
    def refuse():
        raise ValueError("aggregation must be one of ('max', 'top_k_mean', 'mean'), got 'median'")

    with pytest.raises(SystemExit) as e:
        run_inference("clinical", refuse, [], [], tmp_path)
    assert e.value.code == 3
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == ["clinical inference options: aggregation must be one of ('max', 'top_k_mean', 'mean'), got 'median'"]


def test_start_or_exit_one_line_naming_what_failed(tmp_path, caplog, capsys):
    assert start_or_exit("x", lambda a, b=0: a + b, 1, b=2) == 3
    missing = tmp_path / "model.pt"
    for debug in (False, "true"):
        caplog.clear()
        with pytest.raises(SystemExit) as e:
            start_or_exit(missing, load_checkpoint, missing, debug=debug)
        assert e.value.code == 3
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1 and errors[0].startswith(f"{missing}: checkpoint not found") and "\n" not in errors[0]
        assert ("Traceback" in capsys.readouterr().err) == bool(debug)
    with pytest.raises(SystemExit):
        start_or_exit("train_overrides", lambda: {}["backbone"])
    assert caplog.records[-1].getMessage() == "train_overrides: 'backbone'"
