"""RandFlipAxes(d), RandRotateAngle(d), RandRotate90Choice(d): values, seeding, inverses, dictionary twins."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch

from monai.data import MetaTensor
from monai.transforms import Compose
from monai_tumorcls.transforms.spatial.array import RandFlipAxes, RandRotate90Choice, RandRotateAngle
from monai_tumorcls.transforms.spatial.dictionary import (
    RandFlipAxesd,
    RandFlipAxesDict,
    RandRotate90Choiced,
    RandRotate90ChoiceD,
    RandRotateAngled,
)


def _img(c=2, h=6, w=8) -> torch.Tensor:
    return torch.arange(c * h * w, dtype=torch.float32).reshape(c, h, w)


def _square(c=1, n=9) -> torch.Tensor:
    return torch.rand(c, n, n, generator=torch.Generator().manual_seed(0))


# ----------------------------------------------------------------------------------------------- RandFlipAxes
@pytest.mark.parametrize(
    "prob, flipped", [((1.0, 0.0), (0,)), ((0.0, 1.0), (1,)), (1.0, (0, 1)), (0.0, ())]
)
def test_flip_axes_per_axis_probability(prob, flipped):
    img = _img()
    out = RandFlipAxes(prob=prob)(img)
    expected = img.flip([a + 1 for a in flipped]) if flipped else img
    assert torch.equal(out.as_tensor(), expected)


def test_flip_axes_draws_independent_axes():
    flip = RandFlipAxes(prob=0.5).set_random_state(0)
    counts = collections.Counter()
    for _ in range(400):
        flip.randomize(_img())
        counts[flip.flip_axes] += 1
    assert set(counts) == {(), (0,), (1,), (0, 1)}
    assert all(60 < n < 140 for n in counts.values()), counts  # ~100 each


def test_flip_axes_seeded_reproducibility_and_numpy_input():
    img = _img().numpy()
    a = RandFlipAxes(prob=0.5).set_random_state(42)
    b = RandFlipAxes(prob=0.5).set_random_state(42)
    outs_a = [a(img) for _ in range(10)]
    outs_b = [b(img) for _ in range(10)]
    assert all(isinstance(o, MetaTensor) and torch.equal(x, y) for o, x, y in zip(outs_a, outs_a, outs_b))
    assert len({tuple(o.flatten()[:3].tolist()) for o in outs_a}) > 1  # not all the same


def test_flip_axes_restricted_axis_and_inverse():
    img = _img()
    out = RandFlipAxes(prob=1.0, spatial_axis=1)(img)
    assert torch.equal(out.as_tensor(), img.flip(2))

    flip = RandFlipAxes(prob=0.5).set_random_state(1)
    for _ in range(8):  # includes draws with and without flips
        out = flip(MetaTensor(img.clone()))
        back = flip.inverse(out)
        assert torch.equal(back.as_tensor(), img) and len(back.applied_operations) == 0


@pytest.mark.parametrize("kwargs", [dict(prob=1.5), dict(prob=(0.5, 0.5, 0.5), spatial_axis=(0, 1)), dict(prob=())])
def test_flip_axes_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        RandFlipAxes(**kwargs)


def test_flip_axes_probability_count_must_match_image_axes():
    with pytest.raises(ValueError):
        RandFlipAxes(prob=(0.5, 0.5, 0.5))(_img())


# ----------------------------------------------------------------------------------------------- RandRotateAngle
def test_rotate_angle_by_90_degrees_matches_rot90_and_inverts():
    img = _square()
    rot = RandRotateAngle(degrees=(90, 90), prob=1.0)
    out = rot(MetaTensor(img.clone()))
    assert rot.angle == pytest.approx(90.0)
    np.testing.assert_allclose(out.numpy(), torch.rot90(img, -1, (1, 2)).numpy(), atol=1e-4)
    np.testing.assert_allclose(rot.inverse(out).numpy(), img.numpy(), atol=1e-4)


def test_rotate_angle_keeps_size_zero_pads_and_is_float32():
    img = torch.ones(1, 10, 16)
    rot = RandRotateAngle(degrees=(30, 30), prob=1.0)
    out = rot(img)
    assert out.shape == (1, 10, 16) and out.dtype == torch.float32
    assert float(out[0, 0, 0]) == 0.0 and float(out[0, 5, 8]) == pytest.approx(1.0)  # corners rotated in: zeros
    border = RandRotateAngle(degrees=(30, 30), prob=1.0, padding_mode="border")(img)
    np.testing.assert_allclose(border.numpy(), 1.0, atol=1e-5)


def test_rotate_angle_range_and_seeding():
    rot = RandRotateAngle(degrees=20, prob=1.0).set_random_state(3)
    angles = []
    for _ in range(50):
        rot.randomize()
        angles.append(rot.angle)
    assert all(-20 <= a <= 20 for a in angles) and min(angles) < -10 and max(angles) > 10
    rot2 = RandRotateAngle(degrees=(5, 10), prob=1.0).set_random_state(3)
    rot2.randomize()
    assert 5 <= rot2.angle <= 10

    img = _square(c=2)
    a = RandRotateAngle(degrees=45, prob=0.5).set_random_state(9)
    b = RandRotateAngle(degrees=45, prob=0.5).set_random_state(9)
    for _ in range(5):
        assert torch.equal(a(img).as_tensor(), b(img).as_tensor())


def test_rotate_angle_prob_zero_is_identity():
    img = _img().to(torch.float64)
    out = RandRotateAngle(degrees=45, prob=0.0)(img)
    assert out.dtype == torch.float32 and torch.equal(out.as_tensor(), img.float())


def test_rotate_angle_rejects_non_2d_and_bad_ranges():
    with pytest.raises(ValueError, match="2D"):
        RandRotateAngle(prob=1.0)(torch.zeros(1, 4, 4, 4))
    with pytest.raises(ValueError):
        RandRotateAngle(degrees=(10, -10))


# ----------------------------------------------------------------------------------------------- RandRotate90Choice
@pytest.mark.parametrize("angle, k", [(0, 0), (90, 1), (180, 2), (270, 3)])
def test_rotate90_choice_single_angle(angle, k):
    img = _img()
    rot = RandRotate90Choice(prob=1.0, angles=(angle,))
    out = rot(MetaTensor(img.clone()))
    assert rot.angle == angle
    assert torch.equal(out.as_tensor(), torch.rot90(img, k, (1, 2)))
    back = rot.inverse(out)
    assert torch.equal(back.as_tensor(), img) and back.shape == img.shape  # non-square: shape restored too


def test_rotate90_choice_draws_only_from_subset_and_respects_prob():
    rot = RandRotate90Choice(prob=0.75, angles=(90, 270)).set_random_state(0)
    counts = collections.Counter()
    for _ in range(400):
        rot.randomize()
        counts[rot.angle] += 1
    assert set(counts) == {0, 90, 270}
    assert 70 < counts[0] < 130 and 120 < counts[90] < 180 and 120 < counts[270] < 180, counts
    img = _img()
    assert torch.equal(RandRotate90Choice(prob=0.0)(img).as_tensor(), img)


def test_rotate90_choice_seeded_reproducibility():
    img = _img()
    a = RandRotate90Choice(prob=0.5).set_random_state(5)
    b = RandRotate90Choice(prob=0.5).set_random_state(5)
    for _ in range(10):
        assert torch.equal(a(img).as_tensor(), b(img).as_tensor())


@pytest.mark.parametrize("angles", [(), (45,), (90, 360), (-90,)])
def test_rotate90_choice_rejects_bad_angles(angles):
    with pytest.raises(ValueError):
        RandRotate90Choice(angles=angles)
    with pytest.raises(ValueError):
        RandRotate90Choiced(keys="image", angles=angles)


# ----------------------------------------------------------------------------------------------- dictionary twins
TWINS = [
    (lambda: RandFlipAxes(prob=(0.5, 0.3)), lambda k, **kw: RandFlipAxesd(k, prob=(0.5, 0.3), **kw)),
    (lambda: RandRotateAngle(degrees=30, prob=0.6), lambda k, **kw: RandRotateAngled(k, degrees=30, prob=0.6, **kw)),
    (lambda: RandRotate90Choice(prob=0.6, angles=(90, 180)),
     lambda k, **kw: RandRotate90Choiced(k, prob=0.6, angles=(90, 180), **kw)),
]
IDS = ["flip", "rotate", "rotate90"]


@pytest.mark.parametrize("make_array, make_dict", TWINS, ids=IDS)
def test_dictionary_twin_matches_array_and_applies_one_draw_to_all_keys(make_array, make_dict):
    img = _square(c=2)
    array_xform = make_array().set_random_state(11)
    dict_xform = make_dict(["image", "copy"]).set_random_state(11)
    for _ in range(12):
        out = dict_xform({"image": img, "copy": img.clone(), "label": 3})
        expected = array_xform(img)
        assert torch.equal(out["image"].as_tensor(), expected.as_tensor())
        assert torch.equal(out["copy"].as_tensor(), out["image"].as_tensor())
        assert out["label"] == 3


@pytest.mark.parametrize("make_array, make_dict", TWINS, ids=IDS)
def test_dictionary_twin_inverse_and_missing_keys(make_array, make_dict):
    img = _square(c=1)
    xform = make_dict(["image", "missing"], allow_missing_keys=True).set_random_state(2)
    for _ in range(6):
        out = xform({"image": MetaTensor(img.clone())})
        assert "missing" not in out
        back = xform.inverse(out)
        assert back["image"].shape == img.shape and len(back["image"].applied_operations) == 0
        if not isinstance(xform, RandRotateAngled):  # exact; arbitrary angles are checked below
            assert torch.equal(back["image"].as_tensor(), img)
    with pytest.raises(KeyError):
        make_dict(["image", "missing"]).set_random_state(0)({"image": img})


def test_rotate_angle_dict_inverse_restores_the_centre():
    img = torch.zeros(1, 21, 21)
    img[0, 8:13, 8:13] = 1.0
    xform = RandRotateAngled("image", degrees=(25, 25), prob=1.0)
    out = xform({"image": MetaTensor(img.clone())})
    assert xform.angle == pytest.approx(25.0) and not torch.allclose(out["image"].as_tensor(), img)
    back = xform.inverse(out)["image"]
    np.testing.assert_allclose(back[0, 6:15, 6:15].numpy(), img[0, 6:15, 6:15].numpy(), atol=0.3)
    assert float((back - img).abs().mean()) < 0.05


def test_compose_inverse_undoes_flips_and_quarter_turns():
    img = _img(c=3, h=5, w=7)
    pipeline = Compose(
        [RandFlipAxesd("image", prob=0.5), RandRotate90Choiced("image", prob=1.0, angles=(90, 180, 270))]
    ).set_random_state(4)
    for _ in range(6):
        out = pipeline({"image": MetaTensor(img.clone())})
        back = pipeline.inverse(out)["image"]
        assert torch.equal(back.as_tensor(), img)


def test_aliases():
    assert RandFlipAxesDict is RandFlipAxesd and RandRotate90ChoiceD is RandRotate90Choiced
