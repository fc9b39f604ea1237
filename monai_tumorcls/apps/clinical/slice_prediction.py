"""Slices of one volume (or a batch of preprocessed images) through a 2D classifier: the preprocessed batches,
class probabilities, the lesion maps of a network with a lesion head, and the saliency overlays of chosen slices
(the lesion map or Grad-CAM)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from monai.data import MetaTensor

from ...data.slicing import SliceStack, maps_to_volume_grid
from ...utils.progress import progress_bar
from ...utils.stages import stage
from ...visualize.saliency import (DEFAULT_TARGET_LAYER, LESION_TARGET_LAYER, grad_cam, lesion_maps,
                                   write_saliency_overlays)
from .options import PredictionOptions
from .records import SliceEvidence

__all__ = ["SlicePredictor", "slice_evidence", "ACTIVATIONS", "SLICE_LAYOUTS", "SALIENCY_MAPS", "has_lesion_head"]

ACTIVATIONS = ("softmax", "sigmoid", "none")
SLICE_LAYOUTS = ("HW", "WH")
SALIENCY_MAPS = ("auto", "lesion", "grad_cam")


def has_lesion_head(network: torch.nn.Module) -> bool:
    """True for a network that also predicts a lesion map (``forward_lesion(x) -> (logits, lesion logits)``)."""
    return callable(getattr(network, "forward_lesion", None))


class SlicePredictor:
    """Class probabilities of the slices of a volume.

    Args:
        network: 2D classifier, (B, 3, S, S) -> (B, C) logits (or (B, 1) for a binary sigmoid model), in eval mode
            on ``prediction.device``.
        preprocess: MONAI transform taking ``{"image": MetaTensor (1, H, W) float32}`` ((1, W, H) with
            ``slice_layout="WH"``; 2D affine = pixel spacing) and returning ``{"image": (3, S, S)}``.
        class_names: the C class names in output order.
        prediction: batch size, device, activation, temperature, saliency map and Grad-CAM layer, lesion threshold.
        slice_layout: ``"HW"`` (rows first) or ``"WH"`` (columns first), as the training images were loaded.
    """

    def __init__(
        self,
        network: torch.nn.Module,
        preprocess: Callable[[dict], dict],
        class_names: Sequence[str],
        prediction: PredictionOptions | None = None,
        slice_layout: str = "HW",
    ) -> None:
        prediction = prediction or PredictionOptions()
        if prediction.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {prediction.activation!r}")
        if int(prediction.batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {prediction.batch_size!r}")
        if slice_layout not in SLICE_LAYOUTS:
            raise ValueError(f"slice_layout must be one of {SLICE_LAYOUTS}, got {slice_layout!r}")
        self.network, self.preprocess = network, preprocess
        self.class_names = [str(c) for c in class_names]
        self.activation, self.batch_size = prediction.activation, int(prediction.batch_size)
        self.device = torch.device(prediction.device)
        self.slice_layout, self.temperature = slice_layout, float(prediction.temperature)
        self.has_lesion = has_lesion_head(network)
        self.saliency_map = _checked_saliency_map(prediction.saliency_map, self.has_lesion)
        self.saliency_layer = prediction.saliency_layer or (
            LESION_TARGET_LAYER if self.has_lesion else DEFAULT_TARGET_LAYER)
        self.lesion_threshold = float(prediction.lesion_threshold)
        if not 0.0 < self.lesion_threshold <= 1.0:
            raise ValueError(f"lesion_threshold must be in (0, 1], got {prediction.lesion_threshold!r}")

    def batch(self, images: np.ndarray, indices: np.ndarray, spacing: tuple[float, float], sid: str) -> torch.Tensor:
        """The preprocessed network input of slices ``indices`` of ``images`` (N, H, W)."""
        with stage("preprocessing"):
            return self._batch(images, indices, spacing, sid)

    def _batch(self, images: np.ndarray, indices: np.ndarray, spacing: tuple[float, float], sid: str) -> torch.Tensor:
        wh = self.slice_layout == "WH"
        sp = (spacing[1], spacing[0]) if wh else spacing
        affine = torch.diag(torch.tensor([sp[0], sp[1], 1.0], dtype=torch.float64))
        batch = []
        for k in indices:
            img2d = images[k].T if wh else images[k]
            img = MetaTensor(
                torch.from_numpy(np.ascontiguousarray(img2d)[None]),
                affine=affine.clone(),
                meta={"series_id": sid, "slice_index": int(k)},
            )
            out = self.preprocess({"image": img})["image"]
            out = out.as_tensor() if isinstance(out, MetaTensor) else torch.as_tensor(out)
            batch.append(out.float())
        return torch.stack(batch).to(self.device)

    def probabilities(
        self, images: np.ndarray, indices: np.ndarray, spacing: tuple[float, float], sid: str
    ) -> np.ndarray:
        """(N, C) class probabilities of ``images`` (N, H, W); rows not in ``indices`` stay NaN, and so do the rows
        of slices whose network output is not finite (a ``-inf`` logit can still give finite probabilities)."""
        return self.slice_outputs(images, indices, spacing, sid, with_lesion=False)[0]

    def slice_outputs(
        self, images: np.ndarray, indices: np.ndarray, spacing: tuple[float, float], sid: str, with_lesion: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`probabilities` and, ``with_lesion`` (a network with a lesion head), the (N, H, W) lesion
        probabilities of ``images`` at their size (0 for slices not in ``indices`` or without a finite output),
        from the same forward passes."""
        probs = np.full((images.shape[0], len(self.class_names)), np.nan)
        lesion = np.zeros(images.shape, dtype=np.float32) if with_lesion else None
        for start in progress_bar(range(0, len(indices), self.batch_size), f"slices of {sid}"):
            batch_idx = indices[start : start + self.batch_size]
            x = self.batch(images, batch_idx, spacing, sid)
            if not with_lesion:
                probs[batch_idx] = self.predict(x)
                continue
            probs[batch_idx], maps = self.predict_lesion(x)
            with stage("aggregation"):
                lesion[batch_idx] = self._to_slice_size(maps, images.shape[1:])
        return probs, lesion

    def predict(self, x: torch.Tensor) -> np.ndarray:
        """(B, C) class probabilities of the preprocessed batch ``x``; NaN rows where the network output is not
        finite (a ``-inf`` logit can still give finite probabilities)."""
        with stage("forward"), torch.inference_mode():
            logits = self.network(x.to(self.device)).detach().float().cpu()
        return self._probabilities(logits)

    def predict_lesion(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(B, C) class probabilities (as :meth:`predict`) and (B, H, W) lesion probabilities of the preprocessed
        batch ``x`` (at its size; 0 where not finite), from one forward pass of a network with a lesion head."""
        with stage("forward"), torch.inference_mode():
            logits, lesion = self.network.forward_lesion(x.to(self.device))
        maps = torch.nan_to_num(torch.sigmoid(lesion.detach().float()), nan=0.0)[:, 0].cpu().numpy()
        return self._probabilities(logits.detach().float().cpu()), maps

    def _to_slice_size(self, maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Lesion maps at the network input's size -> at the slices' (the preprocessing resizes the whole slice;
        a ``WH`` slice was transposed before it)."""
        t = torch.from_numpy(np.ascontiguousarray(maps))[:, None]
        if self.slice_layout == "WH":
            t = t.transpose(2, 3)
        if tuple(t.shape[2:]) != tuple(size):
            t = F.interpolate(t, size=tuple(size), mode="bilinear", align_corners=False)
        return t[:, 0].numpy()

    def _probabilities(self, logits: torch.Tensor) -> np.ndarray:
        """(B, C) class probabilities of ``logits``; NaN rows where they are not finite."""
        finite = torch.isfinite(logits.reshape(logits.shape[0], -1)).all(dim=1).numpy()
        probs = np.full((logits.shape[0], len(self.class_names)), np.nan)
        probs[finite] = self._activate(logits[torch.from_numpy(finite)]).numpy().astype(np.float64)
        return probs

    def _activate(self, logits: torch.Tensor) -> torch.Tensor:
        if logits.ndim != 2:
            logits = logits.reshape(logits.shape[0], -1)
        if self.activation != "none":
            logits = logits / self.temperature
        if logits.shape[1] == 1 and len(self.class_names) == 2 and self.activation != "none":
            p1 = torch.sigmoid(logits[:, 0])  # a binary model with one output: P(second class)
            return torch.stack([1 - p1, p1], dim=1)
        if logits.shape[1] != len(self.class_names):
            raise ValueError(f"network gives {logits.shape[1]} outputs for {len(self.class_names)} class names")
        if self.activation == "softmax":
            return torch.softmax(logits, dim=1)
        return torch.sigmoid(logits) if self.activation == "sigmoid" else logits

    def saliency(
        self, images: np.ndarray, slices: Sequence[int], spacing: tuple[float, float], sid: str, class_index: int,
        output_dir: Path,
    ) -> dict[int, tuple[dict[str, float], str, np.ndarray]]:
        """The saliency of ``slices`` (the lesion map, or Grad-CAM of class ``class_index``: see
        :meth:`explain`): one overlay PNG each in ``output_dir``; ``{slice: (peak as image fractions,
        "<output_dir name>/<file name>", the (H, W) map in [0, 1] at the size of ``images``)}`` (the map itself,
        not read back from the PNG, for the DICOM secondary captures)."""
        if not len(slices):
            return {}
        names = [f"{sid}_slice{k:04d}.png" for k in slices]
        x = self.batch(images, np.asarray(slices), spacing, sid)
        maps = self.saliency_maps(x, class_index)
        peaks = self.explain(x, class_index, [output_dir / name for name in names], maps)
        at_slice_size = self._to_slice_size(maps, images.shape[1:])
        return {k: (peak, f"{output_dir.name}/{name}", m)
                for k, name, peak, m in zip(slices, names, peaks, at_slice_size)}

    def saliency_maps(self, x: torch.Tensor, class_index: int | None) -> np.ndarray:
        """(B, H, W) saliency of the preprocessed batch ``x`` in [0, 1]: the predicted lesion map
        (``saliency_map`` ``lesion``), or Grad-CAM of ``class_index`` (None: each image's predicted class) at
        ``saliency_layer``."""
        if self.saliency_map == "lesion":
            return lesion_maps(self.network, x.to(self.device))
        return grad_cam(self.network, x.to(self.device), class_index, self.saliency_layer)

    def explain(self, x: torch.Tensor, class_index: int | None, paths: Sequence[Path],
                maps: np.ndarray | None = None) -> list[dict[str, float]]:
        """Saliency overlays (:meth:`saliency_maps`, or the given ``maps`` of ``x``) of the preprocessed batch
        ``x`` at ``paths``, a lesion outlined; their peaks as fractions of height and width."""
        maps = self.saliency_maps(x, class_index) if maps is None else maps
        threshold = self.lesion_threshold if self.saliency_map == "lesion" else None
        return write_saliency_overlays(x, maps, list(paths), threshold)


def slice_evidence(saliency: dict, stack: SliceStack, volume: np.ndarray) -> dict[int, SliceEvidence]:
    """The :class:`~monai_tumorcls.apps.clinical.records.SliceEvidence` of each slice of ``saliency`` (as
    :meth:`SlicePredictor.saliency` gives it for ``stack``, cut from ``volume`` (H, W, N)): the volume's slice and
    the map put back onto the volume's grid (padding cropped, square-pixel resampling undone), and the map as
    computed, on the stack's grid."""
    if not saliency:
        return {}
    slices = sorted(saliency)
    maps = maps_to_volume_grid(np.stack([saliency[k][2] for k in slices]), stack, volume.shape[:2])
    return {k: SliceEvidence(np.ascontiguousarray(volume[:, :, k], dtype=np.float32), np.clip(m, 0.0, 1.0),
                             np.clip(saliency[k][2], 0.0, 1.0).astype(np.float32))
            for k, m in zip(slices, maps)}


def _checked_saliency_map(saliency_map: str, has_lesion: bool) -> str:
    """``lesion`` or ``grad_cam`` (``auto``: the lesion map when the network has a lesion head)."""
    if saliency_map not in SALIENCY_MAPS:
        raise ValueError(f"saliency_map must be one of {SALIENCY_MAPS}, got {saliency_map!r}")
    if saliency_map == "lesion" and not has_lesion:
        raise ValueError("saliency_map 'lesion' needs a network with a lesion head (forward_lesion)")
    if saliency_map == "auto":
        return "lesion" if has_lesion else "grad_cam"
    return saliency_map
