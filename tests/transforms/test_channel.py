"""EnsureThreeChannel(d)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai.data import MetaTensor
from monai_tumorcls.transforms.channel.array import EnsureThreeChannel
from monai_tumorcls.transforms.channel.dictionary import (
    EnsureThreeChannelD,
    EnsureThreeChanneld,
    EnsureThreeChannelDict,
)


def _img(channels: int, h: int = 4, w: int = 5) -> np.ndarray:
    return np.arange(channels * h * w, dtype=np.uint8).reshape(channels, h, w)


@pytest.mark.parametrize(
    "channels, expected_sources",
    [(1, [0, 0, 0]), (2, [0, 0, 0]), (3, [0, 1, 2]), (4, [0, 1, 2])],
    ids=["grey", "grey+alpha", "rgb", "rgba"],
)
@pytest.mark.parametrize("kind", ["numpy", "torch", "metatensor"])
def test_channel_counts(channels, expected_sources, kind):
    src = _img(channels)
    img = {"numpy": src, "torch": torch.as_tensor(src), "metatensor": MetaTensor(torch.as_tensor(src))}[kind]
    out = EnsureThreeChannel()(img)
    assert type(out) is type(img)
    assert tuple(out.shape) == (3, 4, 5) and out.dtype == img.dtype
    np.testing.assert_array_equal(np.asarray(out), src[expected_sources])


def test_three_channels_returned_unchanged_and_metadata_kept():
    rgb = MetaTensor(torch.rand(3, 4, 5), meta={"filename_or_obj": "a.png"})
    assert EnsureThreeChannel()(rgb) is rgb
    out = EnsureThreeChannel()(MetaTensor(torch.rand(1, 4, 5), meta={"filename_or_obj": "b.png"}))
    assert isinstance(out, MetaTensor) and out.meta["filename_or_obj"] == "b.png"


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("kind", ["numpy", "torch", "metatensor"])
def test_grey_repeat_equals_list_indexing(channels, kind):
    """The grey fast path (``repeat``) gives what ``img[[0, 0, 0]]`` gave: values, type, dtype, metadata."""
    src = np.random.default_rng(0).random((channels, 6, 7)).astype(np.float32)
    img = {
        "numpy": src,
        "torch": torch.as_tensor(src),
        "metatensor": MetaTensor(torch.as_tensor(src), affine=torch.diag(torch.tensor([0.5, 2.0, 1.0])),
                                 meta={"filename_or_obj": "g.dcm"}),
    }[kind]
    out, ref = EnsureThreeChannel()(img), img[np.asarray([0, 0, 0]) if kind == "numpy" else [0, 0, 0]]
    assert type(out) is type(ref) and out.dtype == ref.dtype
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))
    if kind == "metatensor":
        assert torch.equal(out.affine, ref.affine) and out.meta["filename_or_obj"] == "g.dcm"
        assert out.applied_operations == ref.applied_operations and out.is_batch == ref.is_batch


def test_output_is_a_copy_for_grey_input():
    for src in (_img(1), _img(2), torch.as_tensor(_img(1)), MetaTensor(torch.as_tensor(_img(2)))):
        out = EnsureThreeChannel()(src)
        out[0] = 0
        assert src.max() > 0


@pytest.mark.parametrize("shape", [(5, 4, 4), (0, 4, 4), (7, 5, 3), (6,)])
def test_unsupported_channel_counts_raise(shape):
    with pytest.raises(ValueError, match="channel"):
        EnsureThreeChannel()(np.zeros(shape, np.float32))


def test_channel_last_input_is_rejected_with_a_hint():
    with pytest.raises(ValueError, match="channel-last"):
        EnsureThreeChannel()(np.zeros((32, 32, 3), np.float32))


def test_dictionary_twin():
    data = {"image": _img(1), "rgba": _img(4), "label": 1}
    out = EnsureThreeChanneld(keys=["image", "rgba"])(data)
    np.testing.assert_array_equal(out["image"], EnsureThreeChannel()(data["image"]))
    np.testing.assert_array_equal(out["rgba"], data["rgba"][:3])
    assert out["label"] == 1 and data["image"].shape == (1, 4, 5)  # input dict untouched

    with pytest.raises(KeyError):
        EnsureThreeChanneld(keys=["image", "missing"])(data)
    out = EnsureThreeChanneld(keys=["image", "missing"], allow_missing_keys=True)(data)
    assert out["image"].shape == (3, 4, 5) and "missing" not in out
    assert EnsureThreeChannelD is EnsureThreeChanneld and EnsureThreeChannelDict is EnsureThreeChanneld


def test_select_channel_keeps_one_channel_as_a_channel():
    from monai_tumorcls.transforms import SelectChannel, SelectChanneld

    img = np.stack([np.full((4, 5), c, np.float32) for c in range(3)])
    out = SelectChannel(2)(img)
    assert out.shape == (1, 4, 5) and (out == 2).all()
    t = torch.as_tensor(img)
    assert torch.equal(SelectChannel()(t, channel=1), t[1:2])
    with pytest.raises(ValueError, match="cannot select channel 3"):
        SelectChannel(3)(img)


def test_select_channeld_reads_the_channel_from_the_item():
    from monai_tumorcls.transforms import SelectChannelD, SelectChanneld

    img = np.stack([np.full((2, 2), c, np.float32) for c in range(3)])
    assert SelectChanneld("image")({"image": img, "channel": 1})["image"].max() == 1
    assert SelectChanneld("image", channel=2, channel_key=None)({"image": img, "channel": 1})["image"].max() == 2
    assert SelectChanneld("image", channel=0)({"image": img})["image"].max() == 0  # no key: the default channel
    assert SelectChannelD is SelectChanneld
