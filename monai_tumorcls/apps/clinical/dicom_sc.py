"""The Secondary Captures of a classified DICOM series: one per contributing slice, at the slice's own resolution
(the volume's grid: a slice that is not resliced has its source frame's rows and columns), display-oriented, the
saliency map (the run's map itself, put back onto that grid, :class:`~.records.SliceEvidence`) blended on top and a
burned-in legend: a colour bar from 0 to 1 along the bottom edge, what the overlay shows, and "research use only"
(so BurnedInAnnotation is YES)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...visualize.saliency import overlay_rgb, saliency_colours
from .records import SliceEvidence

__all__ = ["CaptureText", "CAPTURE_TEXT", "capture_pixels"]

RESEARCH_USE = "RESEARCH USE ONLY"


@dataclass(frozen=True)
class CaptureText:
    """The SeriesDescription of a capture series and the legend's name of what its overlay shows."""

    series_description: str
    shown: str


#: by what the run's saliency map is (``ClinicalRunResult.saliency_map``)
CAPTURE_TEXT = {
    "grad_cam": CaptureText("Grad-CAM overlays (research use only)", "Grad-CAM of the tumour class"),
    "lesion": CaptureText("Predicted lesion overlays (research use only)", "predicted lesion probability"),
}


def capture_pixels(evidence: SliceEvidence, shown: str, outline_threshold: float | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB at the slice's size: :func:`~monai_tumorcls.visualize.saliency.overlay_rgb` of the
    slice and its map (the region at or above ``outline_threshold`` outlined, when given) and the legend."""
    outline = evidence.saliency >= outline_threshold if outline_threshold is not None else None
    rgb = overlay_rgb(evidence.image, evidence.saliency, outline=outline)
    pixels = (np.clip(rgb, 0.0, 1.0) * 255).round().astype(np.uint8)
    return _burn_legend(pixels, shown)


def _burn_legend(pixels: np.ndarray, shown: str) -> np.ndarray:
    """``pixels`` with the legend drawn in: the colour bar (a mid-grey pixel's colour under saliency 0 at the left
    to 1 at the right) along the bottom rows, "0" and "1" above its ends, and at the top what is shown and
    "RESEARCH USE ONLY" (white, outlined in black so it reads on any background). Text scales with the image; on
    a very small image it is clipped at the edge."""
    from PIL import Image, ImageDraw, ImageFont

    height, width = pixels.shape[:2]
    size = max(6, min(height, width) // 24)
    bar_rows = max(2, size // 2)
    bar = saliency_colours(np.full(width, 0.5), np.linspace(0.0, 1.0, width))
    pixels = pixels.copy()
    pixels[height - bar_rows :] = (bar * 255).round().astype(np.uint8)[None]
    image = Image.fromarray(pixels, "RGB")
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(size=size)
    text = {"fill": (255, 255, 255), "font": font, "stroke_width": 1, "stroke_fill": (0, 0, 0)}
    margin = max(1, size // 4)
    draw.text((margin, margin), f"{shown} (0..1)", **text)
    draw.text((margin, margin + size + 1), RESEARCH_USE, **text)
    above_bar = height - bar_rows - size - margin
    draw.text((margin, above_bar), "0", **text)
    draw.text((width - margin - draw.textlength("1", font=font), above_bar), "1", **text)
    return np.asarray(image)
