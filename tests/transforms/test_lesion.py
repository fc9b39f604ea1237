"""RandSyntheticLesion(d): painted inside the foreground only, each kind's direction, seeding, relabelling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai.data import MetaTensor
from monai_tumorcls.transforms import RandSyntheticLesion, RandSyntheticLesiond, RandSyntheticLesionDict


def _head(c: int = 3, n: int = 96, seed: int = 0) -> torch.Tensor:
    """(c, n, n) phantom: textured bright disc (the head) on a zero background, values in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(n) - n / 2, torch.arange(n) - n / 2, indexing="ij")
    disc = ((yy**2 + xx**2) < (0.4 * n) ** 2).float()
    tex = 0.5 + 0.2 * torch.rand(n, n, generator=g)
    return (disc * tex)[None].repeat(c, 1, 1)


def _disc_mask(n: int = 96, frac: float = 0.4) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(n) - n / 2, torch.arange(n) - n / 2, indexing="ij")
    return (yy**2 + xx**2) < (frac * n) ** 2


@pytest.mark.parametrize("kind, sign", [("bright", 1), ("dark", -1)])
def test_lesion_changes_intensity_in_its_direction_inside_the_head_only(kind, sign):
    img = _head()
    t = RandSyntheticLesion(prob=1.0, kinds=[kind], strength=0.8, radius=0.2)
    t.set_random_state(1)
    out = t(img)
    assert t.applied and out.shape == img.shape and out.dtype == torch.float32
    diff = torch.as_tensor(out) - img
    assert sign * diff.sum() > 0
    outside = ~_disc_mask(frac=0.43)  # background, with a 3-pixel margin for the soft foreground edge
    assert diff[:, outside].abs().max() == 0
    assert torch.equal(diff[0], diff[1]) and torch.equal(diff[0], diff[2])  # same change in every channel
    assert out.min() >= img.min() and out.max() <= img.max()  # stays within the image's own range


def test_ring_lesion_has_bright_rim_and_dark_core():
    img = torch.full((1, 96, 96), 0.0)
    img[:, 8:88, 8:88] = 0.5
    img[:, 8, 8] = 1.0  # one bright pixel: the bright reference is above the flat interior
    img[:, 87, 87] = 0.1  # and one dark pixel inside the foreground for the dark reference
    t = RandSyntheticLesion(prob=1.0, kinds=["ring"], strength=0.9, radius=0.15, irregularity=0.0)
    t.set_random_state(0)
    out = torch.as_tensor(t(img))[0]
    assert out.max() > 0.6 and out.min() < 0.4  # brightened rim and darkened core in one lesion


def test_no_lesion_when_not_drawn_or_no_room():
    img = _head()
    never = RandSyntheticLesion(prob=0.0)
    assert torch.equal(torch.as_tensor(never(img)), img) and not never.applied
    always = RandSyntheticLesion(prob=1.0)
    for blank in (torch.zeros(1, 32, 32), torch.full((3, 32, 32), 7.0)):
        assert torch.equal(torch.as_tensor(always(blank)), blank) and not always.applied
    flat = torch.zeros(1, 64, 64)
    flat[:, 8:56, 8:56] = 0.5  # a foreground without contrast
    assert torch.equal(torch.as_tensor(always(flat)), flat) and not always.applied
    speck = torch.zeros(1, 64, 64)
    speck[:, 30:33, 30:33] = 1.0  # 0.2 % foreground, below min_foreground
    assert torch.equal(torch.as_tensor(always(speck)), speck) and not always.applied


def test_seeded_draws_repeat_and_inputs_are_not_modified():
    img = _head()
    copy = img.clone()
    a = RandSyntheticLesion(prob=1.0).set_random_state(5)
    b = RandSyntheticLesion(prob=1.0).set_random_state(5)
    first = [torch.as_tensor(a(img)) for _ in range(3)]
    assert all(torch.equal(x, torch.as_tensor(b(img))) for x in first)
    assert not torch.equal(first[0], first[1])  # new draw each call
    assert torch.equal(img, copy)
    assert torch.equal(torch.as_tensor(a(img, randomize=False)), torch.as_tensor(a(img, randomize=False)))


def test_numpy_integer_and_metatensor_inputs():
    t = RandSyntheticLesion(prob=1.0).set_random_state(0)
    out = t((_head(1) * 1000).numpy().astype(np.int16))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and t.applied
    mt = MetaTensor(_head(1), meta={"slice_index": 4})
    out = t(mt)
    assert isinstance(out, MetaTensor) and out.meta["slice_index"] == 4


@pytest.mark.parametrize(
    "kwargs", [{"kinds": ["cyst"]}, {"kinds": []}, {"radius": (0.3, 0.1)}, {"strength": 1.5}, {"irregularity": -1}]
)
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        RandSyntheticLesion(**kwargs)


def test_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        RandSyntheticLesion(prob=1.0)(torch.rand(32, 32))


# --------------------------------------------------------------------------------------------- dictionary twin
def test_dict_relabels_tumour_free_items_that_got_a_lesion():
    t = RandSyntheticLesiond("image", label_key="label", lesion_label=1, eligible_labels=[0], prob=1.0,
                             applied_key="lesion").set_random_state(0)
    img = _head()
    out = t({"image": img, "label": 0, "name": "a"})
    assert out["label"] == 1 and isinstance(out["label"], int) and out["lesion"] is True and out["name"] == "a"
    assert not torch.equal(torch.as_tensor(out["image"]), img)
    out = t({"image": img, "label": torch.tensor(0)})
    assert torch.equal(out["label"], torch.tensor(1))
    out = t({"image": img, "label": np.array([0])})
    assert out["label"].tolist() == [1]


def test_dict_leaves_other_classes_and_blank_images_alone():
    t = RandSyntheticLesionDict("image", lesion_label=1, eligible_labels=[2], prob=1.0, applied_key="lesion")
    img = _head()
    for label in (0, 1, 3):
        out = t({"image": img, "label": label})
        assert out["label"] == label and out["image"] is img and out["lesion"] is False
    out = t({"image": torch.zeros(1, 32, 32), "label": 2})
    assert out["label"] == 2 and out["lesion"] is False


def test_dict_matches_array_with_the_same_seed():
    img = _head()
    arr = RandSyntheticLesion(prob=0.7).set_random_state(3)
    dct = RandSyntheticLesiond("image", prob=0.7).set_random_state(3)
    for _ in range(4):
        a = torch.as_tensor(arr(img))
        d = dct({"image": img, "label": 0})
        assert torch.equal(a, torch.as_tensor(d["image"])) and d["label"] == int(arr.applied)


def test_dict_errors_name_the_problem():
    t = RandSyntheticLesiond("image", prob=1.0)
    with pytest.raises(KeyError, match="label"):
        t({"image": _head()})
    with pytest.raises(ValueError, match="one integer"):
        t({"image": _head(), "label": "notumor"})
    with pytest.raises(ValueError, match="eligible_labels"):
        RandSyntheticLesiond("image", lesion_label=0, eligible_labels=[0])
    assert RandSyntheticLesiond("image", allow_missing_keys=True, prob=1.0)({"label": 0})["label"] == 0
