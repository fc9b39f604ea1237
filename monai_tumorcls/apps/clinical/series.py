"""Classifying one clinical input (a DICOM folder or file, a NIfTI file) for a
:class:`~monai_tumorcls.apps.clinical.ClinicalInferer`: every selected series/volume is read, reoriented to the
canonical display layout of the slice axis, cut into slices (:func:`~monai_tumorcls.data.slicing.volume_to_slices`),
classified (:class:`~monai_tumorcls.apps.clinical.slice_prediction.SlicePredictor`) and decided
(:func:`~monai_tumorcls.apps.clinical.aggregation.aggregate_slices`). A failing file or series becomes an entry in
``errors`` and the input goes on.

Privacy: records and log records contain no DICOM tag values except Modality, no UIDs, no series descriptions, and
(unless ``record_paths``) no paths: files are named by ``file_id`` = ``"f-"`` + the first 16 hex digits of the
SHA-256 of their bytes, series by an opaque ``series_id``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from ...data.datalist import file_sha256
from ...data.readers import NIFTI_SUFFIXES, ImageReadError, scan_dicom_folder, select_series
from ...data.image_checks import image_warnings
from ...data.input_limits import entry_problem
from ...data.readers.dicom import load_dicom_series
from ...data.readers.nifti import load_nifti_volume
from ...data.slicing import volume_to_slices
from ...utils.atomic import is_out_of_space
from ...utils.model_outputs import NON_FINITE_OUTPUT
from ...utils.stages import stage
from .aggregation import aggregate_slices, tumour_probability
from .lesion import LESION_VOLUME, lesion_on_volume, lesion_volume_decision
from .lesion_maps import write_lesion_nifti
from .slice_prediction import slice_evidence
from .records import InputResult, RunIssue, SeriesResult, SliceRecord, file_id
from .series_notes import dicom_notes, series_geometry, volume_notes

__all__ = ["InputRun"]

logger = logging.getLogger(__name__)

_PLANE_WORLD_AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}


def _file_id(path: Path) -> str:
    """``f-`` + sha256(content)[:16], or ``p-`` + sha256(path)[:16] when unreadable (a FIFO is never opened)."""
    try:
        return file_id(file_sha256(path))
    except (OSError, ImageReadError):
        return "p-" + hashlib.sha256(str(path).encode()).hexdigest()[:16]


def _scrub(text: str, *paths: Path | str | None) -> str:
    """Remove any of ``paths`` (full, and file/folder names) from ``text``."""
    for p in paths:
        if p is None:
            continue
        p = Path(p)
        for s in sorted({str(p), str(p.resolve()) if p.exists() else str(p), p.name}, key=len, reverse=True):
            if s and len(s) > 2:
                text = text.replace(s, "<file>")
    return text


def _relative(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` (POSIX separators); its name when it is ``base`` or not below it."""
    try:
        return path.relative_to(base).as_posix() if path != base else path.name
    except ValueError:
        return path.name


def _raise_if_out_of_space(error: Exception) -> None:
    """A full disk ends the whole run (one line, exit status 3: see ``run_inference``); it is no input's failure."""
    if is_out_of_space(error):
        raise error


