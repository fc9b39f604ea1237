"""Intensity normalisation: min-max, percentile, z-score, contrast stretching."""

from __future__ import annotations

from .array import ContrastStretch, MinMaxNormalize, PercentileNormalize, ZScoreNormalize
from .dictionary import (
    ContrastStretchD,
    ContrastStretchd,
    ContrastStretchDict,
    MinMaxNormalizeD,
    MinMaxNormalized,
    MinMaxNormalizeDict,
    PercentileNormalizeD,
    PercentileNormalized,
    PercentileNormalizeDict,
    ZScoreNormalizeD,
    ZScoreNormalized,
    ZScoreNormalizeDict,
)

__all__ = [
    "MinMaxNormalize",
    "PercentileNormalize",
    "ZScoreNormalize",
    "ContrastStretch",
    "MinMaxNormalized",
    "MinMaxNormalizeD",
    "MinMaxNormalizeDict",
    "PercentileNormalized",
    "PercentileNormalizeD",
    "PercentileNormalizeDict",
    "ZScoreNormalized",
    "ZScoreNormalizeD",
    "ZScoreNormalizeDict",
    "ContrastStretchd",
    "ContrastStretchD",
    "ContrastStretchDict",
]
