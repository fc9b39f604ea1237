"""NIfTI reading in the slice orientation the 2D classifiers were trained on, plus the orientation helpers
shared with the DICOM reader.

Canonical display orientation
-----------------------------
The Kaggle training JPEGs are shown radiologically. A 3D volume is reoriented (axis permutation and flips
only, no interpolation, exactly what :func:`nibabel.as_closest_canonical` / MONAI ``Orientation`` do) so that
``volume[:, :, k]`` is a 2D image ``(H, W)`` in that display convention:

============  ========  =====================  ======================  ==========================
plane         axcodes   row 0 (top)            column 0 (left)         slice 0
============  ========  =====================  ======================  ==========================
``axial``     ``PLS``   anterior               patient right           most inferior
``coronal``   ``ILA``   superior               patient right           most posterior
``sagittal``  ``IPL``   superior               anterior                most right
============  ========  =====================  ======================  ==========================

The axcodes are nibabel's: each letter is the direction the array index *increases* towards, e.g. ``PLS`` =
axis 0 runs anterior->posterior, axis 1 right->left, axis 2 inferior->superior. A standard axial DICOM image
(ImageOrientationPatient ``[1,0,0, 0,1,0]``) displayed as stored already has this layout. Oblique
acquisitions are mapped to the closest plane; the residual obliquity is reported, not resampled.
"""

from __future__ import annotations

import contextlib
import gzip
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import nibabel as nib
import numpy as np
from monai.config import PathLike
from monai.data.image_reader import NibabelReader
from monai.data.utils import correct_nifti_header_if_necessary
from monai.utils import MetaKeys, SpaceKeys, ensure_tuple
from nibabel import orientations as nio

from ..input_limits import MAX_NIFTI_DATA_BYTES, MAX_NIFTI_FILE_BYTES, open_capped
from .errors import DEFAULT_MAX_VOXELS, DeferredReadError, ImageReadError, check_declared_size, raise_if_deferred

__all__ = [
    "PLANE_AXCODES",
    "PLANES",
    "OrientationInfo",
    "acquisition_plane",
    "obliquity_degrees",
    "reorient_to_plane",
    "restore_stored_orientation",
    "NiftiSliceReader",
    "load_nifti_volume",
]

#: nibabel axcodes whose ``[:, :, k]`` slices have the display orientation of each plane (see module doc).
PLANE_AXCODES: dict[str, str] = {"axial": "PLS", "coronal": "ILA", "sagittal": "IPL"}
#: accepted ``plane`` values: the three planes, or ``"acquired"`` (the plane closest to the stored slices).
PLANES: tuple[str, ...] = ("axial", "coronal", "sagittal", "acquired")
# the world (RAS) axis normal to each plane
_PLANE_WORLD_AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}
_WORLD_AXIS_PLANE = {v: k for k, v in _PLANE_WORLD_AXIS.items()}


@dataclass(frozen=True)
class OrientationInfo:
    """How a volume was reoriented.

    Attributes:
        plane: the plane of the emitted ``[:, :, k]`` slices (``axial``/``coronal``/``sagittal``).
        axcodes: nibabel axcodes of the output array (e.g. ``"PLS"``).
        acquisition_plane: plane closest to the stored slices (third voxel axis of the input).
        source_axcodes: axcodes of the input array.
        resliced: True when the output slice axis is not the stored slice axis (e.g. sagittal -> axial).
        slice_flipped: when not resliced, True if output slice ``k`` is input slice ``n - 1 - k``.
        obliquity_deg: largest angle between a voxel axis and its closest world axis (not corrected).
    """

    plane: str
    axcodes: str
    acquisition_plane: str
    source_axcodes: str
    resliced: bool
    slice_flipped: bool
    obliquity_deg: float

    def source_slice(self, k: int, n: int) -> int | None:
        """Index of the stored slice that output slice ``k`` (of ``n``) comes from; None when resliced."""
        if self.resliced:
            return None
        return n - 1 - k if self.slice_flipped else k


def acquisition_plane(affine: np.ndarray) -> str:
    """Plane (``axial``/``coronal``/``sagittal``) closest to the slices ``[:, :, k]`` of a volume.

    Args:
        affine: (4, 4) voxel-to-world (RAS) matrix.
    """
    ornt = nio.io_orientation(np.asarray(affine, dtype=float))
    return _WORLD_AXIS_PLANE[int(ornt[2, 0])]


