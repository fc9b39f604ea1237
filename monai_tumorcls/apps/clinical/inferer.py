"""One configured component for clinical inference: :class:`ClinicalInferer` classifies DICOM folders/files and
NIfTI files slice by slice and decides per series (:mod:`~monai_tumorcls.apps.clinical.series`), and image files as
one-slice series (:mod:`~monai_tumorcls.apps.clinical.images`); the results are written by
:mod:`~monai_tumorcls.apps.clinical.writers`. A bundle's ``inference.json`` declares it as ``clinical_inferer``.

Privacy: a clinical run's outputs and log records contain no DICOM tag values except Modality, no UIDs, no series
descriptions, and (unless ``record_paths``) no paths. Output file names come from ``run_name`` only.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import torch

from ...checkpoint.provenance import Provenance
from ...data.readers import SeriesSelection
from ...data.readers.nifti import PLANES
from ...utils.flags import as_flag
from ...utils.stages import stage
from .aggregation import aggregate_slices, default_positive_classes
from .dicom_results import write_run_dicom_results
from .images import classify_image_batches
from .lesion import LESION_VOLUME
from .model_validation import series_warnings, validation_line, validation_record
from .options import PredictionOptions, RunOutputs, SeriesDecisionRule, SliceOptions, grouped_options
from .records import SCHEMA_VERSION, ClinicalRunResult, ImageRunResult, InputResult
from .series import InputRun
from .slice_prediction import SlicePredictor
from .writers import PREDICTIONS_STEM, write_predictions, write_run_outputs

__all__ = ["ClinicalInferer", "run_clinical_inference"]

logger = logging.getLogger(__name__)

_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ClinicalInferer:
    """Classifies DICOM folders/files and NIfTI files slice by slice and decides per series; classifies image files
    as one-slice series with the same predictor and Grad-CAM.

    Options are checked here: a bad one raises ``ValueError`` before any input is read.

    - :meth:`classify_input` classifies ONE clinical input (file or folder) and returns the result in memory; nothing
      is written except saliency overlays when ``saliency_dir`` is given (the call for a single upload).
    - :meth:`run` (also ``inferer(...)``) classifies a list of clinical inputs and writes ``<run_name>.json`` and
      ``<run_name>.csv`` (and, by ``outputs``, the overlays and DICOM results) into ``outputs.output_dir``.
    - :meth:`classify_images` / :meth:`run_images` do the same for batches of preprocessed image files (one row per
      file; ``predictions.json`` and ``.csv``).

    Args:
        network: 2D classifier, (B, 3, S, S) -> (B, C) logits (or (B, 1) for a binary sigmoid model); moved to
            ``prediction.device`` and put in eval mode.
        preprocess: MONAI transform taking ``{"image": MetaTensor (1, H, W) float32}`` (a display-oriented slice in
            original intensities, 2D affine = pixel spacing; (1, W, H) with ``slice_layout="WH"``) and returning
            ``{"image": (3, S, S)}``.
        class_names: the C class names in output order.
        rule: how a series is decided (:class:`SeriesDecisionRule`).
        slicing: which series are read and how they are cut into slices (:class:`SliceOptions`).
        prediction: batch size, device, activation, temperature, Grad-CAM layer (:class:`PredictionOptions`).
        outputs: what :meth:`run` and :meth:`run_images` write (:class:`RunOutputs`).
        validation: the checkpoint's validation record (its metadata's ``"validation"``; None: none), recorded in
            the run's report; without one, or not validated on volumes, every series result warns
            :data:`~monai_tumorcls.apps.clinical.model_validation.NOT_VALIDATED_ON_VOLUMES`.

    Raises:
        ValueError: an invalid option (named in the message).
    """

    def __init__(
        self,
        network: torch.nn.Module,
        preprocess: Callable[[dict], dict],
        class_names: Sequence[str],
        rule: SeriesDecisionRule | None = None,
        slicing: SliceOptions | None = None,
        prediction: PredictionOptions | None = None,
        outputs: RunOutputs | None = None,
        validation: dict | None = None,
    ) -> None:
        self.class_names = [str(c) for c in class_names]
        if len(self.class_names) < 2 or len(set(self.class_names)) != len(self.class_names):
            raise ValueError(f"class_names must be two or more distinct names, got {self.class_names}")
        self.outputs = _checked_outputs(outputs or RunOutputs())  # checked before the network is moved
        self.rule = _checked_rule(rule or SeriesDecisionRule(), self.class_names)
        self.slicing = _checked_slicing(slicing or SliceOptions())
        prediction = prediction or PredictionOptions()
        self.predictor = SlicePredictor(network.to(torch.device(prediction.device)).eval(), preprocess,
                                        self.class_names, prediction, self.slicing.slice_layout)
        if self.rule.aggregation == LESION_VOLUME and not self.predictor.has_lesion:
            raise ValueError(f"aggregation {LESION_VOLUME!r} needs a network with a lesion head (forward_lesion)")
        self.validation = validation_record(validation)
        self.series_warnings = series_warnings(self.validation)

    def classify_input(
        self, path: str | PathLike, input_index: int = 0, saliency_dir: str | PathLike | None = None,
        exclude: Sequence[str | PathLike] = (), lesion_dir: str | PathLike | None = None,
    ) -> InputResult:
        """Classify one input: a DICOM folder (walked recursively; NIfTI files inside too), a DICOM file or a NIfTI
        file. Never raises for bad input: what could not be classified is in the result's ``errors``.

        Args:
            path: the input.
            input_index: the index recorded in the result's records.
            saliency_dir: if given, a Grad-CAM overlay PNG (first positive class) of every contributing slice is
                written there; the slice's ``saliency_file`` is ``"<saliency_dir name>/<png name>"`` and
                ``saliency_peak`` its peak (fractions of height and width).
            exclude: folders not scanned (e.g. the run's output folder inside the input), recorded as skipped. The
                output folder of any run (it holds the run's lock file) and this package's own DICOM outputs are
                skipped anyway.
            lesion_dir: if given (and the network has a lesion head), each series' lesion map is written there as
                NIfTI on the input's voxel grid (``lesion.map_file``); otherwise the map stays in memory,
                ``lesion.probabilities`` (H, W, N) on the display-oriented volume.

        Returns:
            an :class:`~monai_tumorcls.apps.clinical.records.InputResult`: ``series`` (each with ``decision`` and
            per-slice ``probabilities``/``tumour_probability``), ``skipped``, ``errors`` and the summary ``record``
            (``status``: ok / partial / failed).
        """
        saliency_dir = Path(saliency_dir) if saliency_dir is not None else None
        lesion_dir = Path(lesion_dir) if lesion_dir is not None else None
        return InputRun(self, input_index, saliency_dir, [Path(p) for p in exclude], lesion_dir).run(path)

    def run(self, inputs: Sequence[str | PathLike]) -> ClinicalRunResult:
        """Classify the clinical ``inputs``; write ``<run_name>.json`` and ``.csv`` into ``outputs.output_dir``,
        with ``outputs.saliency`` the overlays into ``<run_name>_saliency/`` and with ``outputs.dicom_results`` a
        DICOM SR and secondary captures per decided DICOM series into ``dicom_results/``.

        Returns:
            a :class:`ClinicalRunResult`; ``exit_code`` is 0 (all fine), 1 (some errors) or 2 (nothing classified).
        """
        output_dir, run_name = self._output_dir(), self.outputs.run_name
        run_name = run_name or time.strftime("clinical_%Y%m%dT%H%M%SZ", time.gmtime())
        saliency = self.outputs.saliency or self.outputs.dicom_results  # the secondary captures are the overlays
        saliency_dir = output_dir / f"{run_name}_saliency" if saliency else None
        lesion_maps = self.predictor.has_lesion and (self.outputs.lesion_maps or self.outputs.dicom_results)
        lesion_dir = output_dir / f"{run_name}_lesion" if lesion_maps else None  # the SEGs are made from them
        logger.info(validation_line(self.validation))
        result = ClinicalRunResult(
            run_name, output_dir / f"{run_name}.json", output_dir / f"{run_name}.csv", [], [], [], [],
            self.predictor.saliency_map, self.outputs.provenance.record(),
        )
        for idx, inp in enumerate(inputs):
            found = self.classify_input(inp, idx, saliency_dir, [output_dir], lesion_dir)  # outputs: never inputs
            for s in found.series:  # numbered across the run
                s.series_index = len(result.series)
                result.series.append(s)
            result.skipped += found.skipped
            result.errors += found.errors
            result.inputs.append(found.record)
        with stage("writing"):
            write_run_outputs(result, self._report(result), self.class_names, self.outputs.record_paths)
        logger.info(
            "clinical run %s: %d series classified, %d skipped, %d errors -> %s",
            run_name, len(result.series), len(result.skipped), len(result.errors), result.json_path.name,
        )
        if self.outputs.dicom_results:
            with stage("writing"):
                write_run_dicom_results(result, inputs, output_dir)
        return result

    __call__ = run

    def classify_images(self, batches: Iterable[dict], saliency_dir: str | PathLike | None = None) -> list[dict]:
        """The prediction rows of the image files in ``batches`` (collated items of the bundle's image dataset); with
        ``saliency_dir`` a Grad-CAM overlay of the predicted class of each classified image is written there."""
        saliency_dir = Path(saliency_dir) if saliency_dir is not None else None
        return classify_image_batches(self.predictor, batches, saliency_dir)

    def run_images(self, batches: Iterable[dict]) -> ImageRunResult:
        """Classify the image files in ``batches``; write ``predictions.json`` and ``.csv`` (one row per file) into
        ``outputs.output_dir``, with ``outputs.saliency`` the overlays into ``saliency/``."""
        output_dir = self._output_dir()
        rows = self.classify_images(batches, output_dir / "saliency" if self.outputs.saliency else None)
        with stage("writing"):
            write_predictions(output_dir, rows, self.class_names, self.outputs.provenance.record())
        result = ImageRunResult(rows, output_dir / f"{PREDICTIONS_STEM}.json", output_dir / f"{PREDICTIONS_STEM}.csv")
        logger.info("predictions for %d files written to %s (%d classified, %d failed, %d skipped)", len(rows),
                    output_dir, result.count("ok"), result.count("error"), result.count("skipped"))
        return result

    def _output_dir(self) -> Path:
        if self.outputs.output_dir is None:
            raise ValueError("outputs.output_dir must be set for a run that writes its results")
        return Path(self.outputs.output_dir)

    def options(self) -> dict:
        """The options recorded in a run's report."""
        slicing = self.slicing
        return {
            "class_names": self.class_names,
            "positive_classes": list(self.rule.positive_classes),
            "aggregation": self._aggregation(),
            "slice_axis": slicing.slice_axis,
            "slice_layout": slicing.slice_layout,
            "square_pixels": slicing.square_pixels,
            "pad_to_square": slicing.pad_to_square,
            "min_foreground_fraction": slicing.min_foreground_fraction,
            "selection": slicing.selection.to_dict(),
            "record_paths": self.outputs.record_paths,
            **self._lesion_options(),
            "validation": self.validation,
        }

    def _aggregation(self) -> dict:
        rule = self.rule
        aggregation = {"method": rule.aggregation, "top_k": rule.top_k, "threshold": rule.threshold}
        if rule.aggregation == LESION_VOLUME:
            aggregation["lesion_volume_ml"] = rule.lesion_volume_ml
        return aggregation

    def _lesion_options(self) -> dict:
        """The saliency and lesion options of a network with a lesion head (none for a classifier, whose report
        stays as it was)."""
        predictor = self.predictor
        if not predictor.has_lesion:
            return {}
        layer = predictor.saliency_layer if predictor.saliency_map == "grad_cam" else None
        return {"saliency_map": predictor.saliency_map, "saliency_layer": layer,
                "lesion_threshold": predictor.lesion_threshold}

    def _report(self, result: ClinicalRunResult) -> dict:
        record_paths = self.outputs.record_paths
        return {
            "schema_version": SCHEMA_VERSION,
            "provenance": result.provenance,
            "run": {"name": result.run_name, **self.options()},
            "summary": {
                "n_inputs": len(result.inputs),
                "n_series_classified": result.n_decided,
                "n_tumour": sum(1 for s in result.series if s.decision.is_tumour),
                "n_skipped": len(result.skipped),
                "n_errors": len(result.errors),
                "exit_code": result.exit_code,
            },
            "inputs": result.inputs,
            "series": [s.to_dict(record_paths) for s in result.series],
            "skipped": [i.to_dict() for i in result.skipped],
            "errors": [i.to_dict() for i in result.errors],
        }


def _checked_rule(rule: SeriesDecisionRule, class_names: list[str]) -> SeriesDecisionRule:
    """``rule`` with its positive classes as a tuple (the default ones when not given); ValueError when invalid."""
    positive = rule.positive_classes
    positive = tuple(positive) if positive is not None else default_positive_classes(class_names)
    if not positive or not set(positive) <= set(class_names):
        raise ValueError(f"positive_classes {list(positive)} must be among class_names {class_names}")
    if not 0.0 <= float(rule.threshold) <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {rule.threshold!r}")
    if not float(rule.lesion_volume_ml) >= 0.0:
        raise ValueError(f"lesion_volume_ml must be >= 0, got {rule.lesion_volume_ml!r}")
    uniform = np.full((1, len(class_names)), 1.0 / len(class_names))
    method = "max" if rule.aggregation == LESION_VOLUME else rule.aggregation  # the lesion rule's classifier part
    aggregate_slices(uniform, class_names, positive, method=method, top_k=rule.top_k)  # checks both
    return dataclasses.replace(rule, positive_classes=positive, threshold=float(rule.threshold),
                               lesion_volume_ml=float(rule.lesion_volume_ml))


def _checked_slicing(slicing: SliceOptions) -> SliceOptions:
    """``slicing`` with its numbers as floats and flags as bools; ValueError when invalid."""
    if slicing.slice_axis not in PLANES:
        raise ValueError(f"slice_axis must be one of {PLANES}, got {slicing.slice_axis!r}")
    if not 0.0 <= float(slicing.min_foreground_fraction) <= 1.0:
        raise ValueError(f"min_foreground_fraction must be in [0, 1], got {slicing.min_foreground_fraction!r}")
    if not isinstance(slicing.selection, SeriesSelection):
        raise ValueError(f"selection must be a SeriesSelection, got {type(slicing.selection).__name__}")
    return dataclasses.replace(
        slicing, square_pixels=bool(slicing.square_pixels), pad_to_square=bool(slicing.pad_to_square),
        min_foreground_fraction=float(slicing.min_foreground_fraction),
    )


def _checked_outputs(outputs: RunOutputs) -> RunOutputs:
    """``outputs`` with its flags as bools (a bundle's command line gives ``"true"``) and a provenance (the package
    version only when none is given); ValueError when invalid."""
    if outputs.run_name is not None and not _RUN_NAME.match(outputs.run_name):
        raise ValueError(f"run_name must match {_RUN_NAME.pattern}")
    provenance = outputs.provenance if outputs.provenance is not None else Provenance()
    if not isinstance(provenance, Provenance):
        raise ValueError(f"provenance must be a monai_tumorcls.checkpoint.Provenance, got {type(provenance).__name__}")
    flags = {name: as_flag(getattr(outputs, name), name)
             for name in ("record_paths", "saliency", "dicom_results", "lesion_maps")}
    return dataclasses.replace(outputs, provenance=provenance, **flags)


def run_clinical_inference(
    inputs: Sequence[str | PathLike],
    network: torch.nn.Module,
    preprocess: Callable[[dict], dict],
    class_names: Sequence[str],
    output_dir: str | PathLike,
    **options,
) -> ClinicalRunResult:
    """Classify DICOM folders/files and NIfTI files into ``output_dir`` once: a :class:`ClinicalInferer` built from
    flat option names (``aggregation="mean", run_name="study"``: see the fields of :class:`SeriesDecisionRule`,
    :class:`SliceOptions`, :class:`PredictionOptions` and :class:`RunOutputs`; ``validation``: the checkpoint's
    validation record), run on ``inputs``.

    Raises:
        ValueError: an invalid option. TypeError: an unknown option name.
    """
    validation = options.pop("validation", None)
    grouped = grouped_options(output_dir=output_dir, **options)
    return ClinicalInferer(network, preprocess, class_names, **grouped, validation=validation).run(inputs)
