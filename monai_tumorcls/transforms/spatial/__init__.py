"""Random, invertible flips and rotations of 2D images."""

from __future__ import annotations

from .array import RandFlipAxes, RandRotate90Choice, RandRotateAngle
from .dictionary import (
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

__all__ = [
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
