"""The faster forms of the reading and slicing steps give the same values as the plain ones."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from monai_tumorcls.data.readers import quiet_pydicom
from monai_tumorcls.data.slicing import foreground_fraction


def _foreground_reference(volume: np.ndarray) -> np.ndarray:
    """Slice by slice: the fraction of pixels above min + 0.1 * (p99 - min), 0 for a constant slice."""
    out = []
    for k in range(volume.shape[2]):
        s = volume[:, :, k].astype(np.float64)
        lo, hi = s.min(), np.percentile(s, 99)
        out.append(float((s > lo + 0.1 * (hi - lo)).mean()) if hi > lo else 0.0)
    return np.asarray(out)


@pytest.mark.parametrize("shape", [(37, 29, 11), (64, 48, 1)])
def test_foreground_fraction_equals_the_slice_by_slice_formula(shape):
    rng = np.random.default_rng(1)
    volume = (rng.gamma(2.0, 100.0, shape)).astype(np.float32)
    volume[:, :, 0] = 7.0  # a constant slice
    np.testing.assert_array_equal(foreground_fraction(volume), _foreground_reference(volume))


def test_quiet_pydicom_nests_and_restores_the_level(caplog):
    logger = logging.getLogger("pydicom")
    before = logger.level
    with quiet_pydicom():
        with quiet_pydicom():  # a file inside a series: still quiet
            logger.warning("a tag value")
            assert logger.getEffectiveLevel() == logging.CRITICAL
        assert logger.level == logging.CRITICAL  # the inner block did not undo the outer one
        logging.getLogger("pydicom.pixels.utils").warning("another tag value")
    assert logger.level == before
    assert "tag value" not in caplog.text
