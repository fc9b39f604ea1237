"""Dictionary-based version of :mod:`monai_tumorcls.transforms.lesion.array`: paints the lesion and relabels."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch

from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms.transform import MapTransform, RandomizableTransform

from .array import LESION_KINDS, LesionTarget, RandSyntheticLesion

__all__ = [
    "RandSyntheticLesiond",
    "RandSyntheticLesionD",
    "RandSyntheticLesionDict",
    "LesionTargetd",
    "LesionTargetD",
    "LesionTargetDict",
]


def _label_value(label) -> int | None:
    """The integer class index held by ``label`` (int, 0-d/1-element array or tensor), else None."""
    try:
        arr = np.asarray(label.detach().cpu() if isinstance(label, torch.Tensor) else label)
    except (TypeError, ValueError):
        return None
    if arr.size != 1 or not np.issubdtype(arr.dtype, np.number):
        return None
    return int(arr.reshape(-1)[0])


def _relabel(label, value: int):
    """``value`` in the type (and shape) of ``label``."""
    if isinstance(label, torch.Tensor):
        return torch.full_like(label, value)
    if isinstance(label, np.ndarray):
        return np.full_like(label, value)
    return type(label)(value) if isinstance(label, (int, np.integer)) else value


class RandSyntheticLesiond(RandomizableTransform, MapTransform):
    """Dictionary-based version of :class:`~monai_tumorcls.transforms.lesion.array.RandSyntheticLesion` for
    classification: items whose ``label_key`` is one of ``eligible_labels`` (the tumour-free class) get, with
    probability ``prob``, one lesion painted into every key, and their label becomes ``lesion_label``.

    Items of other classes pass unchanged (no draw is spent on them). When a lesion was drawn but the image has
    no room for one (see the array transform), neither image nor label changes. The lesion is drawn once per
    call and painted identically into every key, so use one image key (or aligned images of one slice).

    Args:
        keys: keys of channel-first ``(C, H, W)`` images.
        label_key: key of the integer class index.
        lesion_label: class index given to items that got a lesion (e.g. 1 = ``tumor`` in the binary bundles).
        eligible_labels: class indices that may get a lesion (e.g. ``[0]`` = ``notumor``).
        prob, radius, kinds, strength, irregularity, foreground_threshold, min_foreground: see
            :class:`~monai_tumorcls.transforms.lesion.array.RandSyntheticLesion`.
        applied_key: if set, each item gets this key with True/False: was a lesion painted.
        allow_missing_keys: don't raise if an image key is missing (the label key is required).
    """

    backend = RandSyntheticLesion.backend

    def __init__(
        self,
        keys: KeysCollection,
        label_key: str = "label",
        lesion_label: int = 1,
        eligible_labels: Sequence[int] = (0,),
        prob: float = 0.5,
        radius: float | Sequence[float] = (0.06, 0.2),
        kinds: Sequence[str] = LESION_KINDS,
        strength: float | Sequence[float] = (0.35, 0.85),
        irregularity: float = 0.35,
        foreground_threshold: float = 0.1,
        min_foreground: float = 0.05,
        applied_key: str | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob=1.0)
        self.label_key = label_key
        self.lesion_label = int(lesion_label)
        self.eligible_labels = {int(v) for v in eligible_labels}
        if self.lesion_label in self.eligible_labels:
            raise ValueError(f"lesion_label {self.lesion_label} must not be one of eligible_labels {eligible_labels}.")
        self.applied_key = applied_key
        self.painter = RandSyntheticLesion(
            prob=prob, radius=radius, kinds=kinds, strength=strength, irregularity=irregularity,
            foreground_threshold=foreground_threshold, min_foreground=min_foreground,
        )

    def set_random_state(
        self, seed: int | None = None, state: np.random.RandomState | None = None
    ) -> RandSyntheticLesiond:
        super().set_random_state(seed, state)
        self.painter.set_random_state(seed, state)
        return self

    def randomize(self, data: NdarrayOrTensor | None = None) -> None:
        self.painter.randomize(data)
        self._do_transform = self.painter._do_transform

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        """
        Args:
            data: item with the image key(s) and ``label_key``.

        Returns:
            a new dict: images with the lesion and ``label_key`` = ``lesion_label`` when one was painted.

        Raises:
            KeyError: ``label_key`` missing.
            ValueError: a label that is not one integer.
        """
        d = dict(data)
        if self.label_key not in d:
            raise KeyError(f"RandSyntheticLesiond needs the class label under {self.label_key!r}.")
        value = _label_value(d[self.label_key])
        if value is None:
            raise ValueError(f"{self.label_key!r} must hold one integer class index, got {d[self.label_key]!r}.")
        applied = False
        if value in self.eligible_labels:
            self.randomize(None)
            if self._do_transform:
                for key in self.key_iterator(d):
                    d[key] = self.painter(d[key], randomize=False)
                    applied = applied or self.painter.applied
        if applied:
            d[self.label_key] = _relabel(d[self.label_key], self.lesion_label)
        if self.applied_key is not None:
            d[self.applied_key] = applied
        return d


class LesionTargetd(MapTransform):
    """The pixel target of every item, and whether it is known (per-item flag for the loss).

    For each key (e.g. ``"mask"``): an item with the key gets its mask as a :class:`LesionTarget` at the size of
    ``image_key``'s image, known; an item without it gets an empty target, known when its label is one of
    ``tumour_free_labels`` (a tumour-free slice has no lesion pixel) and unknown otherwise (a tumour slice whose
    tumour was never outlined, e.g. Kaggle: its empty target is a placeholder for batching, never a truth).
    Run after the image's final resize and before spatial augmentation, so that the mask is augmented with it.

    Args:
        keys: the mask key(s); each item's flag is ``known_key`` (one key) or ``f"{key}_known"``.
        image_key: key of the channel-first image whose ``(H, W)`` the target takes.
        label_key: key of the integer class index.
        tumour_free_labels: class indices whose items have an empty, known target when they have no mask.
        known_key: name of the flag for a single key; defaults to ``f"{key}_known"``.
    """

    def __init__(
        self,
        keys: KeysCollection = "mask",
        image_key: str = "image",
        label_key: str = "label",
        tumour_free_labels: Sequence[int] = (0,),
        known_key: str | None = None,
    ) -> None:
        super().__init__(keys, allow_missing_keys=True)  # a missing mask is the point: it says "pixels unknown"
        if known_key is not None and len(self.keys) != 1:
            raise ValueError(f"known_key names the flag of one mask key, got keys {self.keys}.")
        self.image_key, self.label_key, self.known_key = image_key, label_key, known_key
        self.tumour_free_labels = {int(v) for v in tumour_free_labels}

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        target = LesionTarget(tuple(d[self.image_key].shape[1:]))
        for key in self.keys:
            has_mask = d.get(key) is not None
            known = has_mask or _label_value(d[self.label_key]) in self.tumour_free_labels
            d[key] = target(d[key] if has_mask else None)
            d[self.known_key or f"{key}_known"] = torch.tensor(float(known))
        return d


RandSyntheticLesionD = RandSyntheticLesionDict = RandSyntheticLesiond
LesionTargetD = LesionTargetDict = LesionTargetd
