"""The predicted lesion in a run's DICOM results (a network with a lesion head): a DICOM SEG of the lesion map on
the source series' frames (FRACTIONAL, the lesion probability, referencing the source images), and the lesion's
measurements in the SR (:func:`lesion_sr_items`).

The SEG is made from the run's lesion NIfTI (:mod:`~monai_tumorcls.apps.clinical.lesion_maps`), which lies on the
stored grid of the series: (columns, rows, frames in slice order), so frame ``k`` is the ``k``-th source frame
(``SeriesLesion.stored_frames``), whatever plane the series was classified in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom

from .lesion import SeriesLesion
from .lesion_maps import read_lesion_nifti

__all__ = ["lesion_seg", "lesion_sr_items"]

SEG_SERIES_NUMBER = 9003


def _source_images(lesion: SeriesLesion, files_by_id: dict[str, Path]) -> list[pydicom.Dataset]:
    """The source datasets of the map's frames, in frame order: one single-frame image per frame, or the one
    multi-frame image they all come from (a SEG references either).

    Raises:
        ValueError: a frame's file is not in the series any more, or the frames span several multi-frame files.
    """
    files = [files_by_id.get(file_id) for file_id, _ in lesion.stored_frames]
    if any(f is None for f in files):
        raise ValueError("a source file of the lesion map is missing")
    unique = list(dict.fromkeys(files))
    if len(unique) not in (1, len(files)):
        raise ValueError("frames from several multi-frame files")
    return [pydicom.dcmread(f) for f in unique]


def lesion_seg(lesion: SeriesLesion, output_dir: Path, files_by_id: dict[str, Path], manufacturer: str,
               software_version: str):
    """The DICOM SEG (highdicom ``Segmentation``, FRACTIONAL probability, one segment "lesion") of the lesion map
    ``<output_dir>/<lesion.map_file>`` on the source images (``files_by_id``: the series' files by ``file_id``)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    stored, _ = read_lesion_nifti(output_dir / lesion.map_file)
    frames = np.clip(np.moveaxis(stored, 2, 0).transpose(0, 2, 1), 0.0, 1.0)  # (frames, rows, columns)
    sources = _source_images(lesion, files_by_id)
    segment = hd.seg.SegmentDescription(
        segment_number=1, segment_label="lesion (predicted)",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            name=manufacturer, version=software_version, family=codes.cid7162.ArtificialIntelligence),
    )
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=frames.astype(np.float32),
        segmentation_type=hd.seg.SegmentationTypeValues.FRACTIONAL, segment_descriptions=[segment],
        series_instance_uid=hd.UID(), series_number=SEG_SERIES_NUMBER, sop_instance_uid=hd.UID(), instance_number=1,
        manufacturer=manufacturer, manufacturer_model_name=manufacturer, software_versions=software_version,
        device_serial_number="none", omit_empty_frames=False,
    )
    seg.SeriesDescription = "predicted lesion probability (research use only)"
    return seg


def lesion_sr_items(series, concept) -> list:
    """The SR measurements (TID 300, highdicom ``Measurement``) of the lesion of ``series`` (a
    :class:`~monai_tumorcls.apps.clinical.SeriesResult`): volume (ml, when the spacing is known), voxels, first and
    last slice with lesion, the peak (slice, probability) and the lesion's area on the peak slice (px, and mm² when
    known); ``concept(value, meaning[, scheme])`` makes a coded concept."""
    from highdicom.sr import Measurement

    def number(code: str, meaning: str, value, unit: tuple[str, str]):
        return Measurement(name=concept(code, meaning), value=float(value), unit=concept(*unit, "UCUM"))

    lesion, none = series.lesion, ("1", "no units")
    items = [number("lesion-voxels", "Predicted lesion voxels", lesion.n_voxels, ("{voxels}", "voxels"))]
    if lesion.volume_ml is not None:
        items.append(number("lesion-volume", "Predicted lesion volume", lesion.volume_ml, ("ml", "milliliter")))
    if lesion.slice_range is not None:
        items += [number("lesion-first-slice", "First slice with lesion", lesion.slice_range[0], none),
                  number("lesion-last-slice", "Last slice with lesion", lesion.slice_range[1], none)]
    if lesion.peak is not None:
        peak = series.slices[lesion.peak["slice_index"]]
        items += [number("lesion-peak-slice", "Slice of the lesion peak", lesion.peak["slice_index"], none),
                  number("lesion-peak", "Peak lesion probability", lesion.peak["probability"], none),
                  number("lesion-area-px", "Lesion pixels on the peak slice", peak.lesion_area_px, ("{px}", "pixels"))]
        if peak.lesion_area_mm2 is not None:
            items.append(number("lesion-area", "Lesion area on the peak slice", peak.lesion_area_mm2,
                                ("mm2", "square millimeter")))
    return items
