"""Saliency as evidence: Grad-CAM maps (``monai.visualize``), their peaks, the pointing game, overlay PNGs, and the
predicted lesion map of a network with a lesion head."""

from .saliency import DEFAULT_TARGET_LAYER, grad_cam, grey_png, overlay_png, peak_fractions, pointing_hits, saliency_peaks, write_overlay
from .saliency import LESION_TARGET_LAYER, lesion_maps, write_grad_cam_overlays, write_lesion_overlays

__all__ = ["DEFAULT_TARGET_LAYER", "grad_cam", "grey_png", "overlay_png", "peak_fractions", "pointing_hits",
           "saliency_peaks", "write_overlay", "write_grad_cam_overlays", "LESION_TARGET_LAYER", "lesion_maps",
           "write_lesion_overlays"]
