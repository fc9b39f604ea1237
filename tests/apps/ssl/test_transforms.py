from __future__ import annotations

import pytest
import torch
from monai.data import CacheDataset
from monai.transforms import Compose, Lambdad, RandFlipd, RandGaussianNoise, RandGaussianNoised, RandSpatialCropd, Resized

from monai_tumorcls.apps.ssl import TwoViews, TwoViewsd


def _aug(size: int = 16):
    return Compose(
        [
            RandSpatialCropd("image", roi_size=(size // 2, size // 2), max_roi_size=(size, size), random_size=True),
            Resized("image", spatial_size=(size, size)),
            RandFlipd("image", prob=0.5, spatial_axis=1),
            RandGaussianNoised("image", prob=1.0, std=0.1),
        ]
    )


def _image():
    return torch.arange(3 * 16 * 16, dtype=torch.float32).reshape(3, 16, 16) / 768.0


def test_two_views_differ_but_share_shape():
    img = _image()
    out = TwoViewsd("image", _aug()).set_random_state(0)({"image": img, "label": 1})
    assert set(out) == {"image_view1", "image_view2", "label"}
    v1, v2 = out["image_view1"], out["image_view2"]
    assert v1.shape == v2.shape == img.shape
    assert not torch.allclose(v1, v2)
    assert torch.equal(img, _image()), "the input must not be modified"


def test_seeded_views_are_reproducible_and_names_configurable():
    a = TwoViewsd("image", _aug(), names=("a", "b"), delete_keys=False).set_random_state(3)({"image": _image()})
    b = TwoViewsd("image", _aug(), names=("a", "b"), delete_keys=False).set_random_state(3)({"image": _image()})
    assert set(a) == {"image", "a", "b"}
    assert torch.equal(a["a"], b["a"]) and torch.equal(a["b"], b["b"])


def test_keys_of_one_view_share_the_draw():
    flip = RandFlipd(["image", "mask"], prob=0.5, spatial_axis=1)
    t = TwoViewsd(["image", "mask"], flip).set_random_state(1)
    for _ in range(5):
        img = _image()
        out = t({"image": img, "mask": img.clone()})
        assert torch.equal(out["image_view1"], out["mask_view1"])
        assert torch.equal(out["image_view2"], out["mask_view2"])


def test_array_version():
    v1, v2 = TwoViews(RandGaussianNoise(prob=1.0, std=0.1)).set_random_state(0)(_image())
    assert v1.shape == v2.shape and not torch.allclose(v1, v2)


def test_cache_dataset_caches_before_the_views_and_redraws():
    calls = []
    load = Lambdad("image", lambda x: (calls.append(1), x)[1])
    ds = CacheDataset([{"image": _image()}], Compose([load, TwoViewsd("image", _aug())]), cache_rate=1.0, progress=False)
    first, second = ds[0], ds[0]
    assert len(calls) == 1  # the deterministic part ran once, at caching
    assert not torch.allclose(first["image_view1"], second["image_view1"])


def test_bad_names():
    with pytest.raises(ValueError):
        TwoViewsd("image", _aug(), names=("only_one",))
    with pytest.raises(ValueError):
        TwoViewsd("image", _aug(), names=("image", "b"))
