"""Synthetic DICOM series and NIfTI volumes built in code, shared by the reader and inference tests.

All of them sample one phantom defined on a 32^3 grid of 1.25 mm voxels in LPS index space
(``ix`` -> patient left, ``iy`` -> posterior, ``iz`` -> superior), so every acquisition (axial, sagittal,
coronal, flipped, NIfTI RAS/LPS/permuted) must give the same display-oriented axial volume
:func:`expected_axial`: ``expected[r, c, k] = phantom(ix=c, iy=r, iz=k)`` (rows anterior->posterior,
columns right->left, slices inferior->superior).

The phantom has a bright marker in the right-anterior-superior corner, so in a superior axial slice it sits at
the top-left of the image.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

N = 32
SPACING = 1.25
ORIGIN_MM = -19.375  # world (LPS, mm) of grid index 0
MARKER = 3000
PATIENT_NAME = "Doe^Jane^Secretname"
PATIENT_ID = "PID-SECRET-4711"
SERIES_DESCRIPTION = "T1 AX SECRETDESC"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
GRAYSCALE_PS = "1.2.840.10008.5.1.4.1.1.11.1"

# acquisition planes as (row direction, column direction) in LPS index space, and the start corner
ACQUISITIONS = {
    # standard axial: columns go right->left (+x), rows anterior->posterior (+y), slices along +z
    "axial": ((1, 0, 0), (0, 1, 0)),
    # axial stored flipped: columns go left->right, rows posterior->anterior
    "axial_flipped": ((-1, 0, 0), (0, -1, 0)),
    # sagittal: columns anterior->posterior, rows superior->inferior; normal = -x
    "sagittal": ((0, 1, 0), (0, 0, -1)),
    # coronal: columns right->left, rows superior->inferior; normal = +y
    "coronal": ((1, 0, 0), (0, 0, -1)),
}


def phantom(marker: bool = True) -> np.ndarray:
    """(32, 32, 32) integer phantom indexed [ix, iy, iz] (LPS index space); ``marker=False`` drops the marker."""
    ix, iy, iz = np.meshgrid(np.arange(N), np.arange(N), np.arange(N), indexing="ij")
    inside = (np.minimum.reduce([ix, iy, iz]) >= 4) & (np.maximum.reduce([ix, iy, iz]) <= 27)
    val = np.where(inside, 100 + 20 * iz + ix, 0)
    if not marker:
        return val.astype(np.int32)
    box = (ix <= 8) & (iy <= 8) & (iz >= 23)
    return np.where(box, MARKER, val).astype(np.int32)


def expected_axial() -> np.ndarray:
    """(H=32, W=32, N=32) display-oriented axial volume of the phantom: [r, c, k] = phantom[c, r, k]."""
    return phantom().transpose(1, 0, 2).astype(np.float32)


def _start_index(row_dir, col_dir) -> np.ndarray:
    """Grid index of pixel (0, 0) of the first slice so that the slice covers the whole grid."""
    start = np.zeros(3, dtype=int)
    for d in (row_dir, col_dir):
        for a, v in enumerate(d):
            if v < 0:
                start[a] = N - 1
    return start


def slice_geometry(acq: str, k: int, marker: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pixels (rows, cols) of the phantom, IPP mm, row_dir, col_dir) of slice ``k`` of acquisition ``acq``."""
    row_dir, col_dir = (np.asarray(v) for v in ACQUISITIONS[acq])
    normal = np.cross(row_dir, col_dir)
    start = _start_index(row_dir, col_dir)
    axis = int(np.flatnonzero(normal)[0])
    start[axis] = k if normal[axis] > 0 else N - 1 - k
    r, c = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    idx = start[None, None, :] + c[..., None] * row_dir + r[..., None] * col_dir
    pix = phantom(marker)[idx[..., 0], idx[..., 1], idx[..., 2]]
    ipp = ORIGIN_MM + SPACING * start.astype(float)
    return pix, ipp, row_dir.astype(float), col_dir.astype(float)


