"""DICOM results of a clinical run, for PACS: per classified DICOM series, a Comprehensive SR with the series
decision, the class probabilities and references to the contributing slices, and a Secondary Capture series of the
saliency overlays of those slices (Grad-CAM, or the predicted lesion map outlined); for a network with a lesion head
also the lesion's measurements in the SR and a DICOM SEG of the lesion map (:mod:`.dicom_lesion`) (highdicom, the
``dicom`` extra).

Both name what produced them (the run's provenance record: package version, bundle, checkpoint SHA-256, time; in
the SR as content items, in every file as SoftwareVersions), carry the source study's patient and study
identification (copied from the source images, as DICOM requires for a PACS to file them with the study) and
reference the source series' instances. Those tag values exist only
inside the DICOM files written here: log records name series by their opaque ``series_id`` and give counts only.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pydicom

from ...data.datalist import file_sha256
from ...data.readers import DicomSeries, scan_dicom_folder
from ... import __version__
from ...data.own_outputs import DICOM_MANUFACTURER
from ...utils.atomic import is_out_of_space
from ...utils.flags import as_flag
from .dicom_lesion import lesion_seg, lesion_sr_items
from .records import ClinicalRunResult, SeriesResult

__all__ = ["DICOM_RESULTS_FOLDER", "DISPLAY_ORIENTATION", "write_series_dicom_results", "write_run_dicom_results", "with_dicom_results"]

logger = logging.getLogger(__name__)

DICOM_RESULTS_FOLDER = "dicom_results"
MANUFACTURER = DICOM_MANUFACTURER  # also how a later scan recognises these files as outputs, never inputs
#: patient directions of the rows and columns of a display-oriented slice (radiological convention)
DISPLAY_ORIENTATION = {"axial": ("L", "P"), "coronal": ("L", "F"), "sagittal": ("P", "F")}
_SCHEME = "99TUMORCLS"  # local coding scheme for the model's own classes (no standard code says "glioma class 2")
#: SeriesDescription and ImageComments of the secondary captures, by what the overlays show
_SC_TEXT = {
    "grad_cam": ("Grad-CAM overlays (research use only)", "Grad-CAM of the tumour class"),
    "lesion": ("Predicted lesion overlays (research use only)", "predicted lesion probability, lesion outlined"),
}


def _concept(value: str, meaning: str, scheme: str = _SCHEME):
    from highdicom.sr import CodedConcept

    return CodedConcept(value=value, scheme_designator=scheme, meaning=meaning)


def _files_by_id(dicom: DicomSeries) -> dict[str, Path]:
    """The series' files by the ``file_id`` the run recorded for them (``f-`` + SHA-256 of the bytes)."""
    return {"f-" + file_sha256(p)[:16]: p for p in dicom.files}


def _has_lesion_map(series: SeriesResult, run_dir: str | os.PathLike | None) -> bool:
    return run_dir is not None and series.lesion is not None and bool(series.lesion.map_file)


def _slice_sources(series: SeriesResult, dicom: DicomSeries,
                   by_id: dict[str, Path]) -> dict[int, list[tuple[Path, int | None]]]:
    """Contributing slice -> the (file, frame) it was cut from; all files of the series for a resliced volume
    (each resliced slice is made from all of them)."""
    if series.resliced:
        return {k: [(p, None) for p in dicom.files] for k in series.decision.contributing_slices}
    slices = {s.slice_index: s for s in series.slices}
    return {k: [(by_id[slices[k].source_file_id], slices[k].source_frame)]
            for k in series.decision.contributing_slices if slices[k].source_file_id in by_id}


def _provenance_items(provenance: Mapping) -> list:
    """The SR content items naming what produced it: the algorithm's version (DCM 111003), the bundle, the
    checkpoint's SHA-256 and the time of the run (local codes: DICOM has none for them). Unknown values are left out."""
    from highdicom.sr import TextContentItem

    bundle = provenance.get("bundle") or {}
    named = [
        (_concept("111003", "Algorithm Version", "DCM"), provenance.get("package_version")),
        (_concept("bundle-name", "Bundle name"), bundle.get("name")),
        (_concept("bundle-version", "Bundle version"), bundle.get("version")),
        (_concept("checkpoint-sha256", "Checkpoint SHA-256"), provenance.get("checkpoint_sha256")),
        (_concept("created", "Results created (UTC)"), provenance.get("created")),
    ]
    return [TextContentItem(name, str(value), relationship_type="CONTAINS") for name, value in named if value]


