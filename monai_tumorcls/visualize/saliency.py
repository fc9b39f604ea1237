"""Saliency as evidence: Grad-CAM maps (``monai.visualize``), their peaks, the pointing game, and overlay PNGs."""

from __future__ import annotations

import io
from os import PathLike

import numpy as np
import torch
from monai.visualize import GradCAM
from scipy import ndimage

from ..data.own_outputs import PNG_TEXT
from ..utils.atomic import atomic_write_bytes

__all__ = ["DEFAULT_TARGET_LAYER", "LESION_TARGET_LAYER", "grad_cam", "saliency_peaks", "peak_fractions",
           "pointing_hits", "grey_png", "saliency_colours", "overlay_rgb", "overlay_png", "write_overlay",
           "write_saliency_overlays", "write_grad_cam_overlays", "lesion_maps", "write_lesion_overlays"]

#: the trunk's last stage of :class:`~monai_tumorcls.networks.ResNetClassifier` (whatever the head)
DEFAULT_TARGET_LAYER = "features.layer4"
#: Grad-CAM layer of a network with a lesion head (:class:`~monai_tumorcls.networks.LesionClassifier`): stride 16,
#: so its cells are half as wide as layer4's (a small lesion is not one cell of the whole slice), and the deepest
#: skip its decoder was trained to localise the lesion from
LESION_TARGET_LAYER = "features.layer3"


def _scale_to_unit(maps: torch.Tensor) -> torch.Tensor:
    """Each map to [0, 1], high = more evidence. (MONAI's ``default_normalizer`` maps the maximum to 0.)"""
    flat = maps.reshape(maps.shape[0], -1)
    lo, hi = flat.min(dim=1).values, flat.max(dim=1).values
    scale = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    return (maps - lo.view(-1, *[1] * (maps.ndim - 1))) / scale.view(-1, *[1] * (maps.ndim - 1))


def grad_cam(
    network: torch.nn.Module, images: torch.Tensor, class_index: int | None, target_layer: str = DEFAULT_TARGET_LAYER
) -> np.ndarray:
    """Grad-CAM maps of ``class_index`` (``None``: each image's predicted class) at the input's resolution, each
    scaled to ``[0, 1]``.

    Args:
        network: the classifier (put in eval mode here; its parameters' ``requires_grad`` are left as they are,
            gradients flow to the target layer's activations).
        images: ``(B, C, H, W)`` preprocessed batch on the network's device.
        class_index: logit to explain (e.g. the tumour class); ``None`` explains each image's highest logit.
        target_layer: dotted module name (default: the trunk's last stage).

    Returns:
        ``(B, H, W)`` float32.
    """
    network.eval()
    cam = GradCAM(nn_module=network, target_layers=target_layer, postprocessing=_scale_to_unit)
    with torch.enable_grad():
        maps = cam(x=images.detach().clone().requires_grad_(True), class_idx=class_index)
    return maps[:, 0].detach().cpu().numpy().astype(np.float32)


def saliency_peaks(maps: np.ndarray) -> np.ndarray:
    """``(B, 2)`` (row, column) of each map's maximum (first one in row-major order on ties)."""
    maps = np.asarray(maps)
    flat = maps.reshape(maps.shape[0], -1).argmax(axis=1)
    return np.stack(np.unravel_index(flat, maps.shape[1:]), axis=1)


def peak_fractions(maps: np.ndarray) -> list[dict[str, float]]:
    """Each map's peak as ``{"row", "col"}`` fractions of its height and width (resolution-independent, so they map
    onto the original image whatever the resize), as written into prediction JSON."""
    maps = np.asarray(maps)
    return [{"row": round(float(r) / maps.shape[1], 4), "col": round(float(c) / maps.shape[2], 4)}
            for r, c in saliency_peaks(maps)]


def pointing_hits(peaks: np.ndarray, masks: np.ndarray, tolerance: int = 4) -> np.ndarray:
    """Pointing game: ``(B,)`` True where the peak lies inside the mask grown by ``tolerance`` pixels.

    Args:
        peaks: ``(B, 2)`` from :func:`saliency_peaks`.
        masks: ``(B, H, W)`` tumour masks at the maps' resolution (non-zero = tumour).
        tolerance: dilation of the mask (pixels, 8-connected), so a peak on the lesion's border counts.
    """
    hits = []
    for (r, c), mask in zip(np.asarray(peaks), np.asarray(masks)):
        grown = ndimage.binary_dilation(mask > 0, iterations=tolerance) if tolerance > 0 else mask > 0
        hits.append(bool(grown[r, c]))
    return np.asarray(hits, dtype=bool)


def _unit_grey(image: np.ndarray) -> np.ndarray:
    """An (H, W) array of any range min-max scaled to [0, 1] (all zeros when constant)."""
    img = np.asarray(image, dtype=np.float64)
    lo, hi = np.nanmin(img), np.nanmax(img)
    return (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)


def _png(pixels: np.ndarray, mode: str, text: tuple[str, str] | None = None) -> bytes:
    """PNG bytes of ``pixels`` in [0, 1], with the tEXt chunk ``text`` (keyword, value) when given."""
    from PIL import Image, PngImagePlugin

    info = None
    if text is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text(*text)
    buf = io.BytesIO()
    # zlib level 1: a third of the default's encoding time for files about a fifth larger (the app encodes one
    # image per slice of a study)
    Image.fromarray((np.nan_to_num(pixels) * 255).round().astype(np.uint8), mode).save(
        buf, format="PNG", pnginfo=info, compress_level=1)
    return buf.getvalue()