def base_dataset(
    sop_class: str = MR_IMAGE_STORAGE,
    modality: str = "MR",
    study_uid: str | None = None,
    series_uid: str | None = None,
    transfer_syntax=ExplicitVRLittleEndian,
) -> Dataset:
    """A dataset with file meta, patient/study/series identity (with identifying values) and no pixels."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    sop_uid = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"  # type 2 tags that highdicom copies into the SR and SEG
    ds.AccessionNumber, ds.StudyID, ds.StudyTime = "", "", "120000"
    ds.ReferringPhysicianName = ""
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.StudyDate = "20240102"
    ds.Modality = modality
    ds.SeriesDescription = SERIES_DESCRIPTION
    return ds


def _set_pixels(ds: Dataset, pix: np.ndarray, bits_stored: int = 16, signed: bool = False) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = ds.get("PhotometricInterpretation", "MONOCHROME2")
    ds.Rows, ds.Columns = int(pix.shape[-2]), int(pix.shape[-1])
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = int(signed)
    ds.PixelData = pix.astype(np.int16 if signed else np.uint16).tobytes()


@dataclass
class SeriesTags:
    """Which study and series the files of :func:`write_series` belong to, and what kind of image they hold
    (a UID left None is generated, one for the whole series)."""

    study_uid: str | None = None
    series_uid: str | None = None
    modality: str = "MR"
    sop_class: str = MR_IMAGE_STORAGE
    description: str = SERIES_DESCRIPTION


@dataclass
class StoredPixels:
    """How :func:`write_series` stores the phantom's values: each option is one a reader must undo or cope with.

    Attributes:
        slope, intercept: store ``(value - intercept) / slope`` with RescaleSlope/Intercept.
        monochrome1: store ``4095 - value`` as MONOCHROME1.
        compress: a transfer syntax UID to compress with (RLE Lossless, JPEG 2000 Lossless).
        omit: tag keywords deleted from every file (e.g. "ImagePositionPatient").
    """

    slope: float | None = None
    intercept: float | None = None
    monochrome1: bool = False
    compress: str | None = None
    omit: tuple[str, ...] = ()


def write_series(
    folder: Path,
    acq: str = "axial",
    n_slices: int = N,
    tags: SeriesTags | None = None,
    stored: StoredPixels | None = None,
    shuffle: bool = False,
    file_prefix: str = "IM",
    marker: bool = True,
) -> list[Path]:
    """Write a single-frame series of the phantom; returns the files (in slice order).

    Args:
        folder: created if needed.
        acq: key of :data:`ACQUISITIONS`.
        n_slices: write only the first ``n_slices`` slices.
        tags: study, series and kind of image (an MR series of a new study by default).
        stored: how the values are stored (plain 16-bit MONOCHROME2, uncompressed, all tags by default).
        shuffle: shuffle InstanceNumber and file names relative to the slice position.
        file_prefix: file names are ``<file_prefix><InstanceNumber:04d>.dcm``.
        marker: ``False`` writes the phantom without its bright marker.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tags = tags or SeriesTags()
    study_uid = tags.study_uid or generate_uid()  # one study and one series for all the files
    tags = replace(tags, study_uid=study_uid, series_uid=tags.series_uid or generate_uid())
    rng = np.random.default_rng(0)
    numbers = rng.permutation(n_slices) + 1 if shuffle else np.arange(n_slices) + 1
    paths = []
    for k in range(n_slices):
        pix, ds = _slice_dataset(acq, k, tags, marker)
        ds.InstanceNumber = int(numbers[k])
        _store_pixels(ds, pix, stored or StoredPixels())
        path = folder / f"{file_prefix}{int(numbers[k]):04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _slice_dataset(acq: str, k: int, tags: SeriesTags, marker: bool) -> tuple[np.ndarray, Dataset]:
    """The phantom's pixels of slice ``k`` of ``acq``, and a dataset with the slice's identity and geometry."""
    pix, ipp, row_dir, col_dir = slice_geometry(acq, k, marker)
    ds = base_dataset(tags.sop_class, tags.modality, tags.study_uid, tags.series_uid)
    ds.SeriesDescription = tags.description
    ds.ImagePositionPatient = [float(v) for v in ipp]
    ds.ImageOrientationPatient = [float(v) for v in (*row_dir, *col_dir)]
    ds.FrameOfReferenceUID = generate_uid(entropy_srcs=[str(tags.series_uid)])  # one per series, as scanners do
    ds.PixelSpacing = [SPACING, SPACING]
    ds.SliceThickness = SPACING
    ds.SpacingBetweenSlices = SPACING
    return pix, ds


