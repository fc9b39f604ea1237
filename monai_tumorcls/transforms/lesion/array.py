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
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from monai.config.type_definitions import NdarrayOrTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms.transform import RandomizableTransform
from monai.utils.enums import TransformBackends
from monai.utils.type_conversion import convert_to_dst_type, convert_to_tensor

__all__ = ["RandSyntheticLesion", "LESION_KINDS"]

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
        h, w = grey.shape
        lo = grey.min()
        hi = torch.quantile(grey.flatten().float(), 0.99) if grey.numel() <= 2**24 else grey.max()
        if not hi > lo:
            return None
        fg = grey > lo + self.foreground_threshold * (hi - lo)
        area = float(fg.sum())
        if area < self.min_foreground * h * w:
            return None
        r = max(2.0, p["radius"] * math.sqrt(area))
        k = 2 * int(r) + 1
        inside = F.avg_pool2d(fg[None, None].float(), k, stride=1, padding=k // 2, count_include_pad=True)[0, 0]
        cand = torch.nonzero((inside >= 0.9) & fg)
        if cand.shape[0] == 0:
            return None
        cy, cx = (float(v) for v in cand[min(int(p["pick"] * cand.shape[0]), cand.shape[0] - 1)])
        gen = torch.Generator().manual_seed(p["seed"])
        yy, xx = torch.meshgrid(
            torch.arange(h, dtype=torch.float32) - cy, torch.arange(w, dtype=torch.float32) - cx, indexing="ij"
        )
        ca, sa = math.cos(p["angle"]), math.sin(p["angle"])
        u, v = (xx * ca + yy * sa) / r, (-xx * sa + yy * ca) / (r * p["aspect"])
        # normalised radius: 1 on the (warped) outline
        dist = torch.sqrt(u * u + v * v) * (1 + self.irregularity * 0.5 * self._smooth_noise(gen, (h, w), 6))

        def soft(edge: float) -> torch.Tensor:
            return torch.sigmoid((edge - dist) / p["softness"])

        vals = grey[fg].float()
        dark_ref, bright_ref = torch.quantile(vals, 0.02), torch.quantile(vals, 0.99)
        if not bright_ref - dark_ref > 1e-6 * max(float(hi - lo), 1e-12):
            return None  # flat foreground: nothing to move towards
        fg_soft = F.avg_pool2d(fg[None, None].float(), 5, stride=1, padding=2)[0, 0]
        texture = 1 + p["texture"] * self._smooth_noise(gen, (h, w), max(4, int(min(h, w) / max(r / 2, 1))))
        s = p["strength"]
        if p["kind"] == "bright":
            brighten, darken = soft(1.0) * s, torch.zeros_like(dist)
        elif p["kind"] == "dark":
            brighten, darken = torch.zeros_like(dist), soft(1.0) * s
        else:
            outer, core = soft(1.0), soft(p["core"])
            halo = (soft(1.6) - outer) * p["halo"]
            brighten = (outer - core) * s + halo * s * 0.5
            darken = core * s
        brighten = (brighten * texture * fg_soft).clamp(0, 1)
        darken = (darken * texture * fg_soft).clamp(0, 1)
        # weights below 1e-3 (the sigmoid's far tail) are dropped: the change stays local to the lesion
        brighten, darken = brighten * (brighten > 1e-3), darken * (darken > 1e-3)
        out = img + brighten * (bright_ref - img) - darken * (img - dark_ref)
        return out

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