def obliquity_degrees(affine: np.ndarray) -> float:
    """Largest angle (degrees) between a voxel axis of ``affine`` and the world axis closest to it."""
    rzs = np.asarray(affine, dtype=float)[:3, :3]
    norms = np.linalg.norm(rzs, axis=0)
    norms[norms == 0] = 1.0
    cosines = np.abs(rzs / norms).max(axis=0)
    return float(np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0))).max())


def reorient_to_plane(
    data: np.ndarray, affine: np.ndarray, plane: str = "axial"
) -> tuple[np.ndarray, np.ndarray, OrientationInfo]:
    """Permute/flip a volume so that ``out[:, :, k]`` is a display-oriented slice of ``plane``.

    Args:
        data: array of shape (X, Y, Z) or (X, Y, Z, ...) (extra trailing axes are carried along).
        affine: (4, 4) voxel-to-world RAS matrix of ``data``.
        plane: ``axial``, ``coronal``, ``sagittal`` or ``acquired`` (the plane closest to ``data[:, :, k]``).

    Returns:
        ``(out, out_affine, info)``: the reoriented array (H, W, N, ...) (a view where possible), its affine and
        an :class:`OrientationInfo`.

    Raises:
        ValueError: unknown plane, fewer than 3 dimensions, or a degenerate affine.
    """
    if plane not in PLANES:
        raise ValueError(f"plane must be one of {PLANES}, got {plane!r}")
    if data.ndim < 3:
        raise ValueError(f"expected a volume with >= 3 dimensions, got shape {data.shape}")
    affine = np.asarray(affine, dtype=float)
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise ValueError("affine is not finite or not invertible")
    src_ornt = nio.io_orientation(affine)
    acq = _WORLD_AXIS_PLANE[int(src_ornt[2, 0])]
    target = acq if plane == "acquired" else plane
    dst_ornt = nio.axcodes2ornt(PLANE_AXCODES[target])
    transform = nio.ornt_transform(src_ornt, dst_ornt)
    out = nio.apply_orientation(data, transform)
    out_affine = affine @ nio.inv_ornt_aff(transform, data.shape[:3])
    resliced = int(transform[2, 0]) != 2
    info = OrientationInfo(
        plane=target,
        axcodes=PLANE_AXCODES[target],
        acquisition_plane=acq,
        source_axcodes="".join(nio.ornt2axcodes(src_ornt)),
        resliced=resliced,
        slice_flipped=bool(not resliced and transform[2, 1] < 0),
        obliquity_deg=round(obliquity_degrees(affine), 3),
    )
    return out, out_affine, info


def restore_stored_orientation(
    data: np.ndarray, plane_affine: np.ndarray, stored_affine: np.ndarray
) -> np.ndarray:
    """The inverse of :func:`reorient_to_plane`: an array laid out like its output (affine ``plane_affine``) back
    in the stored voxel order of the input (affine ``stored_affine``, the reader's ``original_affine``), so that
    a map computed on display-oriented slices lands on the source voxels it was computed from. Axis permutation
    and flips only (the reorientation was one), so values and voxels are exact.

    Args:
        data: (H, W, N) or (H, W, N, ...) laid out as the reoriented volume.
        plane_affine: (4, 4) affine of ``data``.
        stored_affine: (4, 4) affine of the stored volume.
    """
    transform = nio.ornt_transform(nio.io_orientation(np.asarray(plane_affine, dtype=float)),
                                   nio.io_orientation(np.asarray(stored_affine, dtype=float)))
    return np.ascontiguousarray(nio.apply_orientation(data, transform))


def load_nifti_volume(
    filename: PathLike, plane: str | None = "axial", max_voxels: int | None = DEFAULT_MAX_VOXELS
) -> tuple[np.ndarray, dict]:
    """Read one NIfTI file as a float32 volume, optionally reoriented to ``plane``.

    Args:
        filename: ``.nii`` or ``.nii.gz`` file.
        plane: see :func:`reorient_to_plane`; ``None`` keeps the stored voxel order.
        max_voxels: largest volume (voxels declared in the header) accepted; ``None``: no limit.

    Returns:
        ``(array, meta)``: array (X, Y, Z) float32 (scl_slope/inter applied, non-finite values set to 0; a 2D
        image becomes (X, Y, 1); trailing singleton dimensions are dropped) and a MONAI-style meta dict.

    Raises:
        ImageReadError: unreadable file, zero-size volume, more than one volume (4D with T > 1), or more than
            ``max_voxels`` voxels.
    """
    reader = NiftiSliceReader(plane=plane, max_voxels=max_voxels)
    return reader.get_data(reader.read(filename))