def _sr_content(series: SeriesResult, algorithm: str, refs: list[tuple[pydicom.Dataset, int | None]],
                provenance: Mapping):
    from highdicom.sr import (CodeContentItem, ContainerContentItem, ContentSequence, ImageContentItem,
                              NumContentItem, TextContentItem)

    d = series.decision
    items = [
        TextContentItem(_concept("111001", "Algorithm Name", "DCM"), algorithm, relationship_type="CONTAINS"),
        *_provenance_items(provenance),
        CodeContentItem(_concept("121071", "Finding", "DCM"), _concept(d.predicted_class or d.label, d.label),
                        relationship_type="CONTAINS"),
        NumContentItem(_concept("tumour-probability", "Aggregated tumour probability"), d.tumour_probability,
                       _concept("1", "no units", "UCUM"), relationship_type="CONTAINS"),
        *(NumContentItem(_concept(f"p-{c}", f"Probability of class {c}"), p, _concept("1", "no units", "UCUM"),
                         relationship_type="CONTAINS") for c, p in d.class_probabilities.items()),
        TextContentItem(_concept("121106", "Comment", "DCM"), f"series decision by {d.method} over slices; research "
                        "use only, not for clinical decisions", relationship_type="CONTAINS"),
        *(lesion_sr_items(series, _concept) if series.lesion is not None else ()),
        *(ImageContentItem(_concept("121112", "Source of Measurement", "DCM"), ds.SOPClassUID, ds.SOPInstanceUID,
                           referenced_frame_numbers=frame + 1 if frame is not None and "NumberOfFrames" in ds else None,
                           relationship_type="CONTAINS") for ds, frame in refs),
    ]
    root = ContainerContentItem(_concept("18748-4", "Diagnostic imaging report", "LN"))
    root.ContentSequence = ContentSequence(items)
    return root


def _save(dataset: pydicom.Dataset, path: Path) -> None:
    """Write ``dataset`` to ``path`` via a temporary file, so that no half-written DICOM file is left."""
    tmp = path.with_name(f".{path.name}.tmp")
    dataset.save_as(tmp, enforce_file_format=True)
    os.replace(tmp, path)


@contextlib.contextmanager
def _quiet_highdicom() -> Iterator[None]:
    """highdicom logs the UIDs of the datasets it copies from at INFO level: keep them out of the run's logs."""
    hd_logger = logging.getLogger("highdicom")
    level = hd_logger.level
    hd_logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        hd_logger.setLevel(level)


def write_series_dicom_results(series: SeriesResult, dicom: DicomSeries, output_dir: str | os.PathLike,
                               overlays: dict[int, Path], algorithm: str = MANUFACTURER,
                               saliency_map: str = "grad_cam", run_dir: str | os.PathLike | None = None,
                               provenance: Mapping | None = None) -> list[Path]:
    """Write ``<output_dir>/<series_id>_sr.dcm``, ``<series_id>_sc_<slice>.dcm`` per overlay and, when the series
    has a written lesion map, ``<series_id>_seg.dcm``.

    Args:
        series: the classified series (its decision and slices).
        dicom: the scanned source series (its files are read for their identification and UIDs).
        output_dir: destination folder (created).
        overlays: contributing slice index -> saliency overlay PNG (RGB).
        algorithm: the algorithm name recorded in the SR.
        saliency_map: what the overlays show (``grad_cam`` or ``lesion``), as their description says.
        run_dir: the run's output folder, which ``series.lesion.map_file`` is relative to (None: no SEG).
        provenance: the run's provenance record (:meth:`~monai_tumorcls.checkpoint.Provenance.record`), named in
            the SR; None: the package version only.

    Returns:
        the files written.
    """
    # every file hashed once, and only where a slice or the SEG must name its source file
    by_id = _files_by_id(dicom) if not series.resliced or _has_lesion_map(series, run_dir) else {}
    sources = _slice_sources(series, dicom, by_id)
    datasets = {p: pydicom.dcmread(p, stop_before_pixels=True) for refs in sources.values() for p, _ in refs}
    refs = {k: [(datasets[p], f) for p, f in v] for k, v in sources.items()}
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    provenance = provenance or {"package_version": __version__}
    with _quiet_highdicom():
        files = _build(series, (algorithm, provenance), refs, out, overlays, _SC_TEXT[saliency_map])
        seg = _lesion_seg(series, by_id, run_dir) if _has_lesion_map(series, run_dir) else None
        if seg is not None:
            files[out / f"{series.series_id}_seg.dcm"] = seg
    for n, (path, dataset) in enumerate(files.items()):  # all built before any is written
        try:
            _save(dataset, path)
        except Exception:
            for done in list(files)[:n]:  # no half set: a PACS would file an SR without its captures
                done.unlink(missing_ok=True)
            raise
    return list(files)


