from __future__ import annotations

import pytest
import torch
from monai.transforms import Compose, Lambdad, RandFlipd

from monai_tumorcls.engines import (
    CachedFeatureDataset,
    FeatureCacheOptions,
    cache_features,
    random_transforms,
    split_frozen_trunk,
)
from monai_tumorcls.networks import ResNetClassifier, freeze_backbone, set_trainable


def _data(n=6):
    return [{"image": f"img{i}", "label": i % 2} for i in range(n)]


def _load():
    # "loads" a deterministic image from the item's name
    return Lambdad("image", lambda name: torch.full((3, 32, 32), float(name[3:]) / 10))


def test_cached_features_equal_trunk_output_and_train_head():
    net = ResNetClassifier("resnet18", num_classes=2, head="linear")
    freeze_backbone(net)
    cached = cache_features(net.features, _data(), Compose([_load()]), batch_size=4,
                            options=FeatureCacheOptions(storage_dtype=torch.float32))
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


def test_split_frozen_trunk_caches_the_front_and_trains_the_rest():
    torch.manual_seed(0)
    net = set_trainable(ResNetClassifier("resnet18", num_classes=3, head="linear"), "layer4+head")
    front, rest = split_frozen_trunk(net)
    assert list(dict(front.named_children())) == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3"]
    assert list(dict(rest.named_children())) == ["layer4", "head"]
    assert rest.layer4 is net.features.layer4 and rest.head is net.head  # shared, not copied
    net.eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(rest(front(x)), net(x), atol=1e-5)
    cached = cache_features(front, [{"image": "img1", "label": 0}, {"image": "img2", "label": 1}], Compose([_load()]),
                            options=FeatureCacheOptions(storage_dtype=torch.float32))
    assert cached.features.shape == (2, 256, 2, 2)  # layer3 output of a 32 px image
    # training the rest changes network's layer4 and head; the cached front stays as it was
    net.train()
    front_before = {k: v.clone() for k, v in front.state_dict().items()}
    layer4_before = net.features.layer4[0].conv1.weight.clone()
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.5)
    rest.train()
    torch.nn.functional.cross_entropy(rest(cached.features), torch.tensor([0, 1])).backward()
    opt.step()
    assert not torch.equal(net.features.layer4[0].conv1.weight, layer4_before)
    assert all(torch.equal(front_before[k], v) for k, v in front.state_dict().items())  # incl. frozen BN statistics
    # stage 1 (all of the trunk frozen): the rest is the head alone
    assert list(dict(split_frozen_trunk(freeze_backbone(net))[1].named_children())) == ["head"]


def test_split_frozen_trunk_refuses_what_cannot_be_cached():
    net = ResNetClassifier("resnet18", num_classes=2)
    with pytest.raises(ValueError, match="conv1.*nothing to cache"):
        split_frozen_trunk(net)
    set_trainable(net, ("layer2", "head"))
    for p in net.features.layer2.parameters():
        p.requires_grad_(True)
    for p in net.features.layer3.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="layer3.*follow trainable stage 'layer2'"):
        split_frozen_trunk(net)


def test_the_old_loose_keywords_still_work_for_one_release():
    net = freeze_backbone(ResNetClassifier("resnet18", num_classes=2))
    with pytest.warns(FutureWarning, match=r"FeatureCacheOptions\(storage_dtype=\.\.\., progress=\.\.\.\)"):
        cached = cache_features(net.features, _data(2), Compose([_load()]), storage_dtype=torch.float32, progress=False)
    assert cached.features.dtype == torch.float32
    with pytest.raises(TypeError, match="unexpected keyword argument 'dtype'"):
        cache_features(net.features, _data(2), Compose([_load()]), dtype=torch.float32)
