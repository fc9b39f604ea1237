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


# one fresh interpreter imports torch and MONAI once, then each order runs in a forked child that has imported
# nothing of this package yet (what a circular import between the two would break)
_EITHER_ORDER = """
import importlib, os, sys
import monai
for first in sys.argv[1:]:
    assert not [m for m in sys.modules if m.startswith("monai_tumorcls")]
    pid = os.fork()
    if pid == 0:
        importlib.import_module(first)
        import monai_tumorcls.inference, monai_tumorcls.apps.validation as v
        print(first, "first:", v.external_validation.__name__, flush=True)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"importing {first} first failed")
"""


def test_either_import_order_works():
    orders = ["monai_tumorcls.apps.validation", "monai_tumorcls.inference"]
    proc = subprocess.run([sys.executable, "-c", _EITHER_ORDER, *orders], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[:2] == [f"{o} first: external_validation" for o in orders]


# issue 37 item 7: loose keywords grouped into a dataclass keep working for one release with a FutureWarning


def test_old_item_keys_of_the_dataset_and_writers():
    import torch

    from monai_tumorcls.data import FailSafeDataset, ItemKeys
    from monai_tumorcls.handlers import PredictionWriter, SaliencyWriter

    data = [{"img": "/in/x.jpg"}]
    with pytest.warns(FutureWarning, match=r"FailSafeDataset\(image_key=..., path_key=...\) is now .*ItemKeys"):
        old = FailSafeDataset(data, None, (1, 2, 2), image_key="img", path_key="file")
    keys = ItemKeys(image="img", path="file")
    assert old.keys == keys and old[0] == FailSafeDataset(data, None, (1, 2, 2), keys=keys)[0]
    assert old[0]["file"] == "/in/x.jpg" and old[0]["error"] == ""
    with pytest.warns(FutureWarning, match="PredictionWriter"):
        writer = PredictionWriter("out", ["a", "b"], pred_key="p", skipped_key="s", logits_key="z")
    assert writer.keys == ItemKeys(pred="p", skipped="s", logits="z") and writer.raw_outputs.key == "p"
    with pytest.warns(FutureWarning, match="SaliencyWriter"):
        saliency = SaliencyWriter(torch.nn.Identity(), "out", image_key="x", error_key="e")
    assert saliency.keys == ItemKeys(image="x", error="e")
    with pytest.raises(TypeError, match="unexpected keyword argument 'label_key'"):
        PredictionWriter("out", ["a", "b"], label_key="y")  # a key it never took


def test_old_report_keywords(tmp_path):
    from monai_tumorcls.data import ItemKeys
    from monai_tumorcls.handlers import ClassificationReportHandler, ReportSplits

    with pytest.warns(FutureWarning) as record:
        old = ClassificationReportHandler(tmp_path, ["a", "b"], subsets={"dedup": "dup"}, main_name="testing",
                                          label_key="y")
    assert {"ReportSplits", "ItemKeys"} <= {n for w in record for n in ("ReportSplits", "ItemKeys") if n in str(w.message)}
    new = ClassificationReportHandler(tmp_path, ["a", "b"], splits=ReportSplits("testing", {"dedup": "dup"}),
                                      keys=ItemKeys(label="y"))
    item = {"pred": [0.2, 0.8], "y": 1, "dup": True, "image_path": "/x.png"}
    assert (old.main_name, old.subsets, old.keys) == (new.main_name, new.subsets, new.keys)
    assert old.row(item) == new.row(item) == {"file": "/x.png", "label": 1, "prob": [0.2, 0.8], "dup": True}
    with pytest.raises(TypeError, match="unexpected keyword argument 'image_key'"):
        ClassificationReportHandler(tmp_path, ["a", "b"], image_key="x")


def test_old_checkpoint_saver_keywords(tmp_path):
    import torch
    from ignite.engine import Engine, Events

    from monai_tumorcls.handlers import AtomicCheckpointSaver, BestCheckpoint

    def run(saver):
        engine = Engine(lambda e, b: None)
        scores = iter([0.3, 0.1, 0.2])
        engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: e.state.metrics.update(loss=next(scores)))
        saver.attach(engine)
        engine.run([0], max_epochs=3)
        return saver.best, saver.best_epoch

    net = torch.nn.Linear(2, 1)
    with pytest.warns(FutureWarning, match=r"AtomicCheckpointSaver\(metric_name=..., mode=..., key_metric_filename=...\)"):
        old = AtomicCheckpointSaver(tmp_path / "old", {"m": net}, metric_name="loss", mode="min",
                                    key_metric_filename="best.pt")
    new = AtomicCheckpointSaver(tmp_path / "new", {"m": net}, BestCheckpoint("loss", "min", "best.pt"))
    assert old.best_checkpoint == new.best_checkpoint and run(old) == run(new) == (0.1, 2)
    assert (tmp_path / "old" / "best.pt").is_file() and (tmp_path / "new" / "best.pt").is_file()
    with pytest.raises(ValueError, match="mode must be 'max' or 'min'"), pytest.warns(FutureWarning):
        AtomicCheckpointSaver(tmp_path, {"m": net}, metric_name="loss", mode="lowest")


@pytest.mark.parametrize("cls_name", ["ResNetClassifier", "LesionClassifier"])
def test_old_head_keywords(cls_name):
    import torch

    import monai_tumorcls.networks as networks

    cls = getattr(networks, cls_name)
    with pytest.warns(FutureWarning, match=rf"{cls_name}\(dropout=..., spp_levels=...\) is now .*HeadOptions"):
        torch.manual_seed(0)
        old = cls("resnet18", 3, "spp", dropout=0.3, spp_levels=[1, 2])
    torch.manual_seed(0)
    new = cls("resnet18", 3, "spp", head_options=networks.HeadOptions(dropout=0.3, spp_levels=[1, 2]))
    assert repr(old.head) == repr(new.head) and old.head.dropout.p == 0.3
    assert old.state_dict().keys() == new.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(old.state_dict().values(), new.state_dict().values()))
    with pytest.raises(TypeError, match="unexpected keyword argument 'levels'"):
        cls(head="spp", levels=[1])
