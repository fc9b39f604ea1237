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

import torch

from monai_tumorcls.bundle import bundle_version, load_bundle_config
from monai_tumorcls.apps.clinical import ClinicalInferer
from monai_tumorcls.checkpoint import checkpoint_provenance
from monai_tumorcls.apps.clinical.model_validation import validation_record
from monai_tumorcls.visualize import grey_png

from .uploads import UploadError

__all__ = ["BundleService", "png_data_url"]

CONFIG = "inference.json"
META = "checkpoint_meta"  # the config's metadata stored in the checkpoint (absent from older configs)


def png_data_url(data: bytes) -> str:
    """``data:`` URL of PNG bytes (the page shows it without another request)."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


class SliceRecorder:
    """Wraps the bundle's slice preprocessing and keeps, per slice, the network input it produced as a PNG, so the
    page's slice viewer shows what the model saw. It changes nothing in what it wraps."""

    def __init__(self, transform=None) -> None:
        self.transform = transform
        self.images: dict[tuple[str, int], bytes] = {}

    def __call__(self, data: dict) -> dict:
        meta = getattr(data["image"], "meta", {})
        out = self.transform(data)
        key = (str(meta.get("series_id")), int(meta.get("slice_index", -1)))
        self.images[key] = grey_png(torch.as_tensor(out["image"])[0].cpu().numpy())
        return out


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
    """

    def __init__(self, bundle: str | PathLike, checkpoint: str | PathLike | None = None,
                 overrides: Mapping[str, Any] | None = None) -> None:
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
        series = [self._series(s.to_dict(with_path=False), out, recorder) for s in found.series]
        return {"kind": "volume", "class_names": self.class_names, "series": series, "errors": errors,
                "skipped": [f"{e.item}: {e.reason}" for e in found.skipped],
                "saliency_map": inferer.predictor.saliency_map}

    @staticmethod
    def _series(series: dict, out: Path, recorder: SliceRecorder) -> dict:
        slices = []
        for s in series["slices"]:
            image = recorder.images.get((series["series_id"], s["slice_index"]))
            overlay = s.get("saliency_file")
            slices.append({
                "index": s["slice_index"], "position_mm": s["position_mm"], "excluded": s["excluded"],
                "exclusion_reason": s["exclusion_reason"], "tumour_probability": s["tumour_probability"],
                "probabilities": s["probabilities"], "contributing": s["contributing"],
                "image": png_data_url(image) if image else None,
                "overlay": png_data_url((out / overlay).read_bytes()) if overlay else None,
                **{k: s[k] for k in ("lesion_area_px", "lesion_area_mm2") if k in s},
            })
        keep = ("series_id", "source", "modality", "slice_plane", "resliced", "n_slices", "n_excluded_slices",
                "decision", "notes", "warnings")
        lesion = {"lesion": series["lesion"]} if "lesion" in series else {}
        return {**{k: series[k] for k in keep}, **lesion, "slices": slices}
