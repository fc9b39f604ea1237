"""SaliencyWriter in a MONAI evaluator: overlays for classified items, peak in the region the model looks at."""

from __future__ import annotations

import json

import torch
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedEvaluator
from monai.transforms import Activationsd, Compose

from monai_tumorcls.handlers import PredictionWriter, SaliencyWriter
from tests.visualize.test_saliency import RegionModel


def test_overlays_and_peaks_written_beside_the_predictions(tmp_path):
    torch.manual_seed(0)
    images = torch.rand(3, 3, 32, 32) + 0.1
    images[:, :, 20:28, 4:12] += 20.0  # bright in the region the tumour logit reads: predicted "tumor"
    data = [{"image": images[i], "image_path": f"/in/case{i}.png", "error": ""} for i in range(3)]
    data.append({"image": torch.zeros(3, 32, 32), "image_path": "/in/broken.png", "error": "/in/broken.png: corrupt"})
    net = RegionModel()
    writer = PredictionWriter(tmp_path, ["notumor", "tumor"])
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"), val_data_loader=DataLoader(Dataset(data), batch_size=2), network=net,
        postprocessing=Compose([Activationsd("pred", softmax=True)]),
        val_handlers=[SaliencyWriter(net, tmp_path, target_layer="features"), writer],
    )
    evaluator.run()
    rows = {r["file"]: r for r in json.loads((tmp_path / "predictions.json").read_text())["rows"]}
    assert rows["/in/broken.png"]["status"] == "error" and "saliency_file" not in rows["/in/broken.png"]
    for i in range(3):
        r = rows[f"/in/case{i}.png"]
        assert (tmp_path / r["saliency_file"]).is_file()
        assert r["predicted"] == "tumor"  # the tumour logit reads rows 20-27, columns 4-11 of 32
        assert 20 / 32 <= r["saliency_peak"]["row"] < 28 / 32 and 4 / 32 <= r["saliency_peak"]["col"] < 12 / 32
    assert len(list((tmp_path / "saliency").glob("*.png"))) == 3
