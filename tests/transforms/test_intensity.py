"""Intensity normalisation transforms and their dictionary twins."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.exposure import rescale_intensity

from monai.data import MetaTensor
from monai.transforms import NormalizeIntensity
from monai.transforms.utils_pytorch_numpy_unification import percentile
from monai_tumorcls.transforms.intensity.array import (
    ContrastStretch,
    _linear_quantiles,
    MinMaxNormalize,
    PercentileNormalize,
    ZScoreNormalize,
)
from monai_tumorcls.transforms.intensity.dictionary import (
    ContrastStretchd,
    ContrastStretchD,
    MinMaxNormalized,
    MinMaxNormalizeDict,
    PercentileNormalized,
    ZScoreNormalized,
)

RNG = np.random.default_rng(7)


def _img(c=2, h=12, w=10, dtype=np.float32):
    return (RNG.gamma(2.0, 30.0, size=(c, h, w))).astype(dtype)


def _np(x) -> np.ndarray:
    return np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x)


ALL = [MinMaxNormalize(), PercentileNormalize(), ZScoreNormalize(), ContrastStretch()]
ALL_CW = [MinMaxNormalize(channel_wise=True), PercentileNormalize(channel_wise=True),
          ZScoreNormalize(channel_wise=True, nonzero=True), ContrastStretch(channel_wise=True)]


# ----------------------------------------------------------------------------------------------- shared behaviour
@pytest.mark.parametrize("xform", ALL + ALL_CW, ids=lambda t: type(t).__name__)
@pytest.mark.parametrize("value", [0.0, 0.1, 1000.1, 255])
def test_constant_images_give_zeros_not_nan(xform, value):
    for img in (np.full((2, 387, 41), value, np.float32), torch.full((1, 5, 5), float(value), dtype=torch.float64)):
        out = _np(xform(img))
        assert np.isfinite(out).all()
        np.testing.assert_array_equal(out, 0.0)


@pytest.mark.parametrize("xform", ALL, ids=lambda t: type(t).__name__)
def test_types_meta_dtype_and_no_in_place_change(xform):
    arr = _img()
    keep = arr.copy()
    out = xform(arr)
    assert isinstance(out, MetaTensor) and out.dtype == torch.float32 and out.shape == arr.shape
    np.testing.assert_array_equal(arr, keep)  # input untouched

    t = torch.as_tensor(arr).clone()
    np.testing.assert_allclose(_np(xform(t)), _np(out), rtol=1e-6, atol=1e-6)
    mt = MetaTensor(torch.as_tensor(arr).clone(), meta={"filename_or_obj": "x.png"})
    out_mt = xform(mt)
    assert out_mt.meta["filename_or_obj"] == "x.png"
    np.testing.assert_array_equal(_np(mt), keep)


@pytest.mark.parametrize("cls", [MinMaxNormalize, PercentileNormalize, ZScoreNormalize, ContrastStretch])
def test_dtype_option(cls):
    ints = RNG.integers(0, 256, size=(1, 6, 6), dtype=np.uint8)
    assert cls(dtype=None)(ints).dtype == torch.float32  # integer input -> float32, never back to uint8
    assert cls(dtype=None)(ints.astype(np.float64)).dtype == torch.float64
    assert cls(dtype=np.float64)(ints).dtype == torch.float64
    with pytest.raises(ValueError):
        cls(dtype=np.uint8)(ints)


# ----------------------------------------------------------------------------------------------- values
def test_min_max_normalize():
    img = _img()
    out = _np(MinMaxNormalize()(img))
    np.testing.assert_allclose(out, (img - img.min()) / (img.max() - img.min()), rtol=1e-6)
    assert out.min() == 0.0 and out.max() == pytest.approx(1.0)

    img[1] = 3.0  # constant second channel
    cw = _np(MinMaxNormalize(channel_wise=True)(img))
    np.testing.assert_allclose(cw[0], (img[0] - img[0].min()) / np.ptp(img[0]), rtol=1e-6)
    np.testing.assert_array_equal(cw[1], 0.0)


def test_percentile_normalize_matches_numpy_reference():
    img = _img()
    lo, hi = np.percentile(img, (1, 99))
    expected = np.clip((img - lo) / (hi - lo), 0, 1)
    np.testing.assert_allclose(_np(PercentileNormalize()(img)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(PercentileNormalize()(torch.as_tensor(img))), expected, rtol=1e-5, atol=1e-6)

    lo, hi = np.percentile(img, (5, 90), axis=(1, 2), keepdims=True)
    expected = np.clip((img - lo) / (hi - lo), 0, 1)
    out = _np(PercentileNormalize(5, 90, channel_wise=True)(img))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("out_range", [(0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)])
def test_contrast_stretch_matches_skimage(out_range):
    img = _img(c=1, h=40, w=30)
    p2, p98 = np.percentile(img, (2, 98))
    expected = rescale_intensity(img.astype(np.float64), in_range=(p2, p98), out_range=out_range)
    out = _np(ContrastStretch(out_range=out_range)(img))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4 * (out_range[1] - out_range[0]))
    assert out.min() == out_range[0] and out.max() == pytest.approx(out_range[1])


def test_contrast_stretch_collapsed_range_maps_to_out_min():
    img = np.zeros((1, 10, 10), np.float32)
    img[0, 0, 0] = 255.0  # 2nd and 98th percentiles are both 0
    out = _np(ContrastStretch(out_range=(-1.0, 1.0))(img))
    np.testing.assert_array_equal(out, -1.0)


def test_contrast_stretch_channel_wise():
    img = _img(c=3)
    img[2] *= 10
    out = _np(ContrastStretch(channel_wise=True)(img))
    for c in range(3):
        lo, hi = np.percentile(img[c], (2, 98))
        np.testing.assert_allclose(out[c], np.clip((img[c] - lo) / (hi - lo), 0, 1), rtol=1e-5, atol=1e-6)


class _MonaiPercentileStretch(ContrastStretch):
    """The former computation: MONAI's ``percentile`` (a full ``torch.quantile`` sort of all channels)."""

    def _percentiles(self, x):
        return percentile(x, [self.lower, self.upper])


