"""Grad-CAM overlays of every classified image of an evaluator run, and the saliency peak beside its prediction."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from ignite.engine import Engine, Events

from ..data.item_keys import ItemKeys
from ..utils.deprecation import moved_keywords
from ..visualize.saliency import DEFAULT_TARGET_LAYER, write_grad_cam_overlays
from ..utils.model_outputs import finite_values
from .collector import RawOutputs, item_filename, merged_items

__all__ = ["SaliencyWriter", "overlay_name"]

_OLD_KEYWORDS = ItemKeys.old_keywords("image", "error", "skipped", "pred")


class SaliencyWriter:
    """Explains each prediction with Grad-CAM (``monai.visualize``) of the predicted class on ``target_layer``.

    Per classified item it writes ``<output_dir>/<folder>/<file stem>_<hash>.png`` (the network input's first
    channel with the map on top; the cross marks the peak) and adds to the engine's output item
    ``saliency_peak`` = ``{"row": r, "col": c}`` as fractions of the input's height and width (so they map onto the
    original image whatever the resize) and ``saliency_file`` (relative to ``output_dir``), which
    :class:`~monai_tumorcls.handlers.PredictionWriter` puts into the JSON. Items without a prediction get no overlay:
    those that failed to load, those skipped (an output of this package) and those whose network output is not finite
    (a broken model explains nothing).
    Attach it before the prediction writer (both run on ``ITERATION_COMPLETED``, in attachment order).

    Args:
        network: the evaluated classifier (any head: the map is taken on the trunk).
        output_dir: the run's output folder.
        target_layer: dotted module name (default: the trunk's last stage).
        folder: sub-folder of the PNGs.
        keys: the item keys (:class:`~monai_tumorcls.data.ItemKeys`) read: ``image`` (the network input), ``error``
            (a load error), ``skipped`` (why a file is not classified) and ``pred`` (the class probabilities).
        old_keywords: ``image_key``, ``error_key``, ``skipped_key``, ``pred_key``: deprecated spellings of ``keys``
            (a ``FutureWarning``; they go in the next release).
    """

    def __init__(self, network: torch.nn.Module, output_dir: str | Path, target_layer: str = DEFAULT_TARGET_LAYER,
                 folder: str = "saliency", keys: ItemKeys | None = None, **old_keywords: str) -> None:
        keys = moved_keywords("SaliencyWriter", keys, ItemKeys, old_keywords, _OLD_KEYWORDS, accepted=_OLD_KEYWORDS)
        self.network, self.output_dir, self.target_layer = network, Path(output_dir), target_layer
        self.folder, self.keys = folder, keys
        self.raw_outputs = RawOutputs(keys.pred)

    def _explained(self, item: dict, raw: torch.Tensor | None) -> bool:
        """Whether ``item`` (with its network output before postprocessing, ``raw``) has a prediction to explain."""
        if item.get(self.keys.error) or item.get(self.keys.skipped):
            return False
        return all(finite_values(v) is not None for v in (item.get(self.keys.pred), raw) if v is not None)

    def attach(self, engine: Engine) -> None:
        self.raw_outputs.attach(engine)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.iteration_completed)

    def iteration_completed(self, engine: Engine) -> None:
        outputs = engine.state.output if isinstance(engine.state.output, list) else [engine.state.output]
        items = merged_items(engine.state.batch, outputs)
        raw = self.raw_outputs.take(len(items)) or [None] * len(items)
        keep = [i for i, (it, r) in enumerate(zip(items, raw)) if self._explained(it, r)]
        if not keep:
            return
        device = next(self.network.parameters()).device
        images = torch.stack([torch.as_tensor(items[i][self.keys.image]) for i in keep]).to(device)
        sources = [item_filename(items[i]) or f"item{engine.state.iteration}_{i}" for i in keep]
        names = [overlay_name(source) for source in sources]
        paths = [self.output_dir / self.folder / name for name in names]
        peaks = write_grad_cam_overlays(self.network, images, None, paths, self.target_layer)
        for i, name, peak in zip(keep, names, peaks):
            outputs[i]["saliency_peak"] = peak
            outputs[i]["saliency_file"] = f"{self.folder}/{name}"


def overlay_name(source: str) -> str:
    """The overlay PNG name of an image file: its stem and a hash of its path (two files may share a stem)."""
    return f"{Path(source).stem}_{hashlib.sha1(source.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}.png"
