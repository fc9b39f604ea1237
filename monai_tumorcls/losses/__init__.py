"""Losses: joint class + lesion-mask supervision."""

from .lesion import LesionClassificationLoss

__all__ = ["LesionClassificationLoss"]
