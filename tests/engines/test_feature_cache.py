from __future__ import annotations

import pytest
import torch
from monai.transforms import Compose, Lambdad, RandFlipd

from monai_tumorcls.engines import CachedFeatureDataset, cache_features, random_transforms
from monai_tumorcls.networks import ResNetClassifier, freeze_backbone


def _data(n=6):
    return [{"image": f"img{i}", "label": i % 2} for i in range(n)]


def _load():
    # "loads" a deterministic image from the item's name
    return Lambdad("image", lambda name: torch.full((3, 32, 32), float(name[3:]) / 10))


def test_cached_features_equal_trunk_output_and_train_head():
    net = ResNetClassifier("resnet18", num_classes=2, head="linear")
    freeze_backbone(net)
    cached = cache_features(net.features, _data(), Compose([_load()]), batch_size=4, storage_dtype=torch.float32)
    assert cached.features.shape == (6, 512, 1, 1)
    net.eval()
    with torch.no_grad():
        x = torch.full((1, 3, 32, 32), 0.3)
        assert torch.allclose(cached.features[3], net.forward_features(x)[0], atol=1e-5)
    ds = CachedFeatureDataset(cached)
    item = ds[1]
    assert item["label"] == 1 and item["image_path"] == "img1" and item["image"].dtype == torch.float32
    # the head trains on cached maps; the trunk stays untouched
    before = {k: v.clone() for k, v in net.features.state_dict().items()}
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    batch = torch.stack([ds[i]["image"] for i in range(6)])
    loss = torch.nn.functional.cross_entropy(net.head(batch), torch.tensor([it["label"] for it in _data()]))
    loss.backward()
    opt.step()
    assert all(torch.equal(before[k], v) for k, v in net.features.state_dict().items())


def test_cache_refuses_trainable_trunk_or_random_transforms():
    net = ResNetClassifier("resnet18", num_classes=2)
    with pytest.raises(ValueError, match="trainable"):
        cache_features(net.features, _data(2), Compose([_load()]))
    freeze_backbone(net)
    rand = Compose([_load(), RandFlipd("image", prob=0.5)])
    assert random_transforms(rand) == ["RandFlipd"]
    with pytest.raises(ValueError, match="RandFlipd"):
        cache_features(net.features, _data(2), rand)
