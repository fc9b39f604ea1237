"""Synthetic focal lesions painted into tumour-free 2D MR slices.

A 2D classifier trained on the Kaggle brain-tumour images learns where a slice sits in the head as much as
whether it holds a tumour: its tumour-free images are mostly mid-ventricular axial slices, its tumour images
come from other series and levels. On a whole volume that shortcut ranks the mid-brain slices (where tumours
are) *below* the skull-base and vertex slices (see ``docs/clinical_validation.md``). Painting lesions into
tumour-free slices of every level gives the network pairs that differ only by the lesion, so "mid-brain axial"
stops predicting "no tumour".

The lesions are intensity changes inside the slice's foreground, not copies of real tumours:

- ``bright``: hyperintense mass (T2/FLAIR oedema or tumour, enhancing meningioma on T1 post-contrast),
- ``dark``: hypointense mass (tumour on T1, necrosis),
- ``ring``: bright rim around a dark core with an optional halo (ring-enhancing glioblastoma on T1
  post-contrast).

Each has an irregular outline (an ellipse warped by smooth noise), a soft edge and some internal texture.

:class:`LesionTarget` is the other use of lesions here: a real lesion mask as the pixel target of a classifier
trained with a lesion decoder (bundle ``resnet18_lesion``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from monai.config.type_definitions import NdarrayOrTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms.transform import RandomizableTransform, Transform
from monai.utils.enums import TransformBackends
from monai.utils.type_conversion import convert_to_dst_type, convert_to_tensor

__all__ = ["RandSyntheticLesion", "LESION_KINDS", "LesionTarget"]

LESION_KINDS = ("bright", "dark", "ring")


def _pair(value: float | Sequence[float], name: str, lo: float, hi: float) -> tuple[float, float]:
    v = tuple(float(x) for x in (value if isinstance(value, Sequence) else (value, value)))
    if len(v) != 2 or not lo <= v[0] <= v[1] <= hi:
        raise ValueError(f"{name} must be a number or a (low, high) pair within [{lo}, {hi}], got {value}.")
    return v  # type: ignore[return-value]


class RandSyntheticLesion(RandomizableTransform):
    """With probability ``prob``, paint one synthetic lesion inside the foreground of a channel-first 2D image.

    The foreground is the set of pixels brighter than ``min + foreground_threshold * (p99 - min)`` of the
    channel mean. The lesion centre is drawn among foreground pixels whose disc of the lesion radius is at
    least 90 % foreground (so it lands inside the head, not on its rim); images with less than
    ``min_foreground`` foreground, without such a pixel, or with a flat foreground (its ``p2`` equal to its
    ``p99``) are left unchanged and :attr:`applied` is False.
    Intensities are changed towards the foreground's ``p2`` (dark) or ``p99`` (bright), so the lesion stays
    within the image's own range whatever its scaling; every channel gets the same change.

    Args:
        prob: probability of painting a lesion.
        radius: lesion radius range, as a fraction of the square root of the foreground area (about half its
            width); a number means that fixed value.
        kinds: lesion kinds to draw from (:data:`LESION_KINDS`), uniformly.
        strength: how far intensities move towards the dark/bright reference (0 = unchanged, 1 = all the way).
        irregularity: amplitude of the smooth noise that warps the elliptic outline (0 = ellipse).
        foreground_threshold: foreground cut, as a fraction of ``p99 - min`` above the minimum.
        min_foreground: smallest foreground fraction of the image that can receive a lesion.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        prob: float = 0.5,
        radius: float | Sequence[float] = (0.06, 0.2),
        kinds: Sequence[str] = LESION_KINDS,
        strength: float | Sequence[float] = (0.35, 0.85),
        irregularity: float = 0.35,
        foreground_threshold: float = 0.1,
        min_foreground: float = 0.05,
    ) -> None:
        RandomizableTransform.__init__(self, prob)
        self.radius = _pair(radius, "radius", 0.0, 1.0)
        self.kinds = tuple(str(k) for k in kinds)
        unknown = [k for k in self.kinds if k not in LESION_KINDS]
        if not self.kinds or unknown:
            raise ValueError(f"kinds must be a non-empty subset of {LESION_KINDS}, got {kinds}.")
        self.strength = _pair(strength, "strength", 0.0, 1.0)
        if irregularity < 0:
            raise ValueError(f"irregularity must be >= 0, got {irregularity}.")
        self.irregularity = float(irregularity)
        self.foreground_threshold = float(foreground_threshold)
        self.min_foreground = float(min_foreground)
        self.applied = False
        self._params: dict = {}

    def randomize(self, data: NdarrayOrTensor | None = None) -> None:
        """Decide whether to paint and draw the lesion's parameters (position is drawn in ``__call__``,
        from the image's own foreground)."""
        super().randomize(None)
        self._params = {
            "kind": self.kinds[self.R.randint(len(self.kinds))],
            "radius": self.R.uniform(*self.radius),
            "aspect": self.R.uniform(0.55, 1.0),
            "angle": self.R.uniform(0.0, math.pi),
            "strength": self.R.uniform(*self.strength),
            "core": self.R.uniform(0.45, 0.75),  # ring: core radius / outer radius
            "halo": self.R.uniform(0.0, 0.5),  # ring: halo strength relative to the lesion's
            "softness": self.R.uniform(0.04, 0.15),
            "texture": self.R.uniform(0.0, 0.15),
            "pick": self.R.uniform(),
            "seed": int(self.R.randint(2**31 - 1)),
        }

    def _smooth_noise(self, gen: torch.Generator, shape: tuple[int, int], cells: int) -> torch.Tensor:
        """(H, W) smooth noise in about [-1, 1]: a ``cells`` x ``cells`` grid of uniform values, upsampled."""
        grid = torch.rand((1, 1, cells, cells), generator=gen, dtype=torch.float32) * 2 - 1
        return F.interpolate(grid, size=shape, mode="bicubic", align_corners=False)[0, 0].clamp(-1.5, 1.5)

    def lesion(self, img: torch.Tensor) -> torch.Tensor | None:
        """The painted image for the current draw, or None when the image has no room for a lesion.

        Args:
            img: (C, H, W) float tensor.
        """
        p = self._params
        grey = img.mean(0)
        found = self._foreground(grey)
        if found is None:
            return None
        fg, value_range = found
        vals = grey[fg].float()
        dark_ref, bright_ref = torch.quantile(vals, 0.02), torch.quantile(vals, 0.99)
        if not bright_ref - dark_ref > 1e-6 * max(value_range, 1e-12):
            return None  # flat foreground: nothing to move towards
        radius = max(2.0, p["radius"] * math.sqrt(float(fg.sum())))
        centre = self._centre(fg, radius)
        if centre is None:
            return None
        gen = torch.Generator().manual_seed(p["seed"])
        dist = self._outline_distance(gen, grey.shape, centre, radius)
        brighten, darken = self._weights(gen, dist, fg, radius)
        return img + brighten * (bright_ref - img) - darken * (img - dark_ref)

    def _foreground(self, grey: torch.Tensor) -> tuple[torch.Tensor, float] | None:
        """The foreground mask of ``grey`` and its ``p99 - min``; None when it is empty or below ``min_foreground``."""
        lo = grey.min()
        hi = torch.quantile(grey.flatten().float(), 0.99) if grey.numel() <= 2**24 else grey.max()
        if not hi > lo:
            return None
        fg = grey > lo + self.foreground_threshold * (hi - lo)
        if float(fg.sum()) < self.min_foreground * grey.numel():
            return None
        return fg, float(hi - lo)

    def _centre(self, fg: torch.Tensor, radius: float) -> tuple[float, float] | None:
        """The drawn centre (row, column) among foreground pixels whose disc of ``radius`` is >= 90 % foreground."""
        k = 2 * int(radius) + 1
        inside = F.avg_pool2d(fg[None, None].float(), k, stride=1, padding=k // 2, count_include_pad=True)[0, 0]
        candidates = torch.nonzero((inside >= 0.9) & fg)
        if candidates.shape[0] == 0:
            return None
        row, col = candidates[min(int(self._params["pick"] * candidates.shape[0]), candidates.shape[0] - 1)]
        return float(row), float(col)

    def _outline_distance(
        self, gen: torch.Generator, shape: tuple[int, int], centre: tuple[float, float], radius: float
    ) -> torch.Tensor:
        """(H, W) normalised radius of the drawn lesion: 1 on its outline (a rotated ellipse warped by smooth noise)."""
        p, (cy, cx) = self._params, centre
        yy, xx = torch.meshgrid(
            torch.arange(shape[0], dtype=torch.float32) - cy, torch.arange(shape[1], dtype=torch.float32) - cx,
            indexing="ij",
        )
        ca, sa = math.cos(p["angle"]), math.sin(p["angle"])
        u, v = (xx * ca + yy * sa) / radius, (-xx * sa + yy * ca) / (radius * p["aspect"])
        return torch.sqrt(u * u + v * v) * (1 + self.irregularity * 0.5 * self._smooth_noise(gen, shape, 6))

    def _weights(
        self, gen: torch.Generator, dist: torch.Tensor, fg: torch.Tensor, radius: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(H, W) weights in [0, 1] of the move towards the bright and the dark reference, for the drawn kind."""
        p, (h, w) = self._params, dist.shape

        def soft(edge: float) -> torch.Tensor:
            return torch.sigmoid((edge - dist) / p["softness"])

        fg_soft = F.avg_pool2d(fg[None, None].float(), 5, stride=1, padding=2)[0, 0]
        texture = 1 + p["texture"] * self._smooth_noise(gen, (h, w), max(4, int(min(h, w) / max(radius / 2, 1))))
        s, no_change = p["strength"], torch.zeros_like(dist)
        if p["kind"] == "bright":
            brighten, darken = soft(1.0) * s, no_change
        elif p["kind"] == "dark":
            brighten, darken = no_change, soft(1.0) * s
        else:
            outer, core = soft(1.0), soft(p["core"])
            halo = (soft(1.6) - outer) * p["halo"]
            brighten, darken = (outer - core) * s + halo * s * 0.5, core * s
        brighten = (brighten * texture * fg_soft).clamp(0, 1)
        darken = (darken * texture * fg_soft).clamp(0, 1)
        # weights below 1e-3 (the sigmoid's far tail) are dropped: the change stays local to the lesion
        return brighten * (brighten > 1e-3), darken * (darken > 1e-3)

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> NdarrayOrTensor:
        """
        Args:
            img: channel-first 2D image, ``(C, H, W)``, any intensity range.
            randomize: draw a new lesion first (``False``: reuse the last draw).

        Returns:
            the image with a lesion (when drawn and there is room for one, see :attr:`applied`), same shape,
            a tensor (MetaTensor when tracking meta) of the input's floating dtype (float32 for integer input).
        """
        if randomize:
            self.randomize(img)
        t = convert_to_tensor(img, track_meta=get_track_meta())
        if t.ndim != 3:
            raise ValueError(f"expected a channel-first 2D image (C, H, W), got shape {tuple(t.shape)}.")
        self.applied = False
        if not self._do_transform:
            return t
        dtype = t.dtype if t.is_floating_point() else torch.float32
        x = torch.as_tensor(t, dtype=torch.float32)
        x = x.as_tensor() if hasattr(x, "as_tensor") else x
        painted = self.lesion(x)
        if painted is None:
            return t
        self.applied = True
        out, *_ = convert_to_dst_type(painted, t, dtype=dtype)
        return out


class LesionTarget(Transform):
    """A lesion mask as a pixel target: ``(1, H, W)`` float32 of 0/1 at ``spatial_size``.

    Non-zero pixels of ``mask`` (any channel; e.g. 0/255 TIFF masks) are lesion. A mask of another size is resized
    by area averaging and kept where at least half of a target pixel was lesion (nearest-neighbour resizing would
    drop or grow thin lesions depending on the grid). ``mask=None`` gives an empty target.

    Args:
        spatial_size: ``(H, W)`` of the target (the image's size after resizing).
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, spatial_size: Sequence[int]) -> None:
        if len(spatial_size) != 2 or min(spatial_size) < 1:
            raise ValueError(f"spatial_size must be (H, W) with positive sizes, got {spatial_size}.")
        self.spatial_size = tuple(int(v) for v in spatial_size)

    def __call__(self, mask: NdarrayOrTensor | None = None) -> torch.Tensor:
        if mask is None:
            return torch.zeros((1, *self.spatial_size), dtype=torch.float32)
        m = convert_to_tensor(mask, track_meta=False)
        if m.ndim != 3:
            raise ValueError(f"mask must be channel-first (C, H, W), got shape {tuple(m.shape)}.")
        lesion = (m != 0).any(dim=0, keepdim=True).float()
        if tuple(lesion.shape[1:]) != self.spatial_size:
            lesion = (F.interpolate(lesion[None], size=self.spatial_size, mode="area")[0] >= 0.5).float()
        return lesion
