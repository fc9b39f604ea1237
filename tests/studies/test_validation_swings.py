"""studies/validation_swings.py: scores that tell a moved threshold from a worse ranking, BatchNorm re-estimation
on a copy, one section per entry in the report."""

from __future__ import annotations

import pytest
import torch

from studies import validation_swings as validation_swings_module


@pytest.fixture(scope="module")
def swings():
    return validation_swings_module


class _Logits(torch.nn.Module):
    """Returns its input as the logits: the test writes the network's answers into the images."""

    def forward(self, x):
        return x.flatten(1)


def _logits_for(p_tumour: list[float]) -> torch.Tensor:
    p = torch.tensor(p_tumour)
    return torch.log(torch.stack([1 - p, p], 1))


def test_a_moved_threshold_drops_accuracy_but_not_the_auc(swings):
    labels = torch.tensor([0, 0, 1, 1])  # notumor, notumor, tumor, tumor
    ranked_well = swings.score(_Logits(), _logits_for([0.6, 0.7, 0.8, 0.9]), labels, tumour_free=0)
    assert ranked_well["accuracy"] == 0.5 and ranked_well["auc"] == 1.0
    assert (ranked_well["missed"], ranked_well["false_alarms"]) == (0, 2)
    assert ranked_well["p_tumour_tumour"] == pytest.approx(0.85) and ranked_well["p_tumour_free"] == pytest.approx(0.65)
    mixed_up = swings.score(_Logits(), _logits_for([0.2, 0.7, 0.6, 0.4]), labels, tumour_free=0)
    assert mixed_up["accuracy"] == 0.5 and mixed_up["auc"] == 0.5 and (mixed_up["missed"], mixed_up["false_alarms"]) == (1, 1)


def test_four_classes_score_tumour_against_no_tumour(swings):
    # glioma, meningioma, notumor, pituitary: a glioma called meningioma is wrong but not a missed tumour
    logits = torch.log(torch.tensor([[0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.7, 0.1], [0.1, 0.1, 0.2, 0.6]]))
    out = swings.score(_Logits(), logits, torch.tensor([0, 2, 3]), tumour_free=2)
    assert out["accuracy"] == pytest.approx(2 / 3) and out["auc"] == 1.0 and (out["missed"], out["false_alarms"]) == (0, 0)


class _Config(dict):
    def get_parsed_content(self, key):
        return self[key]


def test_batchnorm_reestimated_on_a_copy_from_the_training_images(swings):
    images = [torch.full((1, 2, 2), float(v)) for v in (1, 2, 3, 6)]
    config = _Config(datalists={"training": [{"image": im, "label": 0} for im in images]}, preprocessing=None,
                     batch_size=2, **{"train#preprocessing": lambda item: {**item, "image": 2 * item["image"]}})
    network = torch.nn.Sequential(torch.nn.BatchNorm2d(1))
    network[0].running_mean.fill_(100.0)  # statistics that were off
    fixed = swings.with_batchnorm_reestimated(network, config, batches=10, seed=0)
    assert fixed[0].running_mean.item() == pytest.approx(3.0)  # the mean over every training image
    assert network[0].running_mean.item() == 100.0 and fixed[0].momentum == network[0].momentum
    augmented = swings.with_batchnorm_reestimated(network, config, batches=10, seed=0, transform="train#preprocessing")
    assert augmented[0].running_mean.item() == pytest.approx(6.0)  # through the named transform


def test_unknown_entry_is_refused(swings):
    with pytest.raises(SystemExit, match="not-an-entry: not a recorded entry"):
        swings.entry_config("not-an-entry")


def test_autocast_gap_is_small_but_seen(swings):
    g = torch.Generator().manual_seed(0)
    config = _Config(datalists={"training": [{"image": torch.randn(1, 4, 4, generator=g) + 3, "label": 0} for _ in range(8)]},
                     preprocessing=None, batch_size=4)
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))  # the convolution runs in bfloat16
    gap = swings.autocast_statistics_gap(network, config, batches=2, seed=0)
    assert 0 < gap["running_mean"] < 0.02 and 0 < gap["running_var"] < 0.05  # bfloat16 rounding, 8 bits of mantissa
