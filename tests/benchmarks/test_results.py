"""benchmarks/results.py: what a record of a run trained in several sittings says about its time and the machine."""

from __future__ import annotations


import pytest

from ..bundles.helpers import benchmark_module


@pytest.fixture(scope="module")
def results():
    return benchmark_module("results")


def test_epoch_log_lines_sum_every_sitting_per_state_file(results):
    record = {"epoch_log": {
        "training_state.pt": [{"epoch": 2, "seconds": 600.0, "load_1min": 2.1},
                              {"epoch": 3, "seconds": 610.4, "load_1min": 5.9},
                              {"epoch": 4, "seconds": 590.0, "load_1min": 2.0}],
        "training_state_stage1.pt": [],  # a state file that predates the log adds nothing
    }}
    assert results._epoch_log_lines(record) == [
        "- epochs timed in the training state (training + validation, every sitting): training_state.pt: epochs 2-4, "
        "1800 s, 1-min load average at epoch ends median 2.10, max 5.90"]
    assert results._epoch_log_lines({}) == []  # records written before the log render as before