def _percentile_inputs():
    gen = torch.Generator().manual_seed(3)
    grey = torch.rand(1, 37, 29, generator=gen)
    return {
        "float32": torch.rand(3, 37, 29, generator=gen) * 1e4 - 5e3,
        "float64": torch.rand(2, 23, 31, generator=gen, dtype=torch.float64),
        "integer_ties": torch.randint(0, 6, (3, 40, 40), generator=gen).float(),
        "grey_x3": grey.repeat(3, 1, 1),  # the slice pipeline's case: one channel made three
        "grey_x2_int": torch.randint(-900, 900, (1, 64, 50), generator=gen).float().repeat(2, 1, 1),
        "one_channel": grey,
        "constant": torch.full((3, 16, 16), 7.0),
        "tiny": torch.tensor([[[1.0, -2.0]], [[1.0, -2.0]]]),
    }


@pytest.mark.parametrize("name", list(_percentile_inputs()))
@pytest.mark.parametrize("channel_wise", [False, True])
@pytest.mark.parametrize("lower, upper", [(0.5, 99.5), (2, 98), (0, 100), (33.3, 50), (1, 71.7)])
def test_contrast_stretch_percentiles_are_monai_percentiles_bit_for_bit(name, channel_wise, lower, upper):
    """The partial-sort percentiles (one channel of repeated channels) give exactly MONAI's ``percentile``, hence
    exactly the former output; float32 rounding of the interpolation weight alone would already differ here."""
    img = _percentile_inputs()[name]
    new = ContrastStretch(lower, upper, out_range=(-1, 1), channel_wise=channel_wise, dtype=None)
    old = _MonaiPercentileStretch(lower, upper, out_range=(-1, 1), channel_wise=channel_wise, dtype=None)
    for part in (list(img) if channel_wise else [img]):
        assert torch.equal(new._percentiles(part), percentile(part, [lower, upper]))
    assert torch.equal(new(img), old(img))


