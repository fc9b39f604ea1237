"""A checkpoint is data, never code, and a broken model decides nothing.

Every form of MONAI config syntax (``$`` expression, ``@`` reference, ``%`` macro, ``_target_`` component, nested
in lists and dicts) planted in every metadata field is refused, with a valid digest over the planted metadata, by
the checkpoint reader, the inference command, the app and the ONNX export; the payload's side effect (creating a
file) never happens. Metadata edited after training is refused unless the user says so; NaN weights and a
temperature that is not a finite positive number end the run with exit status 3.
"""

from __future__ import annotations

import math

import pytest
import torch

from monai_tumorcls.checkpoint import (
    CheckpointDigestError,
    CheckpointMetadataError,
    check_temperature,
    read_checkpoint_metadata,
)

from tests.bundles.helpers import PROJECT_ROOT, run_bundle
from tests.security import hostile_checkpoints as hostile
from tests.security.runs import run_inference

CONFIG = f"bundles/{hostile.BUNDLE}/configs/inference.json"


@pytest.fixture(scope="module")
def genuine(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    state, metadata = hostile.genuine(root)
    return root, state, metadata, hostile.write_input_folder(root / "in")


@pytest.fixture
def planted(tmp_path):
    sentinel = tmp_path / "pwned"
    return sentinel, hostile.payloads(sentinel, tmp_path / "macro.json")


def run_in_process(checkpoint, input_dir, **overrides) -> int:
    """Exit status of the inference command run in this process; its outputs go beside ``checkpoint`` (``out/``),
    its network and image size come from the checkpoint alone."""
    return run_inference(checkpoint, input_dir, checkpoint.parent / "out", train_overrides={}, **overrides)[0]


def _output(capsys) -> str:
    """What the run printed (the bundle's logging.conf sends its log to the console, not to pytest's caplog)."""
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_every_form_in_every_field_is_refused_by_the_reader(genuine, planted, tmp_path):
    _, _, metadata, _ = genuine
    sentinel, forms = planted
    tiny = {"w": torch.zeros(2)}  # the schema does not look at the weights
    for field in hostile.metadata_fields(metadata):
        for form, payload in forms.items():
            path = hostile.write(tmp_path / "c.pt", tiny, hostile.plant(metadata, field, payload))
            with pytest.raises(CheckpointMetadataError, match="metadata refused") as e:
                read_checkpoint_metadata(path, accept_edited=True)  # the digest is valid anyway: the schema refuses
            assert "\n" not in str(e.value), (field, form)
    assert not sentinel.exists()


@pytest.mark.parametrize("field", [("options", "imagenet_mean"), ("options", "backbone"), ("class_names",),
                                   ("preprocessing",), ("temperature",), ("options", "extra")])
def test_every_form_is_refused_by_the_inference_command(genuine, planted, field, capsys, tmp_path):
    root, state, metadata, images = genuine
    sentinel, forms = planted
    for form, payload in forms.items():
        checkpoint = hostile.write(tmp_path / "model.pt", state, hostile.plant(metadata, field, payload))
        assert run_in_process(checkpoint, images, accept_edited_checkpoint=True) == 3, form
        errors = [line for line in _output(capsys).splitlines() if " - ERROR - " in line]
        assert len(errors) == 1 and "metadata refused" in errors[0], (form, errors)
    assert not sentinel.exists() and not (tmp_path / "out" / "predictions.csv").exists()


def test_the_reported_exploit_ends_the_real_command_in_one_line(genuine, planted, tmp_path):
    root, state, metadata, images = genuine
    sentinel, forms = planted
    checkpoint = hostile.write(tmp_path / "model.pt", state,
                               hostile.plant(metadata, ("options", "imagenet_mean"), forms["expression"]))
    proc = run_bundle(CONFIG, bundle_root=str(root), checkpoint=str(checkpoint), input_dir=str(images))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3, out[-3000:]
    assert "Traceback" not in out and sum(" - ERROR - " in line for line in out.splitlines()) == 1
    assert not sentinel.exists()


def _entry_point_cases(metadata, forms):
    """Every form in one field the config uses, and the expression form in every field (the reader's own test
    crosses them all)."""
    for form, payload in forms.items():
        yield ("options", "imagenet_mean"), form, payload
    for field in hostile.metadata_fields(metadata):
        yield field, "expression", forms["expression"]


def test_every_form_and_field_is_refused_by_the_app(genuine, planted, tmp_path):
    from monai_tumorcls.app import BundleService

    root, state, metadata, _ = genuine
    sentinel, forms = planted
    for field, form, payload in _entry_point_cases(metadata, forms):
        checkpoint = hostile.write(tmp_path / "model.pt", state, hostile.plant(metadata, field, payload))
        with pytest.raises(SystemExit) as e:
            BundleService(PROJECT_ROOT / "bundles" / hostile.BUNDLE, checkpoint)
        assert e.value.code == 3, (field, form)
    assert not sentinel.exists()


def test_every_form_and_field_is_refused_by_the_export(genuine, planted, tmp_path):
    from monai_tumorcls.export import export_onnx

    root, state, metadata, _ = genuine
    sentinel, forms = planted
    for field, form, payload in _entry_point_cases(metadata, forms):
        checkpoint = hostile.write(tmp_path / "model.pt", state, hostile.plant(metadata, field, payload))
        with pytest.raises(CheckpointMetadataError):
            export_onnx(PROJECT_ROOT / "bundles" / hostile.BUNDLE, tmp_path / "m.onnx", checkpoint,
                        accept_edited_checkpoint=True)
    assert not sentinel.exists() and not (tmp_path / "m.onnx").exists()


def _edited(genuine, tmp_path):
    """The genuine checkpoint with its metadata edited consistently to 32 px, its digest left as written."""
    root, state, metadata, _ = genuine
    checkpoint = hostile.write(tmp_path / "model.pt", state, metadata)
    raw = torch.load(checkpoint, weights_only=True)
    raw["metadata"]["options"]["image_size"] = 32
    raw["metadata"]["preprocessing"][1]["resizer"]["spatial_size"] = [32, 32]
    torch.save(raw, checkpoint)
    return checkpoint


def test_edited_metadata_is_refused_by_the_real_command(genuine, tmp_path):
    root, _, _, images = genuine
    checkpoint = _edited(genuine, tmp_path)
    with pytest.raises(CheckpointDigestError, match="does not match the weights"):
        read_checkpoint_metadata(checkpoint)
    proc = run_bundle(CONFIG, bundle_root=str(root), checkpoint=str(checkpoint), input_dir=str(images))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3 and "does not match the weights" in out and "Traceback" not in out, out[-3000:]


def test_edited_metadata_runs_when_the_user_accepts_it(genuine, tmp_path, capsys):
    root, _, _, images = genuine
    checkpoint = _edited(genuine, tmp_path)
    assert run_in_process(checkpoint, images, accept_edited_checkpoint="true") == 0
    assert "without checking its digest" in _output(capsys)
    assert (tmp_path / "out" / "predictions.csv").is_file()


def test_a_genuine_checkpoint_runs(genuine, tmp_path):
    root, state, metadata, images = genuine
    checkpoint = hostile.write(tmp_path / "model.pt", state, metadata)
    assert read_checkpoint_metadata(checkpoint) == metadata
    assert run_in_process(checkpoint, images) == 0


def test_nan_weights_end_the_run(genuine, tmp_path, capsys):
    root, state, metadata, images = genuine
    broken = {k: v.clone() for k, v in state.items()}
    broken["head.fc.weight"][0, 0] = math.nan
    checkpoint = hostile.write(tmp_path / "model.pt", broken, metadata)
    assert run_in_process(checkpoint, images) == 3
    assert "hold NaN or infinite values" in _output(capsys)
    assert not (tmp_path / "out" / "predictions.csv").exists()


@pytest.mark.parametrize("temperature", [0, -1, math.nan, math.inf, "abc", True])
def test_a_bad_temperature_ends_the_run(genuine, tmp_path, capsys, temperature):
    root, state, metadata, images = genuine
    with pytest.raises(ValueError, match="temperature"):
        check_temperature(temperature)
    in_checkpoint = hostile.write(tmp_path / "model.pt", state, {**metadata, "temperature": temperature})
    assert run_in_process(in_checkpoint, images) == 3
    assert "metadata refused: temperature" in _output(capsys)
    on_command_line = hostile.write(tmp_path / "model.pt", state, metadata)
    assert run_in_process(on_command_line, images, temperature=temperature) == 3
    assert "temperature must be a finite number" in _output(capsys) and not (tmp_path / "out" / "predictions.csv").exists()