def grey_png(image: np.ndarray) -> bytes:
    """PNG bytes: an (H, W) array of any range as 8-bit greyscale (min-max scaled), as :func:`overlay_png` shows
    it under the saliency."""
    return _png(_unit_grey(image), "L")


def saliency_colours(grey: np.ndarray, saliency: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """(..., 3) RGB in [0, 1] of grey values (in [0, 1]) under saliency values (in [0, 1], same shape): blended
    towards red (low) -> yellow (high) by ``alpha`` times the saliency (also the legend's colour bar)."""
    heat = np.stack([np.ones_like(saliency), saliency, np.zeros_like(saliency)], axis=-1)
    weight = alpha * saliency[..., None]
    return (1 - weight) * np.asarray(grey)[..., None] + weight * heat


def overlay_rgb(
    image: np.ndarray, saliency: np.ndarray, alpha: float = 0.45, outline: np.ndarray | None = None
) -> np.ndarray:
    """(H, W, 3) RGB in [0, 1]: the greyscale ``image`` (H, W, any range) with ``saliency`` ((H, W) in [0, 1]) in
    red-yellow on top, the boundary of the ``outline`` mask ((H, W) bool, e.g. the predicted lesion) in green, and
    the peak marked by a cross (arms of 3 pixels, or 1/64 of the larger side on a large image)."""
    s = np.clip(np.asarray(saliency, dtype=np.float64), 0, 1)
    rgb = saliency_colours(_unit_grey(image), s, alpha)
    if outline is not None:
        from skimage.segmentation import find_boundaries

        rgb[find_boundaries(np.asarray(outline, dtype=bool), mode="inner")] = (0.0, 1.0, 0.0)
    r, c = saliency_peaks(s[None])[0]
    arm = max(3, max(s.shape) // 64)
    rgb[max(r - arm, 0) : r + arm + 1, c] = (0.0, 1.0, 1.0)
    rgb[r, max(c - arm, 0) : c + arm + 1] = (0.0, 1.0, 1.0)
    return rgb


def overlay_png(
    image: np.ndarray, saliency: np.ndarray, alpha: float = 0.45, outline: np.ndarray | None = None
) -> bytes:
    """PNG bytes of :func:`overlay_rgb`. The PNG carries the text chunk
    :data:`~monai_tumorcls.data.own_outputs.PNG_TEXT`, so that a later run over a folder holding it does not
    classify it as a patient's image."""
    return _png(overlay_rgb(image, saliency, alpha, outline), "RGB", PNG_TEXT)


def write_overlay(path: str | PathLike, image: np.ndarray, saliency: np.ndarray) -> None:
    """Write :func:`overlay_png` atomically to ``path``."""
    atomic_write_bytes(path, overlay_png(image, saliency))


def write_saliency_overlays(
    images: torch.Tensor, maps: np.ndarray, paths: list, outline_threshold: float | None = None
) -> list[dict[str, float]]:
    """Each of ``maps`` ((B, H, W) in [0, 1]) as an overlay on the first channel of the matching one of ``images``
    (a preprocessed batch), written to the matching one of ``paths``; with ``outline_threshold`` the region of the
    map at or above it is outlined (the predicted lesion). Returns the peaks as :func:`peak_fractions`."""
    for path, image, saliency in zip(paths, images.detach().cpu().numpy(), maps):
        outline = saliency >= outline_threshold if outline_threshold is not None else None
        atomic_write_bytes(path, overlay_png(image[0], saliency, outline=outline))
    return peak_fractions(maps)


def write_grad_cam_overlays(
    network: torch.nn.Module, images: torch.Tensor, class_index: int | None, paths: list, target_layer: str
) -> list[dict[str, float]]:
    """Grad-CAM (:func:`grad_cam`) of each of ``images`` (a preprocessed ``(B, C, H, W)`` batch on the network's
    device), written as an overlay on its first channel to the matching one of ``paths``; the peaks as
    :func:`peak_fractions`. The one saliency path of inference: image files and the slices of a series alike."""
    return write_saliency_overlays(images, grad_cam(network, images, class_index, target_layer), paths)


def lesion_maps(network: torch.nn.Module, images: torch.Tensor) -> np.ndarray:
    """``(B, H, W)`` lesion probabilities (sigmoid of the lesion logits of ``network.forward_lesion``) of a
    preprocessed batch, at its size."""
    network.eval()
    with torch.inference_mode():
        _, lesion = network.forward_lesion(images)
    return torch.sigmoid(lesion.float())[:, 0].cpu().numpy()


def write_lesion_overlays(
    network: torch.nn.Module, images: torch.Tensor, paths: list, threshold: float = 0.5
) -> list[dict[str, float]]:
    """The predicted lesion map of each of ``images`` (a preprocessed batch on the network's device) as an overlay
    on its first channel, the lesion (probability >= ``threshold``) outlined, written to the matching one of
    ``paths``; the peaks as :func:`peak_fractions` (the lesion path of :func:`write_grad_cam_overlays`)."""
    return write_saliency_overlays(images, lesion_maps(network, images), paths, threshold)
