"""MONAI-style transforms for 2D brain MRI classification: array transforms for channel-first ``(C, H, W)``
input and their dictionary twins (suffix ``d``, aliases ``D``/``Dict``)."""

from __future__ import annotations

from .channel import (
    EnsureThreeChannel,
    EnsureThreeChannelD,
    EnsureThreeChanneld,
    EnsureThreeChannelDict,
    SelectChannel,
    SelectChannelD,
    SelectChanneld,
    SelectChannelDict,
)
from .intensity import (
    ContrastStretch,
    ContrastStretchD,
    ContrastStretchd,
    ContrastStretchDict,
    MinMaxNormalize,
    MinMaxNormalizeD,
    MinMaxNormalized,
    MinMaxNormalizeDict,
    PercentileNormalize,
    PercentileNormalizeD,
    PercentileNormalized,
    PercentileNormalizeDict,
    ZScoreNormalize,
    ZScoreNormalizeD,
    ZScoreNormalized,
    ZScoreNormalizeDict,
)
from .lesion import (
    LESION_KINDS,
    RandSyntheticLesion,
    RandSyntheticLesionD,
    RandSyntheticLesiond,
    RandSyntheticLesionDict,
)
from .spatial import (
    RandFlipAxes,
    RandFlipAxesD,
    RandFlipAxesd,
    RandFlipAxesDict,
    RandRotate90Choice,
    RandRotate90ChoiceD,
    RandRotate90Choiced,
    RandRotate90ChoiceDict,
    RandRotateAngle,
    RandRotateAngleD,
    RandRotateAngled,
    RandRotateAngleDict,
)

__all__ = [
    # channel
    "EnsureThreeChannel",
    "EnsureThreeChanneld",
    "EnsureThreeChannelD",
    "EnsureThreeChannelDict",
    "SelectChannel",
    "SelectChanneld",
    "SelectChannelD",
    "SelectChannelDict",
    # intensity
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
    # lesion
    "LESION_KINDS",
    "RandSyntheticLesion",
    "RandSyntheticLesiond",
    "RandSyntheticLesionD",
    "RandSyntheticLesionDict",
    # spatial
    "RandFlipAxes",
    "RandRotateAngle",
    "RandRotate90Choice",
    "RandFlipAxesd",
    "RandFlipAxesD",
    "RandFlipAxesDict",
    "RandRotateAngled",
    "RandRotateAngleD",
    "RandRotateAngleDict",
    "RandRotate90Choiced",
    "RandRotate90ChoiceD",
    "RandRotate90ChoiceDict",
]
