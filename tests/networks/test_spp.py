from __future__ import annotations

import pytest
import torch

from monai_tumorcls.networks import SpatialPyramidPooling


@pytest.mark.parametrize(
    "levels, shape",
    [
        ((1, 2, 4), (2, 8, 7, 7)),
        ((1, 2, 4), (2, 8, 2, 2)),  # map smaller than the finest grid
        ((1, 2, 4), (1, 3, 3, 5)),  # non-square
        ((1,), (2, 4, 9, 9)),
        ((3, 1), (2, 4, 16, 11)),
    ],
)
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_output_shape(levels, shape, pool):
    spp = SpatialPyramidPooling(levels=levels, pool=pool)
    b, c = shape[:2]
    bins = sum(level * level for level in levels)
    assert spp.num_bins == bins
    assert spp.out_features(c) == c * bins
    assert spp(torch.randn(shape)).shape == (b, c * bins)


def test_values_and_order():
    x = torch.randn(2, 3, 8, 8)
    y = SpatialPyramidPooling(levels=(1, 2), pool="max")(x)
    # level 1 first: one global max per channel, then level 2 flattened channel-major (C, 2, 2)
    torch.testing.assert_close(y[:, :3], x.amax(dim=(2, 3)))
    quad = x.reshape(2, 3, 2, 4, 2, 4).amax(dim=(3, 5)).flatten(1)
    torch.testing.assert_close(y[:, 3:], quad)
    y_avg = SpatialPyramidPooling(levels=(1,), pool="avg")(x)
    torch.testing.assert_close(y_avg, x.mean(dim=(2, 3)))


@pytest.mark.parametrize("levels", [(), (0, 1), (-2,)])
def test_bad_levels(levels):
    with pytest.raises(ValueError):
        SpatialPyramidPooling(levels=levels)


def test_bad_pool_and_input():
    with pytest.raises(ValueError):
        SpatialPyramidPooling(pool="median")
    with pytest.raises(ValueError, match="B, C, H, W"):
        SpatialPyramidPooling()(torch.randn(2, 8))


@pytest.mark.parametrize("shape", [(2, 8, 7, 7), (2, 8, 2, 2), (1, 3, 3, 5), (2, 4, 16, 11)])
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_traced_explicit_bins_equal_eager_and_scripted_adaptive_pooling(shape, pool):
    """Eager and scripted: adaptive pooling (fast backward); traced/exported: the explicit bins ONNX can express."""
    spp = SpatialPyramidPooling(levels=(1, 2, 4), pool=pool)
    x = torch.randn(shape)
    traced = torch.jit.trace(spp, x)
    assert "adaptive" not in str(traced.graph) and "adaptive" in str(torch.jit.script(spp).graph)
    eager = spp(x)
    exact = {"rtol": 0, "atol": 0} if pool == "max" else {}  # means differ in float rounding (summation order)
    torch.testing.assert_close(traced(x), eager, **exact)
    torch.testing.assert_close(torch.jit.script(spp)(x), eager, **exact)
