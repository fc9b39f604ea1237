"""The model behind the web app: the bundle's own ``configs/inference.json``, parsed with MONAI's
:class:`~monai.bundle.ConfigParser` as the command line does, so that the app's decision is the CLI's for the same
checkpoint (same preprocessing, network, post-processing and slice aggregation; nothing is copied here).

The network is built, its checkpoint loaded and hashed once; every request parses the config again with the
request's input and output folders as overrides and the loaded network and provenance put in, and asks it for the
:class:`~monai_tumorcls.apps.clinical.ClinicalInferer` it declares (``clinical_inferer``): an image file is
classified as a one-slice series, a DICOM or NIfTI input series by series (one input, results in memory).
"""

from __future__ import annotations

import base64
import json
import threading
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from monai_tumorcls.bundle import bundle_version, load_bundle_config
from monai_tumorcls.apps.clinical import ClinicalInferer
from monai_tumorcls.checkpoint import checkpoint_provenance
from monai_tumorcls.apps.clinical.model_validation import validation_record

from .recording import SliceRecorder, display_edges, series_slices
from .studies import StoreLimits, StudyStore
from .uploads import UploadError

__all__ = ["BundleService", "png_data_url", "series_label"]

CONFIG = "inference.json"
META = "checkpoint_meta"  # the config's metadata stored in the checkpoint (absent from older configs)


def png_data_url(data: bytes) -> str:
    """``data:`` URL of PNG bytes (the page shows it without another request)."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def clinical_inferer(parser, recorder: SliceRecorder) -> ClinicalInferer:
    """The bundle's own ``clinical_inferer``, its slice preprocessing wrapped by ``recorder`` (set in the config, so
    every other option is the command line's). The app classifies one input and writes no report."""
    recorder.transform = parser.get_parsed_content("slice_preprocessing")
    parser["clinical_inferer#preprocess"] = recorder
    return parser.get_parsed_content("clinical_inferer")()  # "_mode_": "callable": options are checked here


