"""Datasets that keep a batch job going when a file cannot be read."""

from __future__ import annotations

import logging
from typing import Callable, Sequence

import torch
from monai.data import Dataset, MetaTensor

from .readers.errors import ImageReadError

__all__ = ["FailSafeDataset"]

logger = logging.getLogger(__name__)


def _reported_cause(error: BaseException, path: str) -> BaseException:
    """The exception of ``error``'s cause chain to report: MONAI wraps transform errors, and the reader's own
    :class:`ImageReadError` (file and problem in one line) may itself wrap a library's vaguer error. The first
    ``ImageReadError`` of the chain wins, then the first message naming the file, then the innermost cause."""
    chain = [error]
    while chain[-1].__cause__ is not None and len(chain) < 50:
        chain.append(chain[-1].__cause__)
    return (next((c for c in chain if isinstance(c, ImageReadError)), None)
            or next((c for c in chain if str(path) in str(c)), None) or chain[-1])


class FailSafeDataset(Dataset):
    """A :class:`monai.data.Dataset` that turns a failing item into a placeholder instead of stopping the run.

    Images come out as plain tensors (the file is in ``path_key``): a batch collates by the type of its first item,
    and one that mixes a placeholder with images as read must not depend on which comes first.
    A successful item gets ``error_key = ""`` and ``warnings_key = ""`` unless the transform set them (e.g.
    :class:`~monai_tumorcls.data.FlagUntrustedImaged` after loading). When loading or transforming item ``i`` raises, the item
    becomes ``{image_key: zeros(fallback_shape), error_key: "<file>: <problem>", path_key: <file>, ...}`` (the
    other plain fields of the datalist item are kept), a warning is logged, and the run goes on; handlers such as
    :class:`monai_tumorcls.handlers.PredictionWriter` record the error for that file.

    Args:
        data: datalist of dicts, each with ``image_key`` holding the file path.
        transform: the loading + preprocessing transform.
        fallback_shape: shape of the placeholder image, i.e. the shape the transform produces, e.g. (3, 224, 224).
        image_key: key of the image path / tensor.
        error_key: key receiving the error message.
        path_key: key receiving the original file path (kept for reports).
        warnings_key: key receiving the image's warnings.
    """

    def __init__(
        self,
        data: Sequence[dict],
        transform: Callable | None,
        fallback_shape: Sequence[int],
        image_key: str = "image",
        error_key: str = "error",
        path_key: str = "image_path",
        warnings_key: str = "warnings",
    ) -> None:
        data = [{**d, path_key: str(d[image_key])} for d in data]
        super().__init__(data=data, transform=transform)
        self.fallback_shape = tuple(int(s) for s in fallback_shape)
        self.image_key, self.error_key, self.path_key = image_key, error_key, path_key
        self.warnings_key = warnings_key

    def _transform(self, index: int):
        item = self.data[index]
        if item.get("problem"):  # found by the datalist but not a readable file (e.g. a dangling link)
            return self._failed(item, f"{item[self.image_key]}: {item['problem']}")
        try:
            out = super()._transform(index)
        except Exception as e:  # noqa: BLE001 - any failure of one file must not stop the batch
            path = item[self.path_key]
            cause = _reported_cause(e, path)
            msg = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
            return self._failed(item, msg if path in msg else f"{path}: {msg}")
        if isinstance(out, dict):
            if isinstance(out.get(self.image_key), MetaTensor):
                out[self.image_key] = out[self.image_key].as_tensor()
            out.setdefault(self.error_key, "")
            out.setdefault(self.warnings_key, "")
        return out

    def _failed(self, item: dict, error: str) -> dict:
        """The placeholder item of a file that could not be read or transformed."""
        logger.warning("skipping %s", error)
        path = item[self.path_key]
        placeholder = torch.zeros(self.fallback_shape)
        plain = {k: v for k, v in item.items() if isinstance(v, (str, int, float, bool))}
        return {**plain, self.image_key: placeholder, self.error_key: error, self.warnings_key: ""}