def _read_voxels(img, filename, max_voxels: int | None) -> tuple[np.ndarray, int]:
    """The (H, W, N) float32 voxels of a nibabel image, non-finite values set to 0, and how many there were.

    Raises:
        ImageReadError: an empty volume, one above ``max_voxels``, more than 3 non-singleton dimensions, or a data
            block that cannot be read.
    """
    shape = tuple(int(s) for s in img.shape)
    if len(shape) == 0 or 0 in shape:
        raise ImageReadError(filename, f"zero-size volume (shape {shape})")
    check_declared_size(filename, shape, max_voxels)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) > 3:
        raise ImageReadError(filename, f"{len(shape)}D image with shape {shape}: only single 3D volumes are read")
    try:
        data = np.asarray(img.get_fdata(dtype=np.float32)).reshape(shape)
    except Exception as e:  # noqa: BLE001 - truncated/corrupt data block
        raise ImageReadError(filename, f"voxel data could not be read ({type(e).__name__})") from e
    while data.ndim < 3:
        data = data[..., None]
    nonfinite = ~np.isfinite(data)
    n_nonfinite = int(nonfinite.sum())
    if n_nonfinite:
        data = np.where(nonfinite, 0.0, data).astype(np.float32)
    return data, n_nonfinite


def _load_by_content(filename: str, max_voxels: int | None):
    """A nibabel NIfTI-1/-2 image of the regular file ``filename``, read into memory by what its bytes are: gzip or
    plain, whatever the suffix says (nibabel goes by the suffix; browsers that unpack a download keep its ``.gz``
    name). At most :data:`~monai_tumorcls.data.input_limits.MAX_NIFTI_FILE_BYTES` are read from the file and
    :data:`~monai_tumorcls.data.input_limits.MAX_NIFTI_DATA_BYTES` from the uncompressed stream, header first: the
    declared size is checked (``max_voxels``) before any voxel is decompressed, and bytes past the declared data
    (a gzip bomb's tail) are never read."""
    try:
        with open_capped(filename, MAX_NIFTI_FILE_BYTES, "a NIfTI file") as f:  # a regular file, never a FIFO
            gzipped = f.peek(2)[:2] == b"\x1f\x8b"
            with gzip.GzipFile(fileobj=f, mode="rb") if gzipped else contextlib.nullcontext(f) as stream:
                head = stream.read(540)
                klass, size = _declared_layout(filename, head, max_voxels)
                raw = head + stream.read(max(size - len(head), 0))
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise ImageReadError(filename, f"truncated or corrupt gzip data ({e})") from e
    return klass.from_bytes(raw)


def _declared_layout(filename: str, head: bytes, max_voxels: int | None) -> tuple[type, int]:
    """The nibabel image class (NIfTI-1 or -2) of a file starting with ``head``, and the bytes its header declares
    (header, extensions and voxels).

    Raises:
        ImageReadError: the declared volume is over ``max_voxels`` or the bytes over
            :data:`~monai_tumorcls.data.input_limits.MAX_NIFTI_DATA_BYTES`.
    """
    sizeof_hdr = {int.from_bytes(head[:4], "little"), int.from_bytes(head[:4], "big")}  # either byte order
    klass = nib.Nifti2Image if 540 in sizeof_hdr else nib.Nifti1Image
    header_bytes = klass.header_class.template_dtype.itemsize
    header = klass.header_class(head[:header_bytes])
    shape = header.get_data_shape()
    check_declared_size(filename, shape, max_voxels)
    offset = max(int(header.get_data_offset()), header_bytes + 4)  # a single file's data follow its 4 extension bytes
    size = offset + int(np.prod(shape, dtype=np.int64)) * header.get_data_dtype().itemsize
    if size > MAX_NIFTI_DATA_BYTES:
        raise ImageReadError(filename, f"declares {size:,} bytes of header and voxels, over the limit of "
                                       f"{MAX_NIFTI_DATA_BYTES:,} bytes (MAX_NIFTI_DATA_BYTES); not read")
    return klass, size