class BundleService:
    """A bundle ready to classify one uploaded input per call.

    Args:
        bundle: the bundle folder (holds ``configs/``).
        checkpoint: weights to load (default: the config's ``checkpoint``, ``<bundle>/models/model.pt``).
        overrides: further config overrides, as ``--key value`` of ``monai.bundle run``
            (e.g. ``{"train_overrides": {"image_size": 64}}``).
        store: how many classified studies the viewer's slice store keeps (:class:`~.studies.StoreLimits`).
    """

    def __init__(self, bundle: str | PathLike, checkpoint: str | PathLike | None = None,
                 overrides: Mapping[str, Any] | None = None, store: StoreLimits | None = None) -> None:
        self.bundle_dir = Path(bundle).resolve()
        self.overrides = {**(overrides or {}), "bundle_dir": str(self.bundle_dir)}
        if checkpoint is not None:
            self.overrides["checkpoint"] = str(Path(checkpoint).resolve())
        parser = load_bundle_config(self.bundle_dir, CONFIG, self.overrides)
        self.network = parser.get_parsed_content("network")
        parser.get_parsed_content("initialize")  # loads the checkpoint into the network, as the CLI does
        self.network.eval()
        self.bundle_name = str(parser.get_parsed_content("bundle_name"))
        self.class_names = [str(c) for c in parser.get_parsed_content("class_names")]
        self.checkpoint = Path(parser.get_parsed_content("checkpoint"))
        self.provenance = checkpoint_provenance(self.checkpoint, self.bundle_name, bundle_version(self.bundle_dir))
        # what was read from the checkpoint at start goes into every request's config (not read again)
        self.checkpoint_metadata = parser.get_parsed_content(META) if META in parser else {}
        self._loaded = {"network": self.network, "provenance": self.provenance}
        if META in parser:  # read-only mapping: the config parser must not read its contents as config (``$``, ``@``)
            self._loaded[META] = MappingProxyType(self.checkpoint_metadata)
        self._lock = threading.Lock()  # one request at a time uses the network (Grad-CAM hooks are not shared)
        self.studies = StudyStore(store)  # the viewer's slices of the last studies (GET /studies/...)

    def model_card(self) -> dict:
        """The bundle's ``metadata.json`` with the class names, the checkpoint's file name and SHA-256, the
        provenance record (:meth:`~monai_tumorcls.checkpoint.Provenance.record`) and the checkpoint's validation
        record (``validation``: None when it has none, see
        :func:`~monai_tumorcls.apps.clinical.model_validation.validation_record`)."""
        meta_path = self.bundle_dir / "configs" / "metadata.json"
        metadata = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        return {"bundle": self.bundle_name, "class_names": self.class_names, "provenance": self.provenance.record(),
                "checkpoint": {"file": self.checkpoint.name, "sha256": self.provenance.checkpoint_sha256,
                               "metadata": self.checkpoint_metadata},
                "validation": validation_record(self.checkpoint_metadata.get("validation")), "metadata": metadata}

    def predict(self, path: Path, work: Path, display_name: str, kind: str = "") -> dict:
        """Classify the image file, NIfTI file or DICOM folder ``path`` (``kind`` ``"dicom"``: an extracted zip,
        which must hold DICOM or NIfTI files); outputs go below ``work``. The answer carries the provenance record
        (``provenance``) with the time of the request.

        Raises:
            UploadError: nothing could be classified (the message names ``display_name`` and the reasons).
        """
        out = work / "outputs"
        overrides = {**self.overrides, **self._loaded, "input_dir": str(path), "output_dir": str(out), "saliency": True}
        with self._lock:
            parser = load_bundle_config(self.bundle_dir, CONFIG, overrides)
            try:
                if parser.get_parsed_content("input_kind") == "images":
                    if kind == "dicom":
                        raise UploadError(f"{display_name}: no DICOM or NIfTI file in the zip")
                    answer = self._image(parser, out, path, display_name)
                else:
                    answer = self._volume(parser, out, path, display_name)
            except SystemExit as e:  # a config step that ends a CLI run (its one-line error is in the log)
                message = f"{display_name}: the bundle could not run (exit status {e.code}; see the app's log)"
                raise UploadError(message, 500) from e
        return {**answer, "provenance": self.provenance.record()}

    def _image(self, parser, out: Path, path: Path, display_name: str) -> dict:
        inferer = parser.get_parsed_content("clinical_inferer")()
        (row,) = inferer.classify_images(parser.get_parsed_content("dataloader"), saliency_dir=out / "saliency")
        if row["status"] != "ok":
            error = row["error"].replace(str(path.resolve()), display_name).replace(str(path), display_name)
            raise UploadError(error)
        overlay = png_data_url((out / row["saliency_file"]).read_bytes())
        lesion = {k: row[k] for k in ("lesion_area_px", "lesion_peak") if k in row}  # a lesion head only
        return {"kind": "image", "class_names": self.class_names,
                "decision": {"predicted_class": row["predicted"], "probabilities": row["probabilities"]},
                "warnings": row["warnings"], "saliency_peak": row["saliency_peak"], "overlay": overlay,
                "saliency_map": inferer.predictor.saliency_map, **lesion}

    def _volume(self, parser, out: Path, path: Path, display_name: str) -> dict:
        recorder = SliceRecorder()
        inferer = clinical_inferer(parser, recorder)
        found = inferer.classify_input(path, saliency_dir=out / "saliency")
        errors = [f"{e.item}: {e.reason}" for e in found.errors]
        if not found.series:
            raise UploadError(f"{display_name}: nothing classified ({'; '.join(errors) or 'no series found'})")
        viewer = {s.series_id: series_slices(recorder, s, inferer) for s in found.series}
        study_id = self.studies.add(viewer)
        series = [self._series(s, out, recorder, viewer[s.series_id]) for s in found.series]
        return {"kind": "volume", "class_names": self.class_names, "series": series, "errors": errors,
                "skipped": [f"{e.item}: {e.reason}" for e in found.skipped],
                "saliency_map": inferer.predictor.saliency_map, "study_id": study_id}

    @staticmethod
    def _series(result, out: Path, recorder: SliceRecorder, viewer) -> dict:
        series = result.to_dict(with_path=False)
        slices = []
        for s in series["slices"]:
            k = s["slice_index"]
            image, source = recorder.images.get((series["series_id"], k)), viewer.image(k)
            overlay = s.get("saliency_file")
            slices.append({
                "index": k, "position_mm": s["position_mm"], "excluded": s["excluded"],
                "exclusion_reason": s["exclusion_reason"], "tumour_probability": s["tumour_probability"],
                "probabilities": s["probabilities"], "contributing": s["contributing"],
                "image": png_data_url(image) if image else None,
                "overlay": png_data_url((out / overlay).read_bytes()) if overlay else None,
                "source_shape": list(source.shape) if source is not None else None, "has_map": k in viewer.maps,
                **{k: s[k] for k in ("lesion_area_px", "lesion_area_mm2") if k in s},
            })
        keep = ("series_id", "source", "modality", "slice_plane", "resliced", "n_slices", "n_excluded_slices",
                "decision", "notes", "warnings")
        lesion = {"lesion": series["lesion"]} if "lesion" in series else {}
        return {**{k: series[k] for k in keep}, **lesion, "description": series_label(result),
                "display_edges": display_edges(series["slice_plane"]), "slices": slices}


def series_label(result) -> str:
    """What the series list calls a series: its DICOM SeriesDescription or NIfTI file name, else its modality and
    size (never its opaque id)."""
    return result.description or f"{result.modality or result.source.upper()} series, {result.n_slices} slices"
