"""Bundle config helpers."""

from __future__ import annotations

import pytest

from monai_tumorcls.bundle import exit_on_failures, exit_with_status, optional_value


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


def test_run_inference_routes_by_input_kind_and_exits_with_the_status():
    import types

    import pytest

    from monai_tumorcls.bundle import run_inference

    ran = []
    evaluator = types.SimpleNamespace(run=lambda: ran.append("evaluator"))
    clean, failing = types.SimpleNamespace(num_failed=0), types.SimpleNamespace(num_failed=2)
    clinical = lambda code: (lambda: ran.append("clinical") or types.SimpleNamespace(exit_code=code))  # noqa: E731
    run_inference("images", evaluator, clean, clinical(0))
    with pytest.raises(SystemExit) as e:
        run_inference("images", evaluator, failing, clinical(0))
    assert e.value.code == 1
    run_inference("clinical", evaluator, clean, clinical(0))
    with pytest.raises(SystemExit) as e:
        run_inference("clinical", evaluator, clean, clinical(2))
    assert e.value.code == 2 and ran == ["evaluator", "evaluator", "clinical", "clinical"]


def test_unwritable_output_folder_stops_the_run_first_with_status_3(tmp_path, caplog):
    import types

    import pytest

    from monai_tumorcls.bundle import run_inference

    (tmp_path / "a_file").write_text("x")
    ran = []
    evaluator = types.SimpleNamespace(run=lambda: ran.append("evaluator"))
    with pytest.raises(SystemExit) as e:
        run_inference("images", evaluator, types.SimpleNamespace(num_failed=0), None, tmp_path / "a_file" / "out")
    assert e.value.code == 3 and ran == []  # nothing was done
    assert "output folder not writable" in caplog.text and "a_file" in caplog.text
    run_inference("images", evaluator, types.SimpleNamespace(num_failed=0), None, tmp_path / "out")
    assert ran == ["evaluator"] and list((tmp_path / "out").iterdir()) == []  # the write test leaves nothing
