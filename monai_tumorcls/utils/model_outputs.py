"""What a network output must be before anything is decided from it: finite. A broken model (NaN weights, an
overflow) decides nothing, and never "no tumour"."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["NON_FINITE_OUTPUT", "finite_values"]

#: why a slice, image or series has no decision when the network's output is not finite
NON_FINITE_OUTPUT = "non-finite model output (NaN/Inf): the model is broken"


def finite_values(value) -> np.ndarray | None:
    """``value`` (a tensor or array-like) flattened to float64, or ``None`` when any element is NaN or infinite."""
    values = value.detach().double().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value, float)
    values = values.reshape(-1)
    return values if np.all(np.isfinite(values)) else None
