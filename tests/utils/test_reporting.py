"""monai_tumorcls.utils.reporting: what the report pages of benchmarks/, studies/ and tools/ share."""

from __future__ import annotations

import sys

import pytest

from monai_tumorcls.utils.reporting import local_path, median_p90_ms, merged_sections, portable_args, portable_path, run_logged


def test_report_page_replaces_only_the_section_it_measured():
    text = merged_sections("", "# T", "intro", "a", ["## a", "", "first a"])
    text = merged_sections(text, "# T", "intro", "b", ["## b", "", "b"])
    text = merged_sections(text, "# T", "intro", "a", ["## a", "", "second a"])
    assert text.startswith("# T\n\nintro\n") and text.count("## ") == 2
    assert text.index("## a") < text.index("## b") and "second a" in text and "first a" not in text
    assert "### sub" in merged_sections(text, "# T", "intro", "c", ["## c", "", "### sub", "x"])  # subsections stay inside


def test_paths_in_reports_are_never_a_machine_s_absolute_path(tmp_path, monkeypatch):
    root, data = tmp_path / "project", tmp_path / "data"
    monkeypatch.setenv("MONAI_DATA_DIRECTORY", str(data))
    assert portable_path(root / "runs" / "p3" / "models", root) == "runs/p3/models"
    assert portable_path(root, root) == "."
    assert portable_path(data / "brain-tumor-mri-dataset", root) == "$MONAI_DATA_DIRECTORY/brain-tumor-mri-dataset"
    assert portable_path(data, root) == "$MONAI_DATA_DIRECTORY"
    assert portable_path(tmp_path / "elsewhere" / "calib_run", root) == "path/to/calib_run"
    assert portable_args(["--bundle_root", str(root / "b"), "--epochs", "2", "['a.json']"], root) == [
        "--bundle_root", "b", "--epochs", "2", "['a.json']"]
    # a command run from the project root keeps a path it can use
    assert local_path(root / "b", root) == "b" and local_path(tmp_path / "x", root) == str(tmp_path / "x")


def test_run_logged_appends_the_output_and_exits_on_failure(tmp_path):
    log = tmp_path / "run.log"
    seconds = run_logged([sys.executable, "-c", "print('one')"], log, tmp_path)
    run_logged([sys.executable, "-c", "print('two')"], log, tmp_path)
    assert seconds > 0 and log.read_text().split() == ["one", "two"]
    with pytest.raises(SystemExit, match="command failed \\(3\\)"):
        run_logged([sys.executable, "-c", "raise SystemExit(3)"], log, tmp_path)


def test_median_and_p90_in_milliseconds():
    assert median_p90_ms([0.001 * v for v in range(1, 11)]) == pytest.approx((5.5, 9.0))
