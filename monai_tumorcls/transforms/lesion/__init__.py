"""Synthetic focal lesions for tumour-free slices (breaks the slice-level shortcut of Kaggle-trained models)."""

from __future__ import annotations

from .array import LESION_KINDS, RandSyntheticLesion
from .dictionary import RandSyntheticLesionD, RandSyntheticLesiond, RandSyntheticLesionDict

__all__ = ["LESION_KINDS", "RandSyntheticLesion", "RandSyntheticLesiond", "RandSyntheticLesionD", "RandSyntheticLesionDict"]