def _store_pixels(ds: Dataset, pix: np.ndarray, stored: StoredPixels) -> None:
    """Put ``pix`` into ``ds`` the way ``stored`` says (the rescale and MONOCHROME1 are exact on the phantom)."""
    values = pix.astype(np.float64)
    if stored.slope is not None or stored.intercept is not None:
        s, b = stored.slope or 1.0, stored.intercept or 0.0
        values = (values - b) / s
        ds.RescaleSlope, ds.RescaleIntercept = s, b
    if stored.monochrome1:
        values = 4095 - values
        ds.PhotometricInterpretation = "MONOCHROME1"
    assert np.allclose(values, np.round(values)) and values.min() >= 0
    _set_pixels(ds, np.round(values).astype(np.int64), bits_stored=12 if stored.monochrome1 else 16)
    for kw in stored.omit:
        if kw in ds:
            delattr(ds, kw)
    if stored.compress is not None:
        ds.compress(stored.compress)


def write_enhanced_multiframe(
    path: Path, acq: str = "axial", shuffle: bool = True, slope: float = 0.5, intercept: float = -100.0
) -> Path:
    """One Enhanced MR file holding all slices as frames (shuffled frame order, per-frame positions and a
    Pixel Value Transformation in the shared functional groups)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    order = np.random.default_rng(1).permutation(N) if shuffle else np.arange(N)
    ds = base_dataset(ENHANCED_MR_IMAGE_STORAGE, "MR")
    frames, per_frame = [], []
    row_dir = col_dir = None
    for k in order:
        pix, ipp, row_dir, col_dir = slice_geometry(acq, int(k))
        frames.append(np.round((pix - intercept) / slope).astype(np.uint16))
        fg = Dataset()
        pos = Dataset()
        pos.ImagePositionPatient = [float(v) for v in ipp]
        fg.PlanePositionSequence = DicomSequence([pos])
        content = Dataset()
        content.InStackPositionNumber = int(k) + 1
        fg.FrameContentSequence = DicomSequence([content])
        per_frame.append(fg)
    shared = Dataset()
    ori = Dataset()
    ori.ImageOrientationPatient = [float(v) for v in (*row_dir, *col_dir)]
    shared.PlaneOrientationSequence = DicomSequence([ori])
    meas = Dataset()
    meas.PixelSpacing = [SPACING, SPACING]
    meas.SliceThickness = SPACING
    shared.PixelMeasuresSequence = DicomSequence([meas])
    pvt = Dataset()
    pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = slope, intercept, "US"
    shared.PixelValueTransformationSequence = DicomSequence([pvt])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    ds.NumberOfFrames = N
    ds.InstanceNumber = 1
    _set_pixels(ds, np.stack(frames))
    ds.save_as(path, enforce_file_format=True)
    return path


def _write_without_pixels(path: Path, sop_class: str, modality: str, study_uid: str | None, **keywords) -> Path:
    """A file of ``sop_class`` with the identity of :func:`base_dataset`, the given tag ``keywords`` and no pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = base_dataset(sop_class, modality, study_uid)
    for keyword, value in keywords.items():
        setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_sr(path: Path, study_uid: str | None = None) -> Path:
    """A Basic Text SR (no pixels)."""
    return _write_without_pixels(path, BASIC_TEXT_SR, "SR", study_uid, ValueType="CONTAINER")


def write_presentation_state(path: Path, study_uid: str | None = None) -> Path:
    """A Grayscale Softcopy Presentation State (no pixels)."""
    return _write_without_pixels(path, GRAYSCALE_PS, "PR", study_uid, ContentLabel="PS")


