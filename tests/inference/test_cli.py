"""python -m monai_tumorcls.inference: a bundle-style config calling run_clinical_inference, exit codes."""

from __future__ import annotations

import json

from monai_tumorcls.bundle import output_lock
from monai_tumorcls.inference.__main__ import main
from tests.inference import synthetic_inputs as syn

CONFIG = {
    "imports": ["$import monai_tumorcls.inference as clinical", "$import tests.inference.synthetic_inputs as syn"],
    "clinical_inputs": [],
    "output_dir": "",
    "class_names": syn.CLASS_NAMES,
    "network": "$syn.marker_network()",
    "preprocess": "$syn.marker_preprocess()",
    "aggregation": "max",
    "clinical_result": "$clinical.run_clinical_inference(@clinical_inputs, @network, @preprocess, "
    "@class_names, @output_dir, aggregation=@aggregation, run_name='cli')",
}


def test_cli_exit_codes(tmp_path, capsys):
    cfg = tmp_path / "inference.json"
    cfg.write_text(json.dumps(CONFIG))
    nii = syn.write_nifti(tmp_path / "in" / "a.nii.gz", "RAS")
    out = tmp_path / "out"
    code = main(
        ["--config_file", str(cfg), "--inputs", str(nii), "--output_dir", str(out), "--set", 'aggregation="top_k_mean"']
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["series"] == 1 and summary["exit_code"] == 0
    report = json.loads((out / "cli.json").read_text())
    assert report["run"]["aggregation"]["method"] == "top_k_mean"
    assert (
        main(["--config_file", str(cfg), "--inputs", str(nii), str(tmp_path / "nope"), "--output_dir", str(out)]) == 1
    )
    assert main(["--config_file", str(cfg), "--inputs", str(tmp_path / "nope"), "--output_dir", str(out)]) == 2
    capsys.readouterr()
    # the run could not start: a configuration error, one line on the console
    assert main(["--config_file", str(cfg), "--target", "class_names", "--output_dir", str(out)]) == 3
    assert main(["--config_file", str(tmp_path / "missing.json")]) == 3
    assert main(["--config_file", str(cfg), "--inputs", str(nii), "--set", 'aggregation="median"']) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "aggregation must be one of" in err[-1], err
    assert main(["--debug", "--config_file", str(cfg), "--inputs", str(nii), "--set", 'aggregation="median"']) == 3
    assert "Traceback" in capsys.readouterr().err


def test_cli_refuses_a_locked_or_unwritable_output_folder(tmp_path, capsys):
    cfg = tmp_path / "inference.json"
    cfg.write_text(json.dumps(CONFIG))
    nii = syn.write_nifti(tmp_path / "in" / "a.nii.gz", "RAS")
    out = tmp_path / "out"
    out.mkdir()
    with output_lock(out):
        assert main(["--config_file", str(cfg), "--inputs", str(nii), "--output_dir", str(out)]) == 3
    assert not (out / "cli.json").exists()
    (tmp_path / "file").write_text("x")
    assert main(["--config_file", str(cfg), "--inputs", str(nii), "--output_dir", str(tmp_path / "file" / "o")]) == 3
    assert main(["--config_file", str(cfg), "--inputs", str(nii), "--output_dir", str(out)]) == 0
