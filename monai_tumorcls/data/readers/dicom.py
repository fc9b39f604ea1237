"""DICOM series reader (pydicom) for MONAI ``LoadImage(d)`` and for the clinical run.

Why not :class:`monai.data.PydicomReader` as is: it orders slices by InstanceNumber only, derives the slice
spacing from the z coordinate, does not invert MONOCHROME1, does not split multi-frame files into positioned
frames and reads every file of a folder as one series. :class:`DicomSeriesReader` keeps MONAI's conventions
(``read`` -> object, ``get_data`` -> ``(array, meta)``, RAS ``affine``/``original_affine``, ``spatial_shape``)
and adds:

* grouping by StudyInstanceUID/SeriesInstanceUID (:func:`~monai_tumorcls.data.readers.dicom_scan.scan_dicom_folder`);
* slice order by ImagePositionPatient projected on the slice normal, fallback InstanceNumber;
* RescaleSlope/Intercept (or a Modality LUT, or per-frame Pixel Value Transformation) applied, float32 out;
* MONOCHROME1 inverted so that high values are bright, keeping the value range;
* multi-frame (enhanced and legacy) files, compressed transfer syntaxes through pydicom's pixel decoders;
* optional reorientation to the canonical display layout of a plane
  (see :mod:`monai_tumorcls.data.readers.nifti`): ``volume[:, :, k]`` is a 2D image (H, W).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from monai.config import PathLike
from monai.data.image_reader import ImageReader
from monai.data.utils import orientation_ras_lps
from monai.utils import MetaKeys, SpaceKeys, ensure_tuple

from ..input_limits import MAX_DICOM_FILE_BYTES, read_capped
from .dicom_scan import is_dicom_file, scan_dicom_files, scan_dicom_folder
from .dicom_series import DicomSeries, order_frames, quiet_pydicom
from .errors import DEFAULT_MAX_VOXELS, DeferredReadError, ImageReadError, check_declared_size, raise_if_deferred
from .nifti import PLANES, reorient_to_plane
from .series_selection import SeriesSelection, select_series

__all__ = ["DicomSeriesReader", "DicomVolume", "load_dicom_series", "dicom_pixels_to_float"]

_STANDARD_AXIAL_IOP = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass
class DicomVolume:
    """Pixels of one series stacked as a volume.

    Attributes:
        array: (X, Y, Z) float32. With a plane, ``array[:, :, k]`` is a display-oriented (H, W) slice; with
            ``plane=None`` the layout is MONAI's PydicomReader one: (columns, rows, slices).
        meta: MONAI-style meta dict (``affine`` RAS, ``original_affine``, ``spatial_shape``, ``space``,
            ``spacing``) plus ``slice_plane``, ``axcodes``, ``acquisition_plane``, ``resliced``,
            ``slice_flipped``, ``obliquity_deg``, ``ordering``, ``orientation_known``, ``uniform_spacing``,
            ``monochrome1``, ``pixel_spacing_known``, ``modality``, ``series_id``, ``n_slices`` and
            ``slice_sources`` (per stored slice, in stacking order: ``file``, ``frame``, ``instance_number``,
            ``file_sha256``, ``position_lps``).
            No identifying tags.
        dropped: ``(file, reason)`` for files left out because their pixels could not be decoded.
    """

    array: np.ndarray
    meta: dict
    dropped: list[tuple[Path, str]] = field(default_factory=list)


def dicom_pixels_to_float(ds, arr: np.ndarray, rescale: tuple[float, float] | None = None) -> np.ndarray:
    """Apply the Modality LUT (RescaleSlope/Intercept or ModalityLUTSequence) and MONOCHROME1 inversion.

    Args:
        ds: the pydicom dataset the pixels come from.
        arr: stored values of one frame (rows, cols), or (rows, cols, 3) colour which becomes luminance.
        rescale: per-frame (slope, intercept) overriding the file-level tags (enhanced multi-frame).

    Returns:
        (rows, cols) float32 where larger is brighter.
    """
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if arr.ndim == 3:  # colour: pydicom already converted YBR to RGB
        arr = arr[..., 0] * 0.299 + arr[..., 1] * 0.587 + arr[..., 2] * 0.114
        return arr.astype(np.float32)
    stored = arr.astype(np.float64)
    if photometric == "MONOCHROME1":
        bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)) or 16)
        lo, hi = (
            (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
            if int(ds.get("PixelRepresentation", 0) or 0)
            else (0, 2**bits - 1)
        )
        stored = (lo + hi) - stored  # mirror within the stored range: high = bright, range kept
    if rescale is not None:
        slope, intercept = rescale
    elif "RescaleSlope" in ds or "RescaleIntercept" in ds:
        slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
        intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    elif "ModalityLUTSequence" in ds:
        from pydicom.pixels import apply_modality_lut

        out = apply_modality_lut(arr, ds).astype(np.float64)
        if photometric == "MONOCHROME1":
            out = out.max() + out.min() - out
        return out.astype(np.float32)
    else:
        slope, intercept = 1.0, 0.0
    return (stored * slope + intercept).astype(np.float32)


def _decode_file(path: Path) -> tuple[object, np.ndarray, str]:
    """Read a whole file: ``(dataset, pixel array with a leading frame axis, sha256 hex)``."""
    raw = read_capped(path, MAX_DICOM_FILE_BYTES, "a DICOM file")  # a regular file, never a FIFO or device
    digest = hashlib.sha256(raw).hexdigest()
    with quiet_pydicom():
        ds = pydicom.dcmread(io.BytesIO(raw), force=True)
        if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
            raise ValueError("no pixel data element")
        if str(ds.get("PhotometricInterpretation", "")).upper() == "PALETTE COLOR":
            raise ValueError("PALETTE COLOR images are not supported")
        arr = np.asarray(ds.pixel_array)
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    if n_frames == 1:
        arr = arr[None]
    expected = 3 + (spp > 1)
    if arr.ndim != expected:
        raise ValueError(f"unexpected pixel array shape {arr.shape}")
    return ds, arr, digest


def _pixel_error(exc: Exception) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    msg = "".join(c if c.isprintable() else "?" for c in msg)  # corrupt values quoted by pydicom: no control bytes
    if isinstance(exc, (OSError, EOFError)) or "truncat" in msg.lower() or "less than" in msg.lower():
        return f"pixel data truncated or unreadable ({type(exc).__name__}: {msg[:160]})"
    if "decod" in msg.lower() or "plugin" in msg.lower() or isinstance(exc, (NotImplementedError, RuntimeError)):
        return f"pixel data could not be decoded ({type(exc).__name__}: {msg[:160]})"
    return f"pixel data could not be read ({type(exc).__name__}: {msg[:160]})"


def _decode_files(order, drop_bad_files: bool) -> tuple[dict, list[tuple[Path, str]]]:
    """Decode each file of the ordered frames once: ``{path: (dataset, pixels, sha256) or None}`` and the dropped."""
    decoded: dict[Path, tuple[object, np.ndarray, str] | None] = {}
    dropped: list[tuple[Path, str]] = []
    with quiet_pydicom():  # once for the series (each file's own block is then cheap)
        for path in dict.fromkeys(f.path for f in order.frames):
            try:
                decoded[path] = _decode_file(path)
            except Exception as e:  # noqa: BLE001 - any decoder/IO failure is a per-file error
                reason = e.reason if isinstance(e, ImageReadError) else _pixel_error(e)
                if not drop_bad_files:
                    raise ImageReadError(path, reason) from e
                dropped.append((path, reason))
                decoded[path] = None
    return decoded, dropped


def _frame_source(fr, digest: str) -> dict:
    return {"file": str(fr.path), "frame": fr.frame, "instance_number": fr.instance_number,
            "file_sha256": digest, "position_lps": fr.position}


def _stack_frames(order, decoded: dict, dropped: list, drop_bad_files: bool) -> tuple[list, list, list]:
    """Float (rows, cols) images of the frames whose file decoded, in order: ``(images, kept frames, sources)``.
    A frame missing from its file's pixel data is appended to ``dropped`` (the series' one list of what was left
    out) with ``drop_bad_files``, else raises."""
    slices, kept, sources = [], [], []
    for fr in order.frames:
        entry = decoded.get(fr.path)
        if entry is None:
            continue
        ds, arr, digest = entry
        idx = fr.frame or 0
        if idx >= arr.shape[0]:
            if not drop_bad_files:
                raise ImageReadError(fr.path, f"frame {idx} missing from pixel data ({arr.shape[0]} frames)")
            dropped.append((fr.path, f"frame {idx} missing from pixel data"))
            continue
        img = dicom_pixels_to_float(ds, arr[idx], fr.rescale)
        if img.shape != (fr.rows, fr.columns):
            raise ImageReadError(
                fr.path, f"pixel array {img.shape} does not match Rows/Columns {(fr.rows, fr.columns)}"
            )
        slices.append(img)
        kept.append(fr)
        sources.append(_frame_source(fr, digest))
    return slices, kept, sources


def _series_affine(kept: list, method: str, spacing_hint: float | None) -> tuple[np.ndarray, bool, bool]:
    """RAS affine of the kept frames from their LPS geometry: ``(affine, orientation_known, uniform_spacing)``."""
    iop = next((f.orientation for f in kept if f.orientation is not None), None)
    orientation_known = iop is not None
    iop = np.asarray(iop if iop is not None else _STANDARD_AXIAL_IOP, dtype=float)
    row_cos, col_cos = iop[:3], iop[3:]
    normal = np.cross(row_cos, col_cos)
    ps = next((f.pixel_spacing for f in kept if f.pixel_spacing is not None), None) or (1.0, 1.0)
    have_pos = method == "position" and all(f.position is not None for f in kept)
    if have_pos and len(kept) > 1:
        step_vec = (np.asarray(kept[-1].position) - np.asarray(kept[0].position)) / (len(kept) - 1)
        gaps = np.diff([np.dot(normal, f.position) for f in kept])
        uniform = bool(np.allclose(gaps, gaps.mean(), rtol=0.1, atol=1e-2))
    else:
        step_vec = normal * (spacing_hint or 1.0)
        uniform = True
    lps = np.eye(4)
    lps[:3, 0] = row_cos * ps[1]  # array axis 0 = column index, moves along the row direction
    lps[:3, 1] = col_cos * ps[0]  # array axis 1 = row index
    lps[:3, 2] = step_vec
    lps[:3, 3] = np.asarray(kept[0].position) if have_pos else np.zeros(3)
    if abs(np.linalg.det(lps[:3, :3])) < 1e-9:  # degenerate step (e.g. single slice without spacing)
        lps[:3, 2] = normal * (spacing_hint or 1.0)
    return orientation_ras_lps(lps), orientation_known, uniform


def _reorient(volume: np.ndarray, affine: np.ndarray, plane: str | None, orientation_known: bool):
    """Reorient to ``plane`` (``acquired`` when the orientation is unknown): ``(volume, affine, meta items)``."""
    target = plane if orientation_known else ("acquired" if plane is not None else None)
    if target is None:
        return volume, affine, {}
    volume, affine, info = reorient_to_plane(volume, affine, target)
    planes = {"slice_plane": info.plane, "axcodes": info.axcodes, "acquisition_plane": info.acquisition_plane}
    if not orientation_known:
        planes = dict.fromkeys(planes, "unknown")
    return volume, affine, {**planes, "resliced": info.resliced, "slice_flipped": info.slice_flipped,
                            "obliquity_deg": info.obliquity_deg}


def load_dicom_series(
    series: DicomSeries, plane: str | None = "axial", drop_bad_files: bool = False,
    max_voxels: int | None = DEFAULT_MAX_VOXELS,
) -> DicomVolume:
    """Decode and stack the frames of ``series`` into a float32 volume with a RAS affine.

    Args:
        series: from :func:`~monai_tumorcls.data.readers.dicom_scan.scan_dicom_folder`.
        plane: ``axial``/``coronal``/``sagittal``/``acquired`` (reorient so ``[:, :, k]`` is a display slice of
            that plane, see :mod:`monai_tumorcls.data.readers.nifti`) or None (MONAI voxel layout
            (columns, rows, slices)). When ImageOrientationPatient is missing the images are kept as stored
            (``slice_plane="unknown"``).
        drop_bad_files: leave out files whose pixels cannot be decoded (reported in ``dropped``) instead of
            raising.
        max_voxels: largest series (rows x columns x frames, from the headers) decoded; ``None``: no limit.

    Raises:
        ImageReadError: no decodable frame, inconsistent geometry, or more than ``max_voxels`` voxels (filename =
            the file or ``series.root``).
    """
    if plane is not None and plane not in PLANES:
        raise ValueError(f"plane must be one of {PLANES} or None, got {plane!r}")
    problem = series.geometry_problem()
    if problem:
        raise ImageReadError(series.root, f"series {series.series_id}: {problem}")
    order = order_frames(series.frames)
    if order.frames:  # from the headers, before any pixel is decoded
        check_declared_size(series.root, (order.frames[0].rows, order.frames[0].columns, len(order.frames)),
                            max_voxels)
    decoded, dropped = _decode_files(order, drop_bad_files)
    slices, kept, sources = _stack_frames(order, decoded, dropped, drop_bad_files)
    if not slices:
        raise ImageReadError(series.root, f"series {series.series_id}: no decodable image")
    first_ds = next(e[0] for e in decoded.values() if e is not None)
    affine, orientation_known, uniform = _series_affine(kept, order.method, series.slice_spacing_hint)
    volume = np.stack(slices, axis=-1).transpose(1, 0, 2)  # (rows, cols, K) -> (cols, rows, K)
    meta: dict = {
        MetaKeys.ORIGINAL_AFFINE: affine.copy(),
        "ordering": order.method,
        "orientation_known": orientation_known,
        "uniform_spacing": uniform,
        "monochrome1": str(first_ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1",
        "pixel_spacing_known": any(f.pixel_spacing is not None for f in kept),  # else 1 mm is assumed
        "modality": series.modality,
        "series_id": series.series_id,
        "slice_sources": sources,
        "transfer_syntaxes": sorted(series.transfer_syntaxes),
    }
    volume, affine, plane_meta = _reorient(volume, affine, plane, orientation_known)
    meta.update(plane_meta)
    volume = np.ascontiguousarray(volume, dtype=np.float32)
    meta[MetaKeys.AFFINE] = affine
    meta[MetaKeys.SPATIAL_SHAPE] = np.asarray(volume.shape)
    meta[MetaKeys.SPACE] = SpaceKeys.RAS
    meta[MetaKeys.ORIGINAL_CHANNEL_DIM] = float("nan")
    meta["spacing"] = np.linalg.norm(affine[:3, :3], axis=0)
    meta["n_slices"] = int(volume.shape[2])
    return DicomVolume(volume, meta, dropped)


class DicomSeriesReader(ImageReader):
    """MONAI image reader for one DICOM series (a folder, or a list of the files of one series).

    ``LoadImaged(keys="image", reader=DicomSeriesReader(plane="axial"))`` on a series folder gives a channel-less
    (H, W, N) volume whose ``[..., k]`` slices are display-oriented axial images (see
    :mod:`monai_tumorcls.data.readers.nifti`); add ``EnsureChannelFirstd`` for (1, H, W, N). Unlike
    :class:`monai.data.PydicomReader`, a *list* of files is one series (not channels).

    Args:
        plane: ``axial`` (default), ``coronal``, ``sagittal``, ``acquired`` or None (MONAI voxel layout).
        selection: optional :class:`~monai_tumorcls.data.readers.SeriesSelection`; when a folder holds
            several image series, exactly one must remain after it.
        force: read files without the DICOM preamble.
    """

    def __init__(self, plane: str | None = "axial", selection: SeriesSelection | None = None, force: bool = False):
        super().__init__()
        if plane is not None and plane not in PLANES:
            raise ValueError(f"plane must be one of {PLANES} or None, got {plane!r}")
        self.plane = plane
        self.selection = selection
        self.force = force

    def verify_suffix(self, filename: Sequence[PathLike] | PathLike) -> bool:
        """True for folders, ``.dcm``/``.dicom``/``.ima`` files and files with the DICOM preamble."""
        return all(Path(f"{name}").is_dir() or is_dicom_file(f"{name}") for name in ensure_tuple(filename))

    def read(self, data: Sequence[PathLike] | PathLike, **kwargs) -> DicomSeries | DeferredReadError:
        """Scan ``data`` (one folder, or files of one series) and return the single image series in it.

        When nothing readable is found, or several series remain, the :class:`ImageReadError` (whose message lists
        opaque series ids) is returned wrapped in a :class:`DeferredReadError` and raised by :meth:`get_data`, so that
        ``LoadImage`` reports it instead of trying other readers.
        """
        try:
            return self._read_series(data)
        except ImageReadError as e:
            return DeferredReadError(e)

    def _read_series(self, data: Sequence[PathLike] | PathLike) -> DicomSeries:
        names = [Path(f"{n}") for n in ensure_tuple(data)]
        if len(names) == 1 and names[0].is_dir():
            scan = scan_dicom_folder(names[0], force=self.force)
        else:
            scan = scan_dicom_files(names, force=self.force)
        candidates = scan.series
        skipped: list[str] = []
        if self.selection is not None:
            candidates, rejected = select_series(candidates, self.selection)
            skipped = [f"{s.series_id}: {r}" for s, r in rejected]
        where = names[0] if len(names) == 1 else scan.root
        if not candidates:
            details = [f"{i.path.name}: {i.reason}" for i in scan.errors[:3]] + skipped[:3]
            raise ImageReadError(where, "no DICOM image series found" + (f" ({'; '.join(details)})" if details else ""))
        if len(candidates) > 1:
            ids = ", ".join(s.series_id for s in candidates)
            raise ImageReadError(
                where, f"{len(candidates)} image series found ({ids}); pass one series' files or a selection"
            )
        return candidates[0]

    def get_data(self, img: DicomSeries) -> tuple[np.ndarray, dict]:
        """Decode the series: ``(array (H, W, N) float32, meta)``; see :class:`DicomVolume`.

        The meta is made collate-friendly for MONAI data loaders: ``slice_sources`` becomes ``slice_files``
        (list of str, stacking order) and ``transfer_syntaxes`` a "; "-joined string.
        """
        raise_if_deferred(img)
        vol = load_dicom_series(img, plane=self.plane)
        meta = dict(vol.meta)
        meta["slice_files"] = [s["file"] for s in meta.pop("slice_sources")]
        meta["transfer_syntaxes"] = "; ".join(meta["transfer_syntaxes"])
        return vol.array, meta