def _build(series: SeriesResult, producer: tuple[str, Mapping], refs: dict, out: Path, overlays: dict[int, Path],
           sc_text: tuple[str, str]) -> dict:
    """The SR and the secondary captures of :func:`write_series_dicom_results`, by output path; ``producer``: the
    algorithm name and the provenance record."""
    import highdicom as hd
    from PIL import Image

    contributing = {(ds.SOPInstanceUID, f): (ds, f) for v in refs.values() for ds, f in v}  # each image once
    evidence = list({ds.SOPInstanceUID: ds for ds, _ in contributing.values()}.values())
    algorithm, provenance = producer
    software = f"{MANUFACTURER} {provenance['package_version']}"
    sr = hd.sr.ComprehensiveSR(
        evidence=evidence, series_instance_uid=hd.UID(), series_number=9001,
        content=_sr_content(series, algorithm, list(contributing.values()), provenance),
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer=MANUFACTURER, software_versions=software,
    )
    files = {out / f"{series.series_id}_sr.dcm": sr}
    sc_series = hd.UID()
    for n, (k, png) in enumerate(sorted(overlays.items()), start=1):
        sc = hd.sc.SCImage.from_ref_dataset(
            refs[k][0][0], np.asarray(Image.open(png).convert("RGB")), "RGB", 8, "PATIENT",
            series_instance_uid=sc_series, series_number=9002, sop_instance_uid=hd.UID(), instance_number=n,
            manufacturer=MANUFACTURER, patient_orientation=DISPLAY_ORIENTATION[series.slice_plane],
            software_versions=software,
        )
        sc.SeriesDescription = sc_text[0]
        sc.ImageComments = f"slice {k} of the classified volume: {sc_text[1]}"
        sc.SourceImageSequence = [_image_reference(ds, f) for ds, f in refs[k]]
        files[out / f"{series.series_id}_sc_{k:04d}.dcm"] = sc
    return files


def _image_reference(ds: pydicom.Dataset, frame: int | None) -> pydicom.Dataset:
    item = pydicom.Dataset()
    item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    if frame is not None and "NumberOfFrames" in ds:
        item.ReferencedFrameNumber = frame + 1
    return item


def _lesion_seg(series: SeriesResult, by_id: dict[str, Path], run_dir: str | os.PathLike):
    """The SEG of the series' written lesion map, or None when a SEG cannot reference the source series (e.g.
    without a FrameOfReferenceUID). That failure is logged on its own, so the SR and the captures, which need
    less of the sources, are still written."""
    try:
        return lesion_seg(series.lesion, Path(run_dir), by_id, MANUFACTURER, __version__)
    except Exception as e:  # noqa: BLE001 - the SEG is one of the series' results, not a condition of the others
        if is_out_of_space(e):
            raise
        logger.error("series %s: lesion SEG not written (%s)", series.series_id, type(e).__name__)
        return None


def write_run_dicom_results(result: ClinicalRunResult, inputs: Sequence[str | os.PathLike],
                            output_dir: str | os.PathLike) -> int:
    """DICOM results of every decided DICOM series of a clinical run into ``<output_dir>/dicom_results/``; the
    Grad-CAM overlays are the run's (``saliency_file`` of the contributing slices). Each series' input is scanned
    again to find its files. A series whose results cannot be written is logged (opaque id and error type) and
    the others go on. Returns the number of series written."""
    output_dir, scans, written = Path(output_dir), {}, 0
    for s in result.series:
        if s.source != "dicom" or s.decision.is_tumour is None:
            continue
        try:
            if s.input_index not in scans:
                scan = scan_dicom_folder(inputs[s.input_index], exclude=[output_dir])  # as the run scanned it
                scans[s.input_index] = {d.series_id: d for d in scan.series}
            overlays = {r.slice_index: output_dir / r.saliency_file for r in s.slices if r.saliency_file}
            write_series_dicom_results(s, scans[s.input_index][s.series_id], output_dir / DICOM_RESULTS_FOLDER,
                                       overlays, saliency_map=result.saliency_map, run_dir=output_dir,
                                       provenance=result.provenance)
            written += 1
        except Exception as e:  # noqa: BLE001 - one series' DICOM output must not stop the others
            if is_out_of_space(e):  # a full disk ends the run (exit status 3), it is not this series' problem
                raise
            logger.error("series %s: DICOM results not written (%s)", s.series_id, type(e).__name__)
    logger.info("DICOM results (SR + saliency secondary captures, SEG of a lesion map) written for %d series", written)
    return written


def with_dicom_results(clinical_run: Callable[..., ClinicalRunResult], inputs: Sequence[str | os.PathLike],
                       output_dir: str | os.PathLike, enabled: bool | str = True) -> Callable[[], ClinicalRunResult]:
    """``clinical_run`` (a bundle's ``clinical#run``, a :func:`~monai_tumorcls.apps.clinical.run_clinical_inference`
    call), run with Grad-CAM overlays and followed by :func:`write_run_dicom_results` when ``enabled`` (a bundle's
    ``--dicom_results true``; the command line gives ``"true"``/``"false"`` as strings)."""
    if not as_flag(enabled, "dicom_results"):
        return clinical_run

    def run() -> ClinicalRunResult:
        result = clinical_run(saliency=True)  # the secondary captures are the overlays
        write_run_dicom_results(result, inputs, output_dir)
        return result

    return run