class NiftiSliceReader(NibabelReader):
    """MONAI :class:`~monai.data.NibabelReader` returning volumes laid out for 2D slicing.

    ``LoadImaged(keys="image", reader=NiftiSliceReader(plane="axial"))`` gives a (H, W, N) volume (channel-less;
    add ``EnsureChannelFirstd`` for (1, H, W, N)) whose ``[..., k]`` slices are in the canonical display
    orientation of the module doc, with the affine updated accordingly (the original is in
    ``original_affine``). Intensities are float32 with the NIfTI scaling applied.

    Extra meta keys: ``slice_plane``, ``axcodes``, ``acquisition_plane``, ``resliced``, ``slice_flipped``,
    ``obliquity_deg``, ``n_slices``, ``nonfinite_voxels``.

    Args:
        plane: ``axial`` (default), ``coronal``, ``sagittal``, ``acquired`` or ``None`` (keep the stored order).
        max_voxels: largest volume (voxels declared in the header) accepted, checked before decoding; ``None``: no
            limit.
        kwargs: passed to :class:`~monai.data.NibabelReader` (e.g. ``channel_dim``).
    """

    def __init__(self, plane: str | None = "axial", max_voxels: int | None = DEFAULT_MAX_VOXELS, **kwargs):
        if plane is not None and plane not in PLANES:
            raise ValueError(f"plane must be one of {PLANES} or None, got {plane!r}")
        self.max_voxels = max_voxels
        kwargs.pop("as_closest_canonical", None)  # the plane layout replaces it
        super().__init__(as_closest_canonical=False, **kwargs)
        self.plane = plane

    def read(self, data: Sequence[PathLike] | PathLike, **kwargs):
        """Load NIfTI image object(s) into memory (regular files only, capped: :func:`_load_by_content`; nibabel's
        loading options such as ``mmap`` do not apply); errors become :class:`ImageReadError` naming the file."""
        filenames = ensure_tuple(data)
        self.filenames = filenames
        imgs = []
        for name in filenames:
            try:
                img = _load_by_content(str(name), self.max_voxels)
                img = correct_nifti_header_if_necessary(img)
            except ImageReadError as e:
                return DeferredReadError(e)
            except Exception as e:  # noqa: BLE001 - nibabel raises many types for bad files
                error = ImageReadError(name, f"not a readable NIfTI file ({type(e).__name__})")
                error.__cause__ = e
                return DeferredReadError(error)  # raised by get_data, so that LoadImage reports it
            imgs.append(img)
        return imgs if len(filenames) > 1 else imgs[0]

    def get_data(self, img) -> tuple[np.ndarray, dict]:
        """Return ``(array, meta)``; a list of images is stacked on a new first (channel) axis.

        Returns:
            array (H, W, N) float32 per image ((C, H, W, N) for C files), and the meta dict of the first image.
        """
        raise_if_deferred(img)
        arrays, metas = [], []
        for im, filename in zip(ensure_tuple(img), self.filenames):
            arr, meta = self._get_one(im, filename)
            if metas and (arr.shape != arrays[0].shape or not np.allclose(meta["affine"], metas[0]["affine"])):
                raise ImageReadError(filename, "shape/affine differ from the first file; cannot stack as channels")
            arrays.append(arr)
            metas.append(meta)
        if len(arrays) == 1:
            return arrays[0], metas[0]
        meta = metas[0]
        meta[MetaKeys.ORIGINAL_CHANNEL_DIM] = 0
        return np.stack(arrays, axis=0), meta

    def _get_one(self, img, filename) -> tuple[np.ndarray, dict]:
        data, n_nonfinite = _read_voxels(img, filename, self.max_voxels)
        header = self._get_meta_dict(img)
        meta: dict = {k: header[k] for k in ("pixdim", "dim", "qform_code", "sform_code") if k in header}
        affine = np.array(img.affine, dtype=np.float64, copy=True)
        meta[MetaKeys.ORIGINAL_AFFINE] = affine.copy()
        meta["orientation_known"] = bool(int(header.get("qform_code", 0)) or int(header.get("sform_code", 0)))
        meta["nonfinite_voxels"] = n_nonfinite
        if self.plane is not None:
            try:
                data, affine, info = reorient_to_plane(data, affine, self.plane)
            except ValueError as e:
                raise ImageReadError(filename, f"cannot orient volume: {e}") from e
            meta.update(
                slice_plane=info.plane,
                axcodes=info.axcodes,
                acquisition_plane=info.acquisition_plane,
                resliced=info.resliced,
                slice_flipped=info.slice_flipped,
                obliquity_deg=info.obliquity_deg,
            )
        else:
            meta.update(slice_plane=acquisition_plane(affine), axcodes="".join(nib.aff2axcodes(affine)))
        data = np.ascontiguousarray(data, dtype=np.float32)
        meta[MetaKeys.AFFINE] = affine
        meta[MetaKeys.SPATIAL_SHAPE] = np.asarray(data.shape[:3])
        meta[MetaKeys.SPACE] = SpaceKeys.RAS
        meta["n_slices"] = int(data.shape[2])
        meta[MetaKeys.ORIGINAL_CHANNEL_DIM] = float("nan")
        return data, meta