class InputRun:
    """Classifying one input of a :class:`~monai_tumorcls.apps.clinical.ClinicalInferer` (``inferer``): collects
    its series, skips and errors; ``exclude``: folders not scanned (e.g. the run's output folder); ``lesion_dir``:
    where the lesion maps are written (a network with a lesion head; None: kept in memory in ``lesion``)."""

    def __init__(self, inferer, idx: int, saliency_dir: Path | None, exclude: Sequence[Path] = (),
                 lesion_dir: Path | None = None):
        self.o, self.idx, self.saliency_dir, self.exclude = inferer, idx, saliency_dir, exclude
        self.lesion_dir = lesion_dir
        self.result = InputResult({"input_index": idx})

    def rel(self, path: Path, base: Path) -> str | None:
        """``path`` relative to ``base``, only with ``record_paths`` (a file that was read may identify a patient)."""
        return _relative(path, base) if self.o.outputs.record_paths else None

    def issue(self, error: bool, item: str, reason: str, path: Path | None = None, base: Path | None = None):
        """Record a skipped item (named by its path relative to ``base`` when it has one: it was not read, and the
        user must be able to find it) or an error (a path with ``record_paths`` only)."""
        where = None
        if path is not None and base is not None:
            where = self.rel(path, base) if error else _relative(path, base)
        issue = RunIssue(self.idx, item, reason, where)
        (self.result.errors if error else self.result.skipped).append(issue)
        log = logger.warning if error else logger.info
        log("input %d: %s %s: %s", self.idx, "error" if error else "skipped", item, reason)

    def run(self, inp: str | PathLike) -> InputResult:
        path, record = Path(inp).expanduser(), self.result.record
        if self.o.outputs.record_paths:
            record["path"] = str(inp)
        try:
            self.classify_path(path)
        except Exception as e:  # noqa: BLE001 - last resort: never let one input stop the batch
            _raise_if_out_of_space(e)
            logger.debug("input %d failed", self.idx, exc_info=True)
            self.issue(True, "input", f"internal error ({type(e).__name__})")
        # a series without a decision (no usable slice, a broken model) is not classified; its error says why
        record["n_series_classified"] = sum(s.decision.is_tumour is not None for s in self.result.series)
        record["n_errors"] = len(self.result.errors)
        record["status"] = "ok" if not record["n_errors"] else ("partial" if record["n_series_classified"] else "failed")
        return self.result

    def classify_path(self, path: Path) -> None:
        """Classify the input ``path`` by its kind: a folder, a NIfTI file or a DICOM file; anything that is not a
        regular file (a FIFO, device, socket or a dangling link) is an error and never opened."""
        record, folder = self.result.record, path.is_dir()
        problem = None if folder else entry_problem(path)
        if problem == "file not found":
            record["kind"] = "missing"
            self.issue(True, "input", "does not exist")
        elif problem is not None:
            record["kind"] = "not_a_file"
            self.issue(True, "input", problem)
        elif not folder and path.name.lower().endswith(NIFTI_SUFFIXES):
            record["kind"] = "nifti"
            self.nifti(path, path.parent)
        else:
            record["kind"] = "dicom_folder" if folder else "dicom_file"
            found, classified = self.dicom(path)
            if classified == 0:
                self.issue(True, "input", f"nothing classified ({found} series/volume(s) found)")

    def nifti(self, path: Path, base: Path) -> bool:
        with stage("read"):
            fid = _file_id(path)
        sid = "v-" + fid[2:14]
        try:
            with stage("read"):
                volume, meta = load_nifti_volume(path, plane=self.o.slicing.slice_axis)
        except ImageReadError as e:
            self.issue(True, f"volume {sid}", _scrub(e.reason, path), path, base)
            return False
        except Exception as e:  # noqa: BLE001
            self.issue(True, f"volume {sid}", f"unreadable NIfTI ({type(e).__name__})", path, base)
            return False
        notes = []
        if meta.get("nonfinite_voxels"):
            notes.append(f"{meta['nonfinite_voxels']} non-finite voxels set to 0")
        if not meta.get("orientation_known", True):
            notes.append("no qform/sform: orientation assumed from the header's default affine")
        meta = {**meta, "modality": "", "ordering": "voxel_order", "description": path.name}
        rel = self.rel(path, base)
        try:
            self.classify(sid, "nifti", volume, meta, [fid], [rel] if rel else None, notes, None)
        except Exception as e:  # noqa: BLE001 - one bad volume must not stop the run
            _raise_if_out_of_space(e)
            reason = f"classification failed ({type(e).__name__}: {_scrub(str(e), path)[:200]})"
            self.issue(True, f"volume {sid}", reason)
            return False
        return True

    def dicom(self, root: Path) -> tuple[int, int]:
        """Classify the DICOM series (and NIfTI files) under ``root``: (series/volumes found, classified)."""
        with stage("read"):
            scan = scan_dicom_folder(root, exclude=self.exclude)
        base = root if root.is_dir() else root.parent
        for issue in scan.issues:
            kind = "folder" if issue.path.is_dir() else "file"  # e.g. an output folder, not scanned
            item = "input" if issue.path == root and root.is_dir() else f"{kind} {_file_id(issue.path)}"
            self.issue(issue.is_error, item, issue.reason, issue.path, base)
        classified = sum(self.nifti(nii, base) for nii in scan.nifti_files)
        selected, rejected = select_series(scan.series, self.o.slicing.selection)
        for s, reason in rejected:
            self.issue(False, f"series {s.series_id}", f"{reason} ({s.n_slices} slices, {s.sop_class_name})")
        for s in selected:
            classified += self.dicom_series(s, root, base)
        return len(scan.series) + len(scan.nifti_files), classified

    def dicom_series(self, s, root: Path, base: Path) -> bool:
        try:
            with stage("read"):
                vol = load_dicom_series(s, plane=self.o.slicing.slice_axis, drop_bad_files=True)
        except ImageReadError as e:
            self.issue(True, f"series {s.series_id}", _scrub(e.reason, e.filename))
            return False
        except Exception as e:  # noqa: BLE001
            self.issue(True, f"series {s.series_id}", f"unreadable series ({type(e).__name__})")
            return False
        for path, reason in vol.dropped:
            left_out = f"{_scrub(reason, path)} (left out of series {s.series_id})"
            self.issue(True, f"file {_file_id(path)}", left_out, path, base)
        sources = [
            {
                "file_id": file_id(src["file_sha256"]),
                "frame": src["frame"],
                "instance_number": src["instance_number"],
                "path": self.rel(Path(src["file"]), base),
                "position_lps": src.get("position_lps"),
            }
            for src in vol.meta["slice_sources"]
        ]
        file_ids = list(dict.fromkeys(s_["file_id"] for s_ in sources))
        files = list(dict.fromkeys(s_["path"] for s_ in sources)) if self.o.outputs.record_paths else None
        try:
            meta = {**vol.meta, "description": " ".join(s.series_description.split())}  # for the app's list only
            self.classify(s.series_id, "dicom", vol.array, meta, file_ids, files, dicom_notes(vol), sources)
            return True
        except Exception as e:  # noqa: BLE001
            _raise_if_out_of_space(e)
            reason = f"classification failed ({type(e).__name__}: {_scrub(str(e), root)[:200]})"
            self.issue(True, f"series {s.series_id}", reason)
            return False

    def classify(
        self,
        sid: str,
        source: str,
        volume: np.ndarray,
        meta: dict,
        file_ids: list[str],
        files: list[str] | None,
        notes: list[str],
        slice_sources: list[dict] | None,
    ) -> None:
        """Classify the slices of ``volume`` and add its :class:`SeriesResult`."""
        o, plane = self.o, meta.get("slice_plane", "unknown")
        with stage("slicing"):
            stack = volume_to_slices(volume, meta["affine"], plane, o.slicing.square_pixels, o.slicing.pad_to_square)
        probs, no_signal, broken, reasons, lesion_maps = self.slice_probabilities(stack, sid)
        excluded = no_signal | broken
        with stage("aggregation"):
            lesion, decision, slice_lesions = self.decide(stack, probs, no_signal, lesion_maps, meta, volume.shape)
        saliency = {}
        if self.saliency_dir is not None:
            with stage("saliency"):
                saliency = o.predictor.saliency(
                    stack.images, decision.contributing_slices, stack.pixel_spacing_mm, sid,
                    o.class_names.index(o.rule.positive_classes[0]), self.saliency_dir,
                )
        records = self.slice_records(stack, probs, reasons, decision.contributing_slices, saliency, meta,
                                     slice_sources, volume.shape[:2])
        for k, evidence in slice_evidence(saliency, stack, volume).items():
            records[k].evidence = evidence  # what the DICOM secondary captures and the app's viewer show
        for record, found in zip(records, slice_lesions or ()):
            record.lesion_area_px, record.lesion_area_mm2 = found.area_px, found.area_mm2
            record.lesion_peak = found.peak
        if lesion is not None and slice_sources is not None:
            lesion.stored_frames = [(src["file_id"], src["frame"]) for src in slice_sources]
        if lesion is not None and self.lesion_dir is not None:  # written now: a run's maps are not kept in memory
            with stage("writing"):
                lesion.map_file = write_lesion_nifti(lesion, meta, self.lesion_dir / f"{sid}_lesion.nii.gz")
        notes += volume_notes(stack, meta, plane) + image_warnings(volume.shape[:2])
        counts = (int(broken.sum()), int((~excluded).sum()), len(records))  # broken, classified, all slices
        self.no_decision(f"{source} {sid}", decision, counts, notes)
        result = SeriesResult(
            series_index=len(self.result.series),
            series_id=sid,
            input_index=self.idx,
            source=source,
            **series_geometry(meta, volume.shape, stack.pixel_spacing_mm),
            n_slices=len(records),
            n_excluded_slices=int(excluded.sum()),
            decision=decision,
            slices=records,
            file_ids=file_ids,
            notes=notes,
            files=files,
            warnings=list(o.series_warnings),
            lesion=lesion,
        )
        self.result.series.append(result)
        logger.info(
            "input %d: %s %s: %d slices (%d excluded), %s p=%s",
            self.idx, source, sid, len(records), result.n_excluded_slices, decision.label, decision.tumour_probability,
        )

    def decide(self, stack, probs, no_signal, lesion_maps, meta: dict, shape) -> tuple:
        """The series' lesion (None without a lesion head), decision and per-slice lesions (None without)."""
        o, lesion, slice_lesions = self.o, None, None
        if lesion_maps is not None:
            lesion, slice_lesions = lesion_on_volume(lesion_maps, stack, shape[:2], meta, o.predictor.lesion_threshold)
        # a slice with signal but no finite output means a broken model: the decision then decides nothing
        if o.rule.aggregation == LESION_VOLUME:
            decision = lesion_volume_decision(probs, o.class_names, o.rule.positive_classes, ~no_signal, lesion,
                                              [s.area_px for s in slice_lesions], o.rule)
        else:
            decision = aggregate_slices(probs, o.class_names, o.rule.positive_classes, ~no_signal,
                                        o.rule.aggregation, o.rule.top_k, o.rule.threshold)
        return lesion, decision, slice_lesions

    def no_decision(self, item: str, decision, counts: tuple[int, int, int], notes: list[str]) -> None:
        """Record why a series has no decision (``decision.is_tumour`` None) as an error: a broken model, the
        lesion-volume rule without a volume (no spacing), or no slice with signal. ``counts``: the slices whose
        output is not finite, those classified, and all slices of the series."""
        n_broken, n_classified, n_slices = counts
        if n_broken:
            notes.append("network output not finite: no decision")
            self.issue(True, item, f"{NON_FINITE_OUTPUT} ({n_broken} of {n_slices} slices): no decision")
        elif decision.is_tumour is None and n_classified:  # classified slices: only a missing volume leaves it open
            notes.append("lesion volume unknown (no spacing): decision undetermined")
            self.issue(True, item, "lesion volume unknown (the input has no pixel or slice spacing): the "
                                   "lesion_volume rule gives no decision")
        elif decision.is_tumour is None:
            notes.append("no slice with signal: decision undetermined")
            self.issue(True, item, "no slice with signal (blank, constant or non-finite): no decision")

    def slice_probabilities(self, stack, sid: str) -> tuple:
        """The class probabilities of the slices of ``stack`` with signal, the slices without signal (constant or
        low foreground, not classified), those whose network output is not finite (NaN rows), why a slice is
        excluded ("" for a kept slice), and the lesion maps of the slices (None without a lesion head)."""
        o = self.o
        no_signal = stack.constant | (stack.foreground < o.slicing.min_foreground_fraction)
        probs, lesion_maps = o.predictor.slice_outputs(stack.images, np.flatnonzero(~no_signal),
                                                       stack.pixel_spacing_mm, sid, o.predictor.has_lesion)
        broken = ~no_signal & ~np.all(np.isfinite(probs), axis=1)
        reasons = [
            "no signal (constant slice)" if c else ("low foreground" if e else (NON_FINITE_OUTPUT if b else ""))
            for c, e, b in zip(stack.constant, no_signal, broken)
        ]
        return probs, no_signal, broken, reasons, lesion_maps

    def slice_records(self, stack, probs, reasons, contributing, saliency, meta, slice_sources, in_plane):
        """One :class:`SliceRecord` per slice of ``stack``, with its source file when the slices are the stored
        ones (not resliced); ``reasons``: why each slice is excluded ("" for a kept one); ``in_plane``: the slice
        size as read (before resampling and padding)."""
        o, n = self.o, stack.images.shape[0]
        excluded = np.asarray([bool(r) for r in reasons], dtype=bool)
        valid_idx = np.flatnonzero(~excluded)
        tumour = np.full(n, np.nan)
        if len(valid_idx):
            tumour[valid_idx] = tumour_probability(probs[valid_idx], o.class_names, o.rule.positive_classes)
        axis = _PLANE_WORLD_AXIS.get(meta.get("slice_plane", "unknown"))
        records = []
        for k in range(n):
            src, position = None, float(stack.positions_mm[k])
            if slice_sources is not None and not meta.get("resliced", False):
                src = slice_sources[n - 1 - k if meta.get("slice_flipped", False) else k]
                if src.get("position_lps") is not None and axis is not None:  # the slice's own position (gaps)
                    lps = src["position_lps"]
                    position = round(float(-lps[axis] if axis < 2 else lps[axis]), 4)
            ok = not excluded[k]
            records.append(
                SliceRecord(
                    slice_index=k,
                    position_mm=position,
                    excluded=bool(excluded[k]),
                    exclusion_reason=reasons[k],
                    foreground_fraction=round(float(stack.foreground[k]), 4),
                    tumour_probability=round(float(tumour[k]), 6) if ok else None,
                    probabilities={c: round(float(v), 6) for c, v in zip(o.class_names, probs[k])} if ok else None,
                    contributing=k in contributing,
                    source_file_id=src["file_id"] if src else None,
                    source_frame=src["frame"] if src else None,
                    source_instance_number=src["instance_number"] if src else None,
                    source_path=src.get("path") if src else None,
                    saliency_peak=saliency[k][0] if k in saliency else None,
                    saliency_file=saliency[k][1] if k in saliency else None,
                    warnings=image_warnings(in_plane, constant=bool(stack.constant[k])),
                )
            )
        return records
