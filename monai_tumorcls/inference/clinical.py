"""Classify clinical inputs (DICOM folders, NIfTI files) with a 2D slice classifier and write one JSON and one
CSV per run.

Every input is read (:mod:`monai_tumorcls.data.dicom_series`, :mod:`monai_tumorcls.data.readers`), each
selected series/volume is reoriented to the canonical display layout of ``slice_axis``, cut into slices
(:func:`~monai_tumorcls.data.slicing.volume_to_slices`), classified in batches, and the slice
probabilities are aggregated (:func:`~monai_tumorcls.inference.aggregation.aggregate_slices`). A failing
file, series or input becomes an entry in ``errors`` and the run goes on.

Privacy: outputs and log records contain no DICOM tag values except Modality, no UIDs, no series
descriptions, and (unless ``record_paths=True``) no paths: files are named by ``file_id`` = ``"f-"`` + the
first 16 hex digits of the SHA-256 of their bytes, series by an opaque ``series_id``. Output file names come
from ``run_name`` only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import torch
from monai.data import MetaTensor

from ..data.datalist import file_sha256
from ..data.dicom_series import NIFTI_SUFFIXES, SeriesSelection, scan_dicom_folder, select_series
from ..data.readers.dicom import load_dicom_series
from ..data.readers.errors import ImageReadError
from ..data.readers.nifti import PLANES, load_nifti_volume
from ..data.slicing import volume_to_slices
from ..utils.atomic import atomic_write_text
from ..visualize.saliency import DEFAULT_TARGET_LAYER, grad_cam, peak_fractions, write_overlay
from .aggregation import SeriesDecision, aggregate_slices, default_tumour_classes, tumour_probability

__all__ = ["RunIssue", "SliceRecord", "SeriesResult", "ClinicalRunResult", "run_clinical_inference", "SCHEMA_VERSION"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_PLANE_WORLD_AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}


def _file_id(path: Path) -> str:
    """``f-`` + sha256(content)[:16], or ``p-`` + sha256(path)[:16] when the file cannot be read."""
    try:
        return "f-" + file_sha256(path)[:16]
    except OSError:
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


@dataclass
class RunIssue:
    """An input, file or series that was not classified.

    Attributes:
        input_index: index of the input in ``inputs``.
        item: what it concerns: ``"input"``, ``"file f-…"``, ``"series s-…"`` or ``"volume v-…"``.
        reason: why (no tag values, no paths).
        path: relative path, only with ``record_paths=True``.
    """

    input_index: int
    item: str
    reason: str
    path: str | None = None

    def to_dict(self) -> dict:
        d = {"input_index": self.input_index, "item": self.item, "reason": self.reason}
        if self.path is not None:
            d["path"] = self.path
        return d


@dataclass
class SliceRecord:
    """One emitted slice of a series (row of the CSV)."""

    slice_index: int
    position_mm: float
    excluded: bool
    exclusion_reason: str
    foreground_fraction: float
    tumour_probability: float | None
    probabilities: dict[str, float] | None
    contributing: bool
    source_file_id: str | None
    source_frame: int | None
    source_instance_number: int | None
    source_path: str | None = None
    saliency_peak: dict[str, float] | None = None
    saliency_file: str | None = None

    def to_dict(self, with_path: bool) -> dict:
        d = {
            "slice_index": self.slice_index,
            "position_mm": self.position_mm,
            "excluded": self.excluded,
            "exclusion_reason": self.exclusion_reason,
            "foreground_fraction": self.foreground_fraction,
            "tumour_probability": self.tumour_probability,
            "probabilities": self.probabilities,
            "contributing": self.contributing,
            "source_file_id": self.source_file_id,
            "source_frame": self.source_frame,
            "source_instance_number": self.source_instance_number,
        }
        if with_path:
            d["source_path"] = self.source_path
        if self.saliency_file is not None:
            d["saliency_peak"], d["saliency_file"] = self.saliency_peak, self.saliency_file
        return d


@dataclass
class SeriesResult:
    """Result for one DICOM series or NIfTI volume."""

    series_index: int
    series_id: str
    input_index: int
    source: str
    modality: str
    slice_plane: str
    acquisition_plane: str
    resliced: bool
    obliquity_deg: float
    ordering: str
    volume_shape: list[int]
    voxel_spacing_mm: list[float]
    pixel_spacing_mm: list[float]
    n_slices: int
    n_excluded_slices: int
    decision: SeriesDecision
    slices: list[SliceRecord]
    file_ids: list[str]
    notes: list[str] = field(default_factory=list)
    files: list[str] | None = None

    @property
    def tumour_probabilities(self) -> list[float | None]:
        """Per-slice tumour probability in slice order (None for excluded slices)."""
        return [s.tumour_probability for s in self.slices]

    def to_dict(self, with_path: bool) -> dict:
        d = {
            "series_index": self.series_index,
            "series_id": self.series_id,
            "input_index": self.input_index,
            "source": self.source,
            "modality": self.modality,
            "slice_plane": self.slice_plane,
            "acquisition_plane": self.acquisition_plane,
            "resliced": self.resliced,
            "obliquity_deg": self.obliquity_deg,
            "ordering": self.ordering,
            "volume_shape": self.volume_shape,
            "voxel_spacing_mm": self.voxel_spacing_mm,
            "pixel_spacing_mm": self.pixel_spacing_mm,
            "n_slices": self.n_slices,
            "n_excluded_slices": self.n_excluded_slices,
            "decision": self.decision.to_dict(),
            "notes": self.notes,
            "provenance": {"n_files": len(self.file_ids), "file_ids": self.file_ids},
            "slices": [s.to_dict(with_path) for s in self.slices],
        }
        if with_path:
            d["provenance"]["files"] = self.files
        return d


@dataclass
class ClinicalRunResult:
    """What :func:`run_clinical_inference` did.

    Attributes:
        run_name: the run name (also the output file stem).
        json_path: the JSON report.
        csv_path: the CSV slice table.
        series: classified series/volumes.
        skipped: items deliberately not classified (non-image files, series not selected).
        errors: items that failed.
        inputs: per-input summary dicts.
    """

    run_name: str
    json_path: Path
    csv_path: Path
    series: list[SeriesResult]
    skipped: list[RunIssue]
    errors: list[RunIssue]
    inputs: list[dict]

    @property
    def n_decided(self) -> int:
        """Series with a decision (a series without any usable slice is recorded, undetermined, as an error)."""
        return sum(s.decision.is_tumour is not None for s in self.series)

    @property
    def ok(self) -> bool:
        """True when nothing failed and at least one series was classified."""
        return not self.errors and self.n_decided > 0

    @property
    def exit_code(self) -> int:
        """0: all inputs classified without errors; 1: some errors, at least one series classified;
        2: nothing classified."""
        if not self.n_decided:
            return 2
        return 1 if self.errors else 0


@dataclass(frozen=True)
class _Options:
    class_names: list[str]
    tumour_classes: tuple[str, ...]
    aggregation: str
    top_k: int
    threshold: float
    batch_size: int
    device: torch.device
    selection: SeriesSelection
    slice_axis: str
    slice_layout: str
    record_paths: bool
    square_pixels: bool
    pad_to_square: bool
    min_foreground_fraction: float
    activation: str
    saliency_dir: Path | None = None
    saliency_layer: str = DEFAULT_TARGET_LAYER


class _Run:
    """State of one run (kept private: the public API is :func:`run_clinical_inference`)."""

    def __init__(self, network: torch.nn.Module, preprocess: Callable[[dict], dict], opts: _Options):
        self.network, self.preprocess, self.o = network, preprocess, opts
        self.series: list[SeriesResult] = []
        self.skipped: list[RunIssue] = []
        self.errors: list[RunIssue] = []
        self.inputs: list[dict] = []

    # -- reporting -------------------------------------------------------------------------------------------
    def _rel(self, path: Path, base: Path) -> str | None:
        if not self.o.record_paths:
            return None
        try:
            return path.relative_to(base).as_posix() if path != base else path.name
        except ValueError:
            return path.name

    def _issue(self, error: bool, idx: int, item: str, reason: str, path: Path | None = None, base: Path | None = None):
        issue = RunIssue(idx, item, reason, self._rel(path, base) if path is not None and base is not None else None)
        (self.errors if error else self.skipped).append(issue)
        log = logger.warning if error else logger.info
        log("input %d: %s %s: %s", idx, "error" if error else "skipped", item, reason)

    # -- classification --------------------------------------------------------------------------------------
    def _batch(self, images: np.ndarray, batch_idx: np.ndarray, spacing: tuple[float, float], sid: str) -> torch.Tensor:
        """The preprocessed network input of slices ``batch_idx``."""
        wh = self.o.slice_layout == "WH"
        sp = (spacing[1], spacing[0]) if wh else spacing
        affine = torch.diag(torch.tensor([sp[0], sp[1], 1.0], dtype=torch.float64))
        batch = []
        for k in batch_idx:
            img2d = images[k].T if wh else images[k]
            img = MetaTensor(
                torch.from_numpy(np.ascontiguousarray(img2d)[None]),
                affine=affine.clone(),
                meta={"series_id": sid, "slice_index": int(k)},
            )
            out = self.preprocess({"image": img})["image"]
            out = out.as_tensor() if isinstance(out, MetaTensor) else torch.as_tensor(out)
            batch.append(out.float())
        return torch.stack(batch).to(self.o.device)

    def _probabilities(
        self, images: np.ndarray, indices: np.ndarray, spacing: tuple[float, float], sid: str
    ) -> np.ndarray:
        probs = np.full((images.shape[0], len(self.o.class_names)), np.nan)
        for start in range(0, len(indices), self.o.batch_size):
            batch_idx = indices[start : start + self.o.batch_size]
            x = self._batch(images, batch_idx, spacing, sid)
            with torch.inference_mode():
                logits = self.network(x)
            logits = logits.detach().float().cpu()
            if logits.ndim != 2:
                logits = logits.reshape(logits.shape[0], -1)
            if logits.shape[1] == 1 and len(self.o.class_names) == 2 and self.o.activation != "none":
                p1 = torch.sigmoid(logits[:, 0])
                p = torch.stack([1 - p1, p1], dim=1)
            elif logits.shape[1] != len(self.o.class_names):
                raise ValueError(f"network gives {logits.shape[1]} outputs for {len(self.o.class_names)} class names")
            elif self.o.activation == "softmax":
                p = torch.softmax(logits, dim=1)
            elif self.o.activation == "sigmoid":
                p = torch.sigmoid(logits)
            else:
                p = logits
            probs[batch_idx] = p.numpy().astype(np.float64)
        return probs

    def _saliency(self, images: np.ndarray, slices: list[int], spacing: tuple[float, float], sid: str) -> dict:
        """Grad-CAM of the first tumour class on ``slices``: overlay PNGs in ``saliency_dir``; ``{k: (peak, file)}``."""
        if self.o.saliency_dir is None or not slices:
            return {}
        x = self._batch(images, np.asarray(slices), spacing, sid)
        maps = grad_cam(self.network, x, self.o.class_names.index(self.o.tumour_classes[0]), self.o.saliency_layer)
        out = {}
        for k, image, m, peak in zip(slices, x.cpu().numpy(), maps, peak_fractions(maps)):
            name = f"{sid}_slice{k:04d}.png"
            write_overlay(self.o.saliency_dir / name, image[0], m)
            out[k] = (peak, f"{self.o.saliency_dir.name}/{name}")
        return out

    def classify(
        self,
        idx: int,
        sid: str,
        source: str,
        volume: np.ndarray,
        meta: dict,
        file_ids: list[str],
        files: list[str] | None,
        notes: list[str],
        slice_sources: list[dict] | None,
    ) -> None:
        plane = meta.get("slice_plane", "unknown")
        stack = volume_to_slices(volume, meta["affine"], plane, self.o.square_pixels, self.o.pad_to_square)
        n = stack.images.shape[0]
        excluded = stack.constant | (stack.foreground < self.o.min_foreground_fraction)
        reasons = [
            "no signal (constant slice)" if c else ("low foreground" if e else "")
            for c, e in zip(stack.constant, excluded)
        ]
        valid_idx = np.flatnonzero(~excluded)
        probs = self._probabilities(stack.images, valid_idx, stack.pixel_spacing_mm, sid)
        bad = ~excluded & ~np.all(np.isfinite(probs), axis=1)
        if bad.any():
            excluded = excluded | bad
            reasons = [r or ("network output not finite" if b else "") for r, b in zip(reasons, bad)]
            valid_idx = np.flatnonzero(~excluded)
        decision = aggregate_slices(
            probs,
            self.o.class_names,
            self.o.tumour_classes,
            ~excluded,
            self.o.aggregation,
            self.o.top_k,
            self.o.threshold,
        )
        tumour = np.full(n, np.nan)
        if len(valid_idx):
            tumour[valid_idx] = tumour_probability(probs[valid_idx], self.o.class_names, self.o.tumour_classes)
        contributing = set(decision.contributing_slices)
        saliency = self._saliency(stack.images, decision.contributing_slices, stack.pixel_spacing_mm, sid)
        records = []
        axis = _PLANE_WORLD_AXIS.get(plane)
        for k in range(n):
            src = None
            position = float(stack.positions_mm[k])
            if slice_sources is not None and not meta.get("resliced", False):
                j = n - 1 - k if meta.get("slice_flipped", False) else k
                src = slice_sources[j]
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
                    probabilities={c: round(float(v), 6) for c, v in zip(self.o.class_names, probs[k])} if ok else None,
                    contributing=k in contributing,
                    source_file_id=src["file_id"] if src else None,
                    source_frame=src["frame"] if src else None,
                    source_instance_number=src["instance_number"] if src else None,
                    source_path=src.get("path") if src else None,
                    saliency_peak=saliency[k][0] if k in saliency else None,
                    saliency_file=saliency[k][1] if k in saliency else None,
                )
            )
        if stack.resampled:
            notes.append("in-plane resampled to square pixels")
        if meta.get("resliced"):
            notes.append(f"resliced from {meta.get('acquisition_plane')} to {plane}")
        if float(meta.get("obliquity_deg", 0.0)) > 1.0:
            notes.append(f"oblique by {float(meta['obliquity_deg']):.1f} deg (not corrected)")
        if plane == "unknown":
            notes.append("orientation unknown: slices used as stored")
        if not decision.contributing_slices:
            notes.append("no slice with signal: decision undetermined")
            self._issue(True, idx, f"{source} {sid}", "no slice with signal (blank, constant or non-finite): no decision")
        spacing = [round(float(s), 4) for s in np.linalg.norm(np.asarray(meta["affine"])[:3, :3], axis=0)]
        result = SeriesResult(
            series_index=len(self.series),
            series_id=sid,
            input_index=idx,
            source=source,
            modality=meta.get("modality", ""),
            slice_plane=plane,
            acquisition_plane=meta.get("acquisition_plane", "unknown"),
            resliced=bool(meta.get("resliced", False)),
            obliquity_deg=float(meta.get("obliquity_deg", 0.0)),
            ordering=meta.get("ordering", "voxel_order"),
            volume_shape=[int(s) for s in volume.shape],
            voxel_spacing_mm=spacing,
            pixel_spacing_mm=[round(v, 4) for v in stack.pixel_spacing_mm],
            n_slices=n,
            n_excluded_slices=int(excluded.sum()),
            decision=decision,
            slices=records,
            file_ids=file_ids,
            notes=notes,
            files=files,
        )
        self.series.append(result)
        logger.info(
            "input %d: %s %s: %d slices (%d excluded), %s p=%s",
            idx,
            source,
            sid,
            n,
            result.n_excluded_slices,
            decision.label,
            decision.tumour_probability,
        )

    # -- inputs ----------------------------------------------------------------------------------------------
    def nifti(self, idx: int, path: Path, base: Path) -> bool:
        fid = _file_id(path)
        sid = "v-" + fid[2:14]
        try:
            volume, meta = load_nifti_volume(path, plane=self.o.slice_axis)
        except ImageReadError as e:
            self._issue(True, idx, f"volume {sid}", _scrub(e.reason, path), path, base)
            return False
        except Exception as e:  # noqa: BLE001
            self._issue(True, idx, f"volume {sid}", f"unreadable NIfTI ({type(e).__name__})", path, base)
            return False
        notes = []
        if meta.get("nonfinite_voxels"):
            notes.append(f"{meta['nonfinite_voxels']} non-finite voxels set to 0")
        if not meta.get("orientation_known", True):
            notes.append("no qform/sform: orientation assumed from the header's default affine")
        meta = {**meta, "modality": "", "ordering": "voxel_order"}
        rel = self._rel(path, base)
        try:
            self.classify(idx, sid, "nifti", volume, meta, [fid], [rel] if rel else None, notes, None)
        except Exception as e:  # noqa: BLE001 - one bad volume must not stop the run
            self._issue(
                True, idx, f"volume {sid}", f"classification failed ({type(e).__name__}: {_scrub(str(e), path)[:200]})"
            )
            return False
        return True

    def dicom(self, idx: int, root: Path) -> tuple[int, int]:
        scan = scan_dicom_folder(root)
        base = root if root.is_dir() else root.parent
        for issue in scan.issues:
            item = "input" if issue.path == root and root.is_dir() else f"file {_file_id(issue.path)}"
            self._issue(issue.is_error, idx, item, issue.reason, issue.path, base)
        classified = 0
        for nii in scan.nifti_files:
            classified += self.nifti(idx, nii, base)
        selected, rejected = select_series(scan.series, self.o.selection)
        for s, reason in rejected:
            self._issue(False, idx, f"series {s.series_id}", f"{reason} ({s.n_slices} slices, {s.sop_class_name})")
        for s in selected:
            try:
                vol = load_dicom_series(s, plane=self.o.slice_axis, drop_bad_files=True)
            except ImageReadError as e:
                self._issue(True, idx, f"series {s.series_id}", _scrub(e.reason, e.filename))
                continue
            except Exception as e:  # noqa: BLE001
                self._issue(True, idx, f"series {s.series_id}", f"unreadable series ({type(e).__name__})")
                continue
            for path, reason in vol.dropped:
                self._issue(
                    True,
                    idx,
                    f"file {_file_id(path)}",
                    f"{_scrub(reason, path)} (left out of series {s.series_id})",
                    path,
                    base,
                )
            sources = []
            for src in vol.meta["slice_sources"]:
                p = Path(src["file"])
                sources.append(
                    {
                        "file_id": "f-" + src["file_sha256"][:16],
                        "frame": src["frame"],
                        "instance_number": src["instance_number"],
                        "path": self._rel(p, base),
                        "position_lps": src.get("position_lps"),
                    }
                )
            file_ids = list(dict.fromkeys(s_["file_id"] for s_ in sources))
            files = list(dict.fromkeys(s_["path"] for s_ in sources)) if self.o.record_paths else None
            notes = []
            if vol.dropped:
                notes.append(f"{len(vol.dropped)} file(s) left out: pixel data unreadable")
            if vol.meta.get("ordering") != "position":
                notes.append(f"slices ordered by {vol.meta.get('ordering')} (no usable ImagePositionPatient)")
            if not vol.meta.get("uniform_spacing", True):
                notes.append("non-uniform slice spacing")
            if vol.meta.get("monochrome1"):
                notes.append("MONOCHROME1 inverted")
            try:
                self.classify(idx, s.series_id, "dicom", vol.array, vol.meta, file_ids, files, notes, sources)
                classified += 1
            except Exception as e:  # noqa: BLE001
                self._issue(
                    True,
                    idx,
                    f"series {s.series_id}",
                    f"classification failed ({type(e).__name__}: {_scrub(str(e), root)[:200]})",
                )
        return len(scan.series) + len(scan.nifti_files), classified

    def run_input(self, idx: int, inp: str | PathLike) -> None:
        path = Path(inp).expanduser()
        n_err, n_series = len(self.errors), len(self.series)
        record: dict = {"input_index": idx}
        if self.o.record_paths:
            record["path"] = str(inp)
        try:
            if not path.exists():
                record["kind"] = "missing"
                self._issue(True, idx, "input", "does not exist")
            elif path.is_file() and path.name.lower().endswith(NIFTI_SUFFIXES):
                record["kind"] = "nifti"
                self.nifti(idx, path, path.parent)
            else:
                record["kind"] = "dicom_folder" if path.is_dir() else "dicom_file"
                found, classified = self.dicom(idx, path)
                if classified == 0:
                    self._issue(True, idx, "input", f"nothing classified ({found} series/volume(s) found)")
        except Exception as e:  # noqa: BLE001 - last resort: never let one input stop the batch
            logger.debug("input %d failed", idx, exc_info=True)
            self._issue(True, idx, "input", f"internal error ({type(e).__name__})")
        record["n_series_classified"] = len(self.series) - n_series
        record["n_errors"] = len(self.errors) - n_err
        record["status"] = (
            "ok" if record["n_errors"] == 0 else ("partial" if record["n_series_classified"] else "failed")
        )
        self.inputs.append(record)


def run_clinical_inference(
    inputs: Sequence[str | PathLike],
    network: torch.nn.Module,
    preprocess: Callable[[dict], dict],
    class_names: Sequence[str],
    output_dir: str | PathLike,
    tumour_classes: Sequence[str] | None = None,
    aggregation: str = "max",
    top_k: int = 3,
    threshold: float = 0.5,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    selection: SeriesSelection | None = None,
    slice_axis: str = "axial",
    run_name: str | None = None,
    record_paths: bool = False,
    square_pixels: bool = True,
    pad_to_square: bool = True,
    min_foreground_fraction: float = 0.0,
    activation: str = "softmax",
    slice_layout: str = "HW",
    saliency: bool = False,
    saliency_layer: str = DEFAULT_TARGET_LAYER,
) -> ClinicalRunResult:
    """Classify DICOM folders/files and NIfTI files; write ``<run_name>.json`` and ``<run_name>.csv``.

    Args:
        inputs: DICOM folders (walked recursively; NIfTI files inside are classified too), DICOM files, or
            ``.nii``/``.nii.gz`` files.
        network: 2D classifier, (B, 3, S, S) -> (B, C) logits (or (B, 1) for a binary sigmoid model).
        preprocess: MONAI transform taking ``{"image": MetaTensor (1, H, W) float32}`` (a display-oriented
            slice in original intensities, 2D affine = pixel spacing; (1, W, H) with ``slice_layout="WH"``) and
            returning ``{"image": (3, S, S)}``.
        class_names: the C class names in output order.
        output_dir: folder for the two files (created).
        tumour_classes: class names meaning tumour (default: all but "notumor"-like names).
        aggregation: ``max`` | ``top_k_mean`` | ``mean`` (see :func:`aggregate_slices`).
        top_k: k for ``top_k_mean``.
        threshold: series is "tumour" when the aggregated tumour probability >= threshold.
        batch_size: slices per forward pass.
        device: torch device for the network.
        selection: which DICOM series are classified (default :class:`SeriesSelection()`: MR, no localizers,
            >= 5 slices, consistent geometry). Not applied to NIfTI files.
        slice_axis: ``axial`` | ``coronal`` | ``sagittal`` | ``acquired``; volumes acquired in another plane are
            resliced (axis permutation, no interpolation across slices except ``square_pixels``).
        run_name: output file stem, ``[A-Za-z0-9][A-Za-z0-9._-]*`` (default ``clinical_<UTC time>``).
        record_paths: also write input-relative file paths (they may identify a patient; off by default).
        square_pixels: resample slices in-plane to square pixels when the spacings differ.
        pad_to_square: pad slices to H == W with the slice minimum.
        min_foreground_fraction: also exclude slices whose foreground fraction is below this (0 = only
            constant slices are excluded).
        activation: ``softmax`` (logits), ``sigmoid`` (multi-label logits) or ``none`` (already probabilities).
        slice_layout: axis order of the slice given to ``preprocess``, which must match how the training images
            were loaded: ``"HW"`` (rows first, NumPy/display order; training read with
            ``RasterImageReader(reverse_indexing=False)``) or ``"WH"`` (columns first: MONAI ``PILReader`` /
            ``RasterImageReader`` default ``reverse_indexing=True``).
        saliency: write a Grad-CAM overlay (first tumour class, trunk's last stage) of every contributing slice
            into ``<output_dir>/<run_name>_saliency/`` and its peak (fractions of height and width) into the JSON.
        saliency_layer: Grad-CAM layer (dotted module name).

    Returns:
        a :class:`ClinicalRunResult`; ``exit_code`` is 0 (all fine), 1 (some errors) or 2 (nothing classified).

    Raises:
        ValueError: invalid arguments (bad ``run_name``, ``slice_axis``, ``aggregation``, class names).
    """
    if slice_axis not in PLANES:
        raise ValueError(f"slice_axis must be one of {PLANES}, got {slice_axis!r}")
    if activation not in ("softmax", "sigmoid", "none"):
        raise ValueError("activation must be 'softmax', 'sigmoid' or 'none'")
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if slice_layout not in ("HW", "WH"):
        raise ValueError("slice_layout must be 'HW' or 'WH'")
    class_names = [str(c) for c in class_names]
    tumour_classes = tuple(tumour_classes) if tumour_classes is not None else default_tumour_classes(class_names)
    aggregate_slices(
        np.full((1, len(class_names)), 1.0 / len(class_names)),
        class_names,
        tumour_classes,
        method=aggregation,
        top_k=top_k,
        threshold=threshold,
    )  # validates the arguments early
    run_name = run_name or time.strftime("clinical_%Y%m%dT%H%M%SZ", time.gmtime())
    if not _RUN_NAME.match(run_name):
        raise ValueError(f"run_name must match {_RUN_NAME.pattern}")
    selection = selection or SeriesSelection()
    output_dir = Path(output_dir)
    network = network.to(torch.device(device)).eval()
    opts = _Options(
        class_names=class_names,
        tumour_classes=tumour_classes,
        aggregation=aggregation,
        top_k=top_k,
        threshold=threshold,
        batch_size=batch_size,
        device=torch.device(device),
        selection=selection,
        slice_axis=slice_axis,
        slice_layout=slice_layout,
        record_paths=record_paths,
        square_pixels=square_pixels,
        pad_to_square=pad_to_square,
        min_foreground_fraction=min_foreground_fraction,
        activation=activation,
        saliency_dir=output_dir / f"{run_name}_saliency" if saliency else None,
        saliency_layer=saliency_layer,
    )
    run = _Run(network, preprocess, opts)
    for idx, inp in enumerate(inputs):
        run.run_input(idx, inp)
    result = ClinicalRunResult(
        run_name,
        output_dir / f"{run_name}.json",
        output_dir / f"{run_name}.csv",
        run.series,
        run.skipped,
        run.errors,
        run.inputs,
    )
    report = {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "name": run_name,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "class_names": class_names,
            "tumour_classes": list(tumour_classes),
            "aggregation": {"method": aggregation, "top_k": top_k, "threshold": threshold},
            "slice_axis": slice_axis,
            "slice_layout": slice_layout,
            "square_pixels": square_pixels,
            "pad_to_square": pad_to_square,
            "min_foreground_fraction": min_foreground_fraction,
            "selection": selection.to_dict(),
            "record_paths": record_paths,
        },
        "summary": {
            "n_inputs": len(run.inputs),
            "n_series_classified": len(run.series),
            "n_tumour": sum(1 for s in run.series if s.decision.is_tumour),
            "n_skipped": len(run.skipped),
            "n_errors": len(run.errors),
            "exit_code": result.exit_code,
        },
        "inputs": run.inputs,
        "series": [s.to_dict(record_paths) for s in run.series],
        "skipped": [i.to_dict() for i in run.skipped],
        "errors": [i.to_dict() for i in run.errors],
    }
    atomic_write_text(result.json_path, json.dumps(report, indent=2, allow_nan=False) + "\n")
    atomic_write_text(result.csv_path, _csv_text(run.series, class_names, record_paths))
    logger.info(
        "clinical run %s: %d series classified, %d skipped, %d errors -> %s",
        run_name,
        len(run.series),
        len(run.skipped),
        len(run.errors),
        result.json_path.name,
    )
    return result


CSV_COLUMNS = [
    "series_index",
    "series_id",
    "input_index",
    "source",
    "modality",
    "slice_plane",
    "series_label",
    "series_tumour_probability",
    "series_predicted_class",
    "slice_index",
    "position_mm",
    "excluded",
    "exclusion_reason",
    "foreground_fraction",
    "contributing",
    "tumour_probability",
]


def _csv_text(series: Sequence[SeriesResult], class_names: Sequence[str], with_path: bool) -> str:
    buf = io.StringIO()
    cols = (
        CSV_COLUMNS + [f"prob_{c}" for c in class_names] + ["source_file_id", "source_frame", "source_instance_number"]
    )
    if with_path:
        cols.append("source_path")
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for s in series:
        for r in s.slices:
            row = {
                "series_index": s.series_index,
                "series_id": s.series_id,
                "input_index": s.input_index,
                "source": s.source,
                "modality": s.modality,
                "slice_plane": s.slice_plane,
                "series_label": s.decision.label,
                "series_tumour_probability": _fmt(s.decision.tumour_probability),
                "series_predicted_class": s.decision.predicted_class or "",
                "slice_index": r.slice_index,
                "position_mm": r.position_mm,
                "excluded": int(r.excluded),
                "exclusion_reason": r.exclusion_reason,
                "foreground_fraction": r.foreground_fraction,
                "contributing": int(r.contributing),
                "tumour_probability": _fmt(r.tumour_probability),
                "source_file_id": r.source_file_id or "",
                "source_frame": "" if r.source_frame is None else r.source_frame,
                "source_instance_number": "" if r.source_instance_number is None else r.source_instance_number,
            }
            for c in class_names:
                row[f"prob_{c}"] = _fmt(r.probabilities[c]) if r.probabilities else ""
            if with_path:
                row["source_path"] = r.source_path or ""
            w.writerow(row)
    return buf.getvalue()


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.6f}"
