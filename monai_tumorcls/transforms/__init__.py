"""MONAI-style transforms for 2D brain MRI classification: array transforms for channel-first ``(C, H, W)``
input and their dictionary twins (suffix ``d``, aliases ``D``/``Dict``).

Public names are listed once, in each module's ``__all__``, and imported here (as ``monai.transforms`` does);
the sub-package ``__init__`` files are empty."""

from __future__ import annotations

from .channel.array import (
    EnsureThreeChannel,
    SelectChannel,
)
from .channel.dictionary import (
    EnsureThreeChannelD,
    EnsureThreeChanneld,
    EnsureThreeChannelDict,
    SelectChannelD,
    SelectChanneld,
    SelectChannelDict,
)
from .intensity.array import (
    BrainMaskNormalize,
    ContrastStretch,
    FOREGROUND_LEVEL,
    HeadMaskNormalize,
    MinMaxNormalize,
    PercentileNormalize,
    ZScoreNormalize,
    foreground_threshold,
)
from .intensity.dictionary import (
    BrainMaskNormalizeD,
    BrainMaskNormalized,
    BrainMaskNormalizeDict,
    ContrastStretchD,
    ContrastStretchd,
    ContrastStretchDict,
    HeadMaskNormalizeD,
    HeadMaskNormalized,
    HeadMaskNormalizeDict,
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
from .lesion.array import (
    LESION_KINDS,
    LesionTarget,
    RandSyntheticLesion,
)
from .lesion.dictionary import (
    LesionTargetD,
    LesionTargetd,
    LesionTargetDict,
    RandSyntheticLesionD,
    RandSyntheticLesiond,
    RandSyntheticLesionDict,
)
from .spatial.array import (
    RandFlipAxes,
    RandRotate90Choice,
    RandRotateAngle,
)
from .spatial.dictionary import (
    RandFlipAxesD,
    RandFlipAxesd,
    RandFlipAxesDict,
    RandRotate90ChoiceD,
    RandRotate90Choiced,
    RandRotate90ChoiceDict,
    RandRotateAngleD,
    RandRotateAngled,
    RandRotateAngleDict,
)