def truncate(path: Path, keep_fraction: float = 0.5) -> Path:
    """Cut ``path`` to the first ``keep_fraction`` of its bytes."""
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep_fraction)])
    return path


# ------------------------------------------------------------------------------------------------- NIfTI
def nifti_image(layout: str):
    """Nifti1Image of the phantom with a known orientation.

    Args:
        layout: ``"RAS"`` (array axes = R, A, S), ``"LPS"`` (array axes = L, P, S) or ``"permuted"``
            (array axes = S, L, A: a permuted-axes affine with one flip).
    """
    import nibabel as nib

    ph = phantom().astype(np.int16)  # [ix (->L), iy (->P), iz (->S)]
    # world RAS of LPS grid index g: x_ras = -(ORIGIN + SP*gx), y_ras = -(ORIGIN + SP*gy), z = ORIGIN + SP*gz
    if layout == "LPS":
        data = ph
        affine = np.array(
            [[-SPACING, 0, 0, -ORIGIN_MM], [0, -SPACING, 0, -ORIGIN_MM], [0, 0, SPACING, ORIGIN_MM], [0, 0, 0, 1]]
        )
    elif layout == "RAS":
        data = ph[::-1, ::-1, :]  # index i -> gx = N-1-i
        affine = np.array(
            [[SPACING, 0, 0, ORIGIN_MM], [0, SPACING, 0, ORIGIN_MM], [0, 0, SPACING, ORIGIN_MM], [0, 0, 0, 1]]
        )
    elif layout == "permuted":
        # array axes (S, L, A): data[i, j, k] = ph[gx=j, gy=N-1-k, gz=i]
        data = ph.transpose(2, 0, 1)[:, :, ::-1]
        affine = np.zeros((4, 4))
        affine[2, 0] = SPACING  # i -> superior
        affine[0, 1] = -SPACING  # j -> left (RAS x decreases)
        affine[1, 2] = SPACING  # k -> anterior
        affine[:3, 3] = [-ORIGIN_MM, ORIGIN_MM, ORIGIN_MM]
        affine[3, 3] = 1
    else:
        raise ValueError(layout)
    img = nib.Nifti1Image(np.ascontiguousarray(data), affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    return img


def write_nifti(path: Path, layout: str = "RAS", data: np.ndarray | None = None) -> Path:
    """Save :func:`nifti_image` (or ``data`` with the RAS affine) to ``path``."""
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    img = nifti_image(layout)
    if data is not None:
        img = nib.Nifti1Image(data, img.affine)
    nib.save(img, str(path))
    return path


def read_all_text(folder: Path) -> str:
    """Concatenated text of every file under ``folder`` (for privacy assertions)."""
    return "\n".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*")) if p.is_file())


def identifying_strings(files: list[Path]) -> list[str]:
    """Identifying values written into the synthetic files (names, ids, UIDs, description)."""
    out = {PATIENT_NAME, "Secretname", PATIENT_ID, "SECRETDESC", "19700101"}
    for f in files:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True, force=True)
        except Exception:  # noqa: BLE001
            continue
        for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            if kw in ds:
                out.add(str(ds.get(kw)))
    return sorted(out)


def sagittal_nifti_image():
    """Nifti1Image of the phantom stored as sagittal slices (array axes P, S, L: the third axis runs right->left),
    so an axial run reslices it."""
    import nibabel as nib

    data = phantom().astype(np.int16).transpose(1, 2, 0)  # [iy (->P), iz (->S), ix (->L)]
    affine = np.zeros((4, 4))
    affine[1, 0] = -SPACING  # i -> posterior (RAS y decreases)
    affine[2, 1] = SPACING  # j -> superior
    affine[0, 2] = -SPACING  # k -> left (RAS x decreases)
    affine[:3, 3] = [-ORIGIN_MM, -ORIGIN_MM, ORIGIN_MM]
    affine[3, 3] = 1
    img = nib.Nifti1Image(np.ascontiguousarray(data), affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    return img
