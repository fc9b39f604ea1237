"""No decision from a broken model: a network output that is not finite (NaN, +Inf, -Inf: NaN weights, an overflow)
gives an error row for that image and no decision for that series, never "notumor". Before, an image's NaN
probabilities became ``argmax`` = the first class ("notumor"), and a series decided from the slices left after the
broken ones, which, when the broken ones are the bright (tumour) slices, is "no tumour"."""

from __future__ import annotations

import json
import math

import pytest
import torch

from monai_tumorcls.handlers import PredictionWriter
from monai_tumorcls.apps.clinical import ClinicalInferer, RunOutputs
from tests.inference import synthetic_inputs as syn
from tests.inference import synthetic_networks as nets
from tests.security.runs import run_inference, write_checkpoint, write_image

BROKEN = "non-finite model output (NaN/Inf): the model is broken"


@pytest.mark.parametrize("pred, logits", [([math.nan, math.nan], None), ([math.inf, 0.0], None),
                                          ([0.0, 1.0], [-math.inf, 3.0]), ([1.0, 0.0], [math.nan, 1.0])])
def test_a_non_finite_output_is_an_error_row(tmp_path, pred, logits):
    writer = PredictionWriter(tmp_path, ["notumor", "tumor"])
    item = {"image_path": "/in/x.png", "pred": torch.tensor(pred), "error": "", "warnings": ""}
    rows = [writer.row({**item, **({"logits": torch.tensor(logits)} if logits else {})}),
            writer.row({**item, "image_path": "/in/y.png", "pred": torch.tensor([0.3, 0.7])})]
    writer.finalize(rows)
    table = json.loads((tmp_path / "predictions.json").read_text())
    broken, fine = table["rows"]
    assert broken == {"file": "/in/x.png", "status": "error", "error": f"/in/x.png: {BROKEN}", "warnings": [],
                      "predicted": None, "probabilities": None}
    assert fine["status"] == "ok" and fine["predicted"] == "tumor"
    assert (table["num_failed"], table["num_classified"]) == (1, 1) and writer.num_classified == 1


class BrokenOnBrightSlices(torch.nn.Module):
    """The marker network of the synthetic inputs, with ``value`` as every logit of a slice holding the bright marker
    (the tumour): the slices left would say "no tumour"."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.net, self.value = nets.marker_network(), value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x)
        bright = x.amax(dim=(1, 2, 3)) > 0.9  # the marker is 1.0 after marker_preprocess, the rest below 0.25
        broken = logits.clone()
        broken[:, 0] = self.value  # -inf for "glioma" alone still gives finite probabilities
        return torch.where(bright[:, None], broken, logits)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_series_with_broken_slices_gets_no_decision(tmp_path, value):
    series = syn.write_series(tmp_path / "t1_ax", "axial")
    inferer = ClinicalInferer(BrokenOnBrightSlices(value), nets.marker_preprocess(), nets.CLASS_NAMES,
                              outputs=RunOutputs(tmp_path / "out", run_name="run"))
    result = inferer.run([series[0].parent])
    (decided,) = result.series
    assert decided.decision.label == "undetermined" and decided.decision.predicted_class is None
    broken = [s for s in decided.slices if s.exclusion_reason == BROKEN]
    assert broken and all(s.probabilities is None for s in broken)
    n_slices = len(decided.slices)
    assert [e.reason for e in result.errors] == [f"{BROKEN} ({len(broken)} of {n_slices} slices): no decision"]
    assert result.inputs[0]["status"] == "failed" and result.inputs[0]["n_series_classified"] == 0
    assert result.exit_code == 2
    report = json.loads(result.json_path.read_text())
    assert report["summary"]["n_series_classified"] == 0 and report["series"][0]["decision"]["label"] == "undetermined"


def _overflowing(tmp_path, logit: str):
    """A checkpoint whose finite weights overflow to infinite logits (NaN weights are refused when loaded): both
    ``"+inf"`` (NaN probabilities), or ``"notumor -inf"`` alone (finite probabilities: "tumor" with p = 1)."""
    weight, bias = torch.zeros(2, 512), torch.zeros(2)
    rows = [0, 1] if logit == "+inf" else [0]
    weight[rows], bias[rows] = (3e38, 3e38) if logit == "+inf" else (-3e38, -3e38)
    return write_checkpoint(tmp_path / "model" / "model.pt", {"head.fc.weight": weight, "head.fc.bias": bias})


@pytest.mark.parametrize("logit", ["+inf", "notumor -inf"])
def test_the_inference_command_decides_nothing_with_a_broken_model(tmp_path, logit):
    checkpoint = _overflowing(tmp_path, logit)
    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        write_image(images / f"{i}.png", seed=i)
    code, table = run_inference(checkpoint, images, tmp_path / "out", saliency="true", batch_size=2)
    assert code == 2  # nothing classified
    assert [(r["status"], r["predicted"], r["error"]) for r in table["rows"]] == [
        ("error", None, f"{images / f'{i}.png'}: {BROKEN}") for i in range(3)]
    assert not list((tmp_path / "out").rglob("*.png"))  # a broken model explains nothing either
    volume = syn.write_nifti(tmp_path / "t1.nii.gz", "RAS")
    code, _ = run_inference(checkpoint, volume, tmp_path / "out_nifti")
    report = json.loads((tmp_path / "out_nifti" / "clinical.json").read_text())
    assert code == 2 and report["series"][0]["decision"]["label"] == "undetermined"
    assert report["errors"][0]["reason"].startswith(BROKEN)
