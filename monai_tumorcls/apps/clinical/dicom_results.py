"""DICOM results of a clinical run, for PACS: per classified DICOM series, a Comprehensive SR (TID 1500
Measurement Report, :mod:`.dicom_sr`) with the series decision as coded findings, the class probabilities and
references to the contributing source instances (:mod:`.dicom_sources`), and a Secondary Capture series of the
contributing slices at their own resolution with the saliency (Grad-CAM, or the predicted lesion map outlined)
and a burned-in legend (:mod:`.dicom_sc`); for a network with a lesion head also the lesion's measurements in the
SR and a DICOM SEG of the lesion map (:mod:`.dicom_lesion`) (highdicom, the ``dicom`` extra).

All name what produced them (the run's provenance record: package version, bundle, checkpoint SHA-256, time; in
the SR as algorithm identification and content items, in every file as SoftwareVersions), carry the source
study's patient and study identification (copied from the source images, as DICOM requires for a PACS to file
them with the study) and reference the source series' instances. Those tag values exist only inside the DICOM
files written here: log records name series by their opaque ``series_id`` and give counts only.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pydicom

from ... import __version__
from ...data.own_outputs import DICOM_MANUFACTURER
from ...data.readers import DicomSeries, scan_dicom_folder
from ...utils.atomic import is_out_of_space
from ...utils.flags import as_flag
from .dicom_lesion import lesion_seg
from .dicom_sc import CAPTURE_TEXT, capture_pixels
from .dicom_sources import files_by_id, read_headers, slice_sources
from .dicom_sr import Producer, series_report
from .records import ClinicalRunResult, SeriesResult

__all__ = ["DICOM_RESULTS_FOLDER", "DISPLAY_ORIENTATION", "DicomResultsOptions", "write_series_dicom_results",
           "write_run_dicom_results", "with_dicom_results"]

logger = logging.getLogger(__name__)

DICOM_RESULTS_FOLDER = "dicom_results"
MANUFACTURER = DICOM_MANUFACTURER  # also how a later scan recognises these files as outputs, never inputs
#: patient directions of the rows and columns of a display-oriented slice (radiological convention)
DISPLAY_ORIENTATION = {"axial": ("L", "P"), "coronal": ("L", "F"), "sagittal": ("P", "F")}


@dataclass(frozen=True)
class DicomResultsOptions:
    """How :func:`write_series_dicom_results` writes a series' results.

    Attributes:
        algorithm: the algorithm name recorded in the SR.
        saliency_map: what the captures' overlays show (``grad_cam`` or ``lesion``), as their legend says.
        run_dir: the run's output folder, which ``series.lesion.map_file`` is relative to (None: no SEG).
        provenance: the run's provenance record (:meth:`~monai_tumorcls.checkpoint.Provenance.record`), named in
            the SR; None: the package version only.
    """

    algorithm: str = MANUFACTURER
    saliency_map: str = "grad_cam"
    run_dir: str | os.PathLike | None = None
    provenance: Mapping | None = None


def _has_lesion_map(series: SeriesResult, run_dir: str | os.PathLike | None) -> bool:
    return run_dir is not None and series.lesion is not None and bool(series.lesion.map_file)


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
                               options: DicomResultsOptions | None = None) -> list[Path]:
    """Write ``<output_dir>/<series_id>_sr.dcm``, ``<series_id>_sc_<slice>.dcm`` per contributing slice with a
    saliency map (``SliceRecord.evidence``) and, when the series has a written lesion map, ``<series_id>_seg.dcm``;
    all or none of them (a PACS would file an SR without its captures).

    Args:
        series: the classified series (its decision and slices).
        dicom: the scanned source series (its files are read for their identification, UIDs and geometry).
        output_dir: destination folder (created).
        options: algorithm name, what the overlays show, the run's folder and provenance.

    Returns:
        the files written.

    Raises:
        ValueError: none of the series' contributing source files is found any more.
    """
    options = options or DicomResultsOptions()
    by_id = files_by_id(dicom)
    sources, headers = slice_sources(series, by_id)
    if not any(sources.values()):
        raise ValueError(f"series {series.series_id}: no contributing source file found")
    headers.update(read_headers(p for v in sources.values() for p, _ in v if p not in headers))
    refs = {k: [(headers[p], f) for p, f in v] for k, v in sources.items()}
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    producer = Producer(options.algorithm, options.provenance or {"package_version": __version__}, MANUFACTURER)
    with _quiet_highdicom():
        files = _build(series, producer, refs, out, options.saliency_map)
        if _has_lesion_map(series, options.run_dir):
            seg = _lesion_seg(series, by_id, options.run_dir)
            if seg is not None:
                files[out / f"{series.series_id}_seg.dcm"] = seg
    _save_all(files)
    return list(files)


def _save_all(files: dict[Path, pydicom.Dataset]) -> None:
    """Save every dataset (all built before any is written); on a failure remove those already written."""
    for n, (path, dataset) in enumerate(files.items()):
        try:
            _save(dataset, path)
        except Exception:
            for done in list(files)[:n]:
                done.unlink(missing_ok=True)
            raise


def _build(series: SeriesResult, producer: Producer, refs: dict, out: Path, saliency_map: str) -> dict:
    """The SR and the secondary captures of :func:`write_series_dicom_results`, by output path."""
    import highdicom as hd

    contributing = list({(ds.SOPInstanceUID, f): (ds, f) for v in refs.values() for ds, f in v}.values())
    files = {out / f"{series.series_id}_sr.dcm": series_report(series, contributing, producer, hd.UID())}
    text = CAPTURE_TEXT[saliency_map]
    outline = series.lesion.threshold if saliency_map == "lesion" and series.lesion is not None else None
    sc_series, study_image = hd.UID(), contributing[0][0]
    shown = [r for r in series.slices if r.evidence is not None and r.slice_index in refs]
    for n, record in enumerate(shown, start=1):
        k = record.slice_index
        sc = hd.sc.SCImage.from_ref_dataset(
            refs[k][0][0] if refs[k] else study_image, capture_pixels(record.evidence, text.shown, outline), "RGB",
            8, "PATIENT", series_instance_uid=sc_series, series_number=9002, sop_instance_uid=hd.UID(),
            instance_number=n, manufacturer=MANUFACTURER, patient_orientation=DISPLAY_ORIENTATION[series.slice_plane],
            software_versions=producer.software_versions, series_description=text.series_description,
        )
        sc.BurnedInAnnotation = "YES"  # the legend and "research use only" are in the pixels
        _set_body_part(sc, refs[k][0][0] if refs[k] else study_image)
        sc.ImageComments = f"slice {k} of the classified volume: {text.shown}, legend burned in"
        sc.SourceImageSequence = [_image_reference(ds, f) for ds, f in refs[k]]
        files[out / f"{series.series_id}_sc_{k:04d}.dcm"] = sc
    return files


def _set_body_part(sc: pydicom.Dataset, source: pydicom.Dataset) -> None:
    """The source's BodyPartExamined; without one, Laterality empty (unknown), as General Series requires it for a
    paired body part."""
    if source.get("BodyPartExamined"):
        sc.BodyPartExamined = source.BodyPartExamined
    else:
        sc.Laterality = ""


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
    captures show the run's saliency maps of the contributing slices (``SliceRecord.evidence``, kept in memory).
    Each series' input is scanned again to find its files. A series whose results cannot be written is logged
    (opaque id and error type) and the others go on. Returns the number of series written."""
    output_dir, scans, written = Path(output_dir), {}, 0
    for s in result.series:
        if s.source != "dicom" or s.decision.is_tumour is None:
            continue
        options = DicomResultsOptions(saliency_map=result.saliency_map, run_dir=output_dir,
                                      provenance=result.provenance)
        try:
            if s.input_index not in scans:
                scan = scan_dicom_folder(inputs[s.input_index], exclude=[output_dir])  # as the run scanned it
                scans[s.input_index] = {d.series_id: d for d in scan.series}
            write_series_dicom_results(s, scans[s.input_index][s.series_id], output_dir / DICOM_RESULTS_FOLDER,
                                       options)
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
