"""Issue 37's layout moves (task stacks to ``monai_tumorcls.apps``, dataset-specific datalists to
``monai_tumorcls.data.datasets``, the DICOM scan to ``monai_tumorcls.data.readers``): every old name still works for
one release, with a FutureWarning naming the new place, and is the new object; names that changed their arguments
keep the old ones behind a warning. The ``monai_tumorcls.data.X`` names of the bundle configs never warn."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

MOVED = {  # old module -> (new module, names)
    "monai_tumorcls.ssl": ("monai_tumorcls.apps.ssl", ["NTXentLoss", "SimCLRNet", "TwoViewsd", "unlabelled_datalist"]),
    "monai_tumorcls.data.lgg": ("monai_tumorcls.data.datasets.lgg", ["LGG_DIRNAME", "lgg_fold_datalists"]),
    "monai_tumorcls.data.brats2015": ("monai_tumorcls.data.datasets.brats2015", ["build_brats2015_datalists"]),
    "monai_tumorcls.data.multisource": ("monai_tumorcls.data.datasets.multisource", ["ixi_volumes", "SOURCES"]),
    "monai_tumorcls.data.datalist": ("monai_tumorcls.data.datasets.kaggle", ["KAGGLE_CLASSES", "build_kaggle_datalists",
                                                                             "has_shortcut_size", "task_class_names"]),
    "monai_tumorcls.data.volume_slices": ("monai_tumorcls.data.datasets.shared_volumes", ["SHARED_LABELLED_VOLUMES"]),
    "monai_tumorcls.data.dicom_series": ("monai_tumorcls.data.readers", ["SeriesSelection", "scan_dicom_folder",
                                                                        "order_frames", "NIFTI_SUFFIXES"]),
    "monai_tumorcls.inference.external": ("monai_tumorcls.apps.validation.external", ["choose_threshold",
                                                                                     "slice_report"]),
    "monai_tumorcls.inference.evaluation": ("monai_tumorcls.apps.validation.evaluation", ["tumour_slice_auc",
                                                                                         "SliceAUC"]),
}


@pytest.mark.parametrize("old,new,name", [(o, n, x) for o, (n, names) in MOVED.items() for x in names])
def test_old_name_warns_and_is_the_new_object(old, new, name):
    with pytest.warns(FutureWarning, match=f"{old}.{name} moved to {new}.{name}"):
        value = getattr(importlib.import_module(old), name)
    assert value is getattr(importlib.import_module(new), name)


@pytest.mark.parametrize("old", sorted(MOVED))
def test_unknown_names_still_fail(old):
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        getattr(importlib.import_module(old), "no_such_thing")


def test_bundle_config_names_of_data_do_not_warn():
    import monai_tumorcls.data as data

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("build_kaggle_datalists", "task_class_names", "build_brats2015_datalists",
                     "build_multisource_datalists", "SHARED_LABELLED_VOLUMES", "volume_slice_datalist",
                     "SeriesSelection"):
            assert getattr(data, name) is not None


def test_renamed_auc_functions_keep_their_old_arguments_and_nan():
    from monai_tumorcls.inference.evaluation import roc_auc
    from monai_tumorcls.inference.external import position_matched_auc
    from monai_tumorcls.metrics import position_matched_auc as new_matched
    from monai_tumorcls.metrics import roc_auc_binary

    labels, scores, position = np.array([1, 0, 1, 0]), np.array([0.9, 0.2, 0.4, 0.6]), np.array([0.1, 0.1, 0.9, 0.9])
    with pytest.warns(FutureWarning, match="roc_auc_binary"):
        assert roc_auc(scores, labels) == roc_auc_binary(labels, scores) == 0.75
    with pytest.warns(FutureWarning, match="metrics.position_matched_auc"):
        assert position_matched_auc(scores, labels, position) == new_matched(labels, scores, position) == 0.5
    with pytest.warns(FutureWarning):
        assert np.isnan(roc_auc(scores, np.ones(4)))


def test_old_flat_external_validation_call_still_runs(tmp_path):
    import torch

    from monai_tumorcls.inference.external import external_validation, series_scores

    probs = np.array([[0.9, 0.1], [0.2, 0.8]])
    with pytest.warns(FutureWarning, match="positive_classes"):
        assert series_scores(["a", "a"], probs, ["notumor", "tumor"], "tumor", top_k=1) == {"a": 0.8}
    empty = {"validation": [], "testing": []}
    with pytest.warns(FutureWarning, match="HeldOutPeople"):
        result = external_validation(torch.nn.Identity(), empty, empty, None, None, ["notumor", "tumor"], tmp_path,
                                     tumour_class="tumor", top_k=2, extra={"bundle": "x"})
    assert result["series_rule"]["top_k"] == 2 and result["bundle"] == "x" and (tmp_path / "external.json").is_file()


@pytest.mark.parametrize("first", ["monai_tumorcls.apps.validation", "monai_tumorcls.inference"])
def test_either_import_order_works(first):
    code = f"import {first}, monai_tumorcls.inference, monai_tumorcls.apps.validation as v; print(v.external_validation)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