def test_linear_quantiles_of_repeated_copies_equal_torch_quantile():
    gen = torch.Generator().manual_seed(5)
    q = torch.tensor([0.0, 0.005, 0.3, 0.5, 0.995, 1.0])
    for n, repeats in ((1, 3), (2, 3), (97, 2), (1000, 3), (4096, 4)):
        x = torch.randn(n, generator=gen)
        assert torch.equal(_linear_quantiles(x, q, repeats=repeats), torch.quantile(x.repeat(repeats), q))
        assert torch.equal(_linear_quantiles(x, q), torch.quantile(x, q))


def test_contrast_stretch_nan_and_large_images_as_before():
    img = torch.rand(3, 20, 20)
    img[1, 3, 4] = float("nan")  # NaN percentiles (torch.quantile's) -> collapsed range -> out_min
    assert torch.isnan(ContrastStretch()._percentiles(img)).all()
    assert torch.equal(ContrastStretch()(img), _MonaiPercentileStretch()(img))
    big = torch.rand(3, 600, 600)  # over 1e6 values MONAI's percentile is NumPy's: kept, same values
    assert torch.equal(PercentileNormalize()(big), _MonaiPercentileStretch(1, 99)(big))


@pytest.mark.parametrize("kwargs", [dict(lower=-1), dict(upper=101), dict(lower=50, upper=50), dict(out_range=(1, 0))])
def test_contrast_stretch_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        ContrastStretch(**kwargs)


def test_z_score_normalize():
    img = _img()
    out = _np(ZScoreNormalize()(img))
    np.testing.assert_allclose(out, (img - img.mean()) / img.std(), rtol=1e-4, atol=1e-5)
    assert abs(out.mean()) < 1e-5 and out.std() == pytest.approx(1.0, rel=1e-4)

    cw = _np(ZScoreNormalize(channel_wise=True)(img))
    for c in range(2):
        assert abs(cw[c].mean()) < 1e-5 and cw[c].std() == pytest.approx(1.0, rel=1e-4)


def test_z_score_nonzero_keeps_background():
    img = _img(c=1)
    img[:, :4] = 0.0  # background rows
    out = _np(ZScoreNormalize(nonzero=True)(img))
    np.testing.assert_array_equal(out[:, :4], 0.0)
    fg = img[img != 0]
    np.testing.assert_allclose(out[img != 0], (fg - fg.mean()) / fg.std(), rtol=1e-4, atol=1e-5)

    empty = _np(ZScoreNormalize(nonzero=True)(np.zeros((1, 3, 3), np.float32)))
    np.testing.assert_array_equal(empty, 0.0)


def test_z_score_is_robust_where_monai_normalize_intensity_is_not():
    img = torch.full((1, 387, 412), 1000.1)  # float32 rounding makes the computed std tiny but non-zero
    assert float(NormalizeIntensity()(img).abs().max()) > 0.5  # MONAI: +-1 noise
    np.testing.assert_array_equal(_np(ZScoreNormalize()(img)), 0.0)


# ----------------------------------------------------------------------------------------------- dictionary twins
@pytest.mark.parametrize(
    "dict_cls, array_xform, kwargs",
    [
        (MinMaxNormalized, MinMaxNormalize(channel_wise=True), dict(channel_wise=True)),
        (PercentileNormalized, PercentileNormalize(2, 95), dict(lower=2, upper=95)),
        (ZScoreNormalized, ZScoreNormalize(nonzero=True), dict(nonzero=True)),
        (ContrastStretchd, ContrastStretch(out_range=(-1, 1)), dict(out_range=(-1, 1))),
    ],
)
def test_dictionary_twins_match_array_versions(dict_cls, array_xform, kwargs):
    data = {"image": _img(), "other": _img(), "label": 2}
    out = dict_cls(keys=["image", "other"], **kwargs)(data)
    for key in ("image", "other"):
        np.testing.assert_array_equal(_np(out[key]), _np(array_xform(data[key])))
    assert out["label"] == 2

    with pytest.raises(KeyError):
        dict_cls(keys=["image", "missing"], **kwargs)(data)
    out = dict_cls(keys=["image", "missing"], allow_missing_keys=True, **kwargs)(data)
    assert "missing" not in out


def test_aliases():
    assert MinMaxNormalizeDict is MinMaxNormalized and ContrastStretchD is ContrastStretchd
