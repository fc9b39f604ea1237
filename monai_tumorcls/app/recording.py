"""What the page shows of a classified volume, taken from the bundle's own pipeline: :class:`SliceRecorder` wraps
the bundle's slice preprocessing and keeps each slice as it was given to it (the slice of the classified volume
in its own pixel grid: after reading, reorienting and reslicing, before the resize to the network's size) and the
network input as a PNG; :func:`series_slices` adds the saliency maps of the contributing slices as values."""

from __future__ import annotations

import numpy as np
import torch
from monai.data import MetaTensor

from monai_tumorcls.apps.clinical import ClinicalInferer
from monai_tumorcls.apps.clinical.dicom_results import DISPLAY_ORIENTATION
from monai_tumorcls.visualize import grey_png

from .studies import SeriesSlices

__all__ = ["SliceRecorder", "series_slices", "display_edges"]

#: the opposite patient direction of each letter, and the letters the page shows (F, H: feet, head = I, S)
_OPPOSITE = {"L": "R", "R": "L", "A": "P", "P": "A", "F": "H", "H": "F"}
_SHOWN = {"F": "I", "H": "S"}


class SliceRecorder:
    """Wraps the bundle's slice preprocessing; per slice (``(series_id, slice_index)``) it keeps the input it was
    given (``sources``: the source-resolution slice with its meta) and the network input it produced as a PNG
    (``images``). It changes nothing in what it wraps."""

    def __init__(self, transform=None) -> None:
        self.transform = transform
        self.images: dict[tuple[str, int], bytes] = {}
        self.sources: dict[tuple[str, int], MetaTensor] = {}

    def __call__(self, data: dict) -> dict:
        meta = getattr(data["image"], "meta", {})
        key = (str(meta.get("series_id")), int(meta.get("slice_index", -1)))
        source = data["image"]
        self.sources[key] = source.detach().clone() if isinstance(source, MetaTensor) else MetaTensor(source)
        out = self.transform(data)
        self.images[key] = grey_png(torch.as_tensor(out["image"])[0].cpu().numpy())
        return out


def series_slices(recorder: SliceRecorder, series, inferer: ClinicalInferer) -> SeriesSlices:
    """The viewer's arrays of the classified ``series`` (a
    :class:`~monai_tumorcls.apps.clinical.records.SeriesResult`): its recorded slices in display orientation, and
    the saliency map of each contributing slice, the one its overlay shows (the run's own, on the slice's grid)."""
    predictor = inferer.predictor
    wh = predictor.slice_layout == "WH"  # the predictor transposed a "WH" slice before the preprocessing
    recorded = {s.slice_index: recorder.sources.get((series.series_id, s.slice_index)) for s in series.slices}
    recorded = {k: v for k, v in recorded.items() if v is not None}
    images = {k: _display(v[0].as_tensor().float().cpu().numpy(), wh) for k, v in recorded.items()}
    # the maps the run computed for its overlays, on the grid of the recorded slice (not computed again)
    maps = {r.slice_index: np.nan_to_num(r.evidence.slice_saliency).astype(np.float32)
            for r in series.slices if r.evidence is not None and r.slice_index in recorded}
    return SeriesSlices(len(series.slices), images, maps)


def _display(array: np.ndarray, wh: bool) -> np.ndarray:
    return np.ascontiguousarray(array.T if wh else array, dtype=np.float32)


def display_edges(plane: str) -> dict[str, str] | None:
    """The patient direction at each edge of a display-oriented slice of ``plane`` (``top``, ``bottom``, ``left``,
    ``right``: L, R, A, P, S or I), from the rows' and columns' directions the DICOM results record
    (radiological convention: the patient's left on the right of an axial slice); None for an unknown plane."""
    if plane not in DISPLAY_ORIENTATION:
        return None
    along_row, down_column = DISPLAY_ORIENTATION[plane]
    edges = {"right": along_row, "left": _OPPOSITE[along_row], "bottom": down_column, "top": _OPPOSITE[down_column]}
    return {edge: _SHOWN.get(letter, letter) for edge, letter in edges.items()}
