"""The keys of a dataset item and of an engine's output item, named once for the datasets and handlers that read
them (:class:`~monai_tumorcls.data.FailSafeDataset`, :class:`~monai_tumorcls.handlers.PredictionWriter`,
:class:`~monai_tumorcls.handlers.SaliencyWriter`, :class:`~monai_tumorcls.handlers.ClassificationReportHandler`)."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["ItemKeys"]


@dataclass(frozen=True)
class ItemKeys:
    """Item keys; each component reads the ones it needs.

    Attributes:
        image: the image path in the datalist, the image tensor after loading.
        path: the original file path (kept for reports).
        error: why the file could not be read or classified ("" when it was).
        warnings: what makes the image's prediction untrustworthy, joined by "; " ("" when nothing).
        skipped: why the file is not classified ("" when it is).
        pred: the (C,) class probabilities of the engine's output.
        logits: the network's raw output (before the postprocessing).
        label: the integer label.
    """

    image: str = "image"
    path: str = "image_path"
    error: str = "error"
    warnings: str = "warnings"
    skipped: str = "skipped"
    pred: str = "pred"
    logits: str = "logits"
    label: str = "label"

    @classmethod
    def old_keywords(cls, *names: str) -> dict[str, str]:
        """The loose keywords (``<field>_key``) a component took before :class:`ItemKeys` -> their field, for
        :func:`~monai_tumorcls.utils.deprecation.moved_keywords`; all fields when no ``names`` are given."""
        return {f"{name}_key": name for name in names or [f.name for f in fields(cls)]}
