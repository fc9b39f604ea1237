"""Datasets that keep a batch job going when a file cannot be read."""

from __future__ import annotations

import logging
from typing import Callable, Sequence

import torch
from monai.data import Dataset, MetaTensor

from ..utils.deprecation import moved_keywords
from .item_keys import ItemKeys
from .readers.errors import ImageReadError

__all__ = ["FailSafeDataset", "DATALIST_NOTES"]

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


#: fields a datalist sets on an entry that is not read: ``problem`` (why it cannot be, an error row) and ``skip`` (why
#: it is not classified, e.g. an output of this package; a skipped row)
DATALIST_NOTES = ("problem", "skip")
_PLAIN = (str, int, float, bool)
_OLD_KEYWORDS = ItemKeys.old_keywords("image", "error", "path", "warnings", "skipped")


class FailSafeDataset(Dataset):
    """A :class:`monai.data.Dataset` that turns a failing item into a placeholder instead of stopping the run.

    **Every item has the same keys**, whatever happened to it: the plain (str, int, float, bool) fields of its datalist
    item, ``keys.image`` (a plain tensor; the file is in ``keys.path``), ``keys.error``, ``keys.warnings`` and
    ``keys.skipped``. A batch collates by the keys and types of its first item, so a batch must not depend on which item
    comes first (a failed item leading a batch used to drop the others' fields, or stop the whole run on a
    ``KeyError``); other keys a transform adds are left out.

    A successful item gets ``keys.error = ""`` and ``keys.warnings = ""`` unless the transform set them (e.g.
    :class:`~monai_tumorcls.data.FlagUntrustedImaged` after loading). When loading or transforming item ``i`` raises,
    or its datalist entry has a ``problem`` (e.g. a FIFO, never opened: :func:`~monai_tumorcls.data.
    image_folder_datalist`), the item becomes a placeholder ``{keys.image: zeros(fallback_shape), keys.error: "<file>:
    <problem>", ...}``, a warning is logged, and the run goes on. An entry with ``skip`` (an output of this package)
    becomes a placeholder with ``keys.skipped = "<file>: <reason>"``. Handlers such as
    :class:`monai_tumorcls.handlers.PredictionWriter` record the error or the skip for that file and ignore the
    network's output on a placeholder.

    Args:
        data: datalist of dicts, each with ``keys.image`` holding the file path.
        transform: the loading + preprocessing transform.
        fallback_shape: shape of the placeholder image, i.e. the shape the transform produces, e.g. (3, 224, 224).
        keys: the item keys (:class:`~monai_tumorcls.data.ItemKeys`): ``image`` (the image path / tensor), ``error``
            (receives the error message), ``path`` (receives the original file path, kept for reports), ``warnings``
            (receives the image's warnings) and ``skipped`` (receives why the file is not classified, "" when it is).
        old_keywords: ``image_key``, ``error_key``, ``path_key``, ``warnings_key``, ``skipped_key``: deprecated
            spellings of ``keys`` (a ``FutureWarning``; they go in the next release).
    """

    def __init__(self, data: Sequence[dict], transform: Callable | None, fallback_shape: Sequence[int],
                 keys: ItemKeys | None = None, **old_keywords: str) -> None:
        keys = moved_keywords("FailSafeDataset", keys, ItemKeys, old_keywords, _OLD_KEYWORDS, accepted=_OLD_KEYWORDS)
        data = [{**d, keys.path: str(d[keys.image])} for d in data]
        super().__init__(data=data, transform=transform)
        self.fallback_shape = tuple(int(s) for s in fallback_shape)
        self.keys = keys

    def _transform(self, index: int):
        item = self.data[index]
        path = item[self.keys.path]
        if item.get("skip"):
            logger.info("%s: %s", path, item["skip"])
            return self._placeholder(item, skipped=f"{path}: {item['skip']}")
        if item.get("problem"):  # found by the datalist but not a readable file (never opened)
            return self._failed(item, f"{path}: {item['problem']}")
        try:
            out = super()._transform(index)
        except Exception as e:  # noqa: BLE001 - any failure of one file must not stop the batch
            cause = _reported_cause(e, path)
            msg = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
            return self._failed(item, msg if path in msg else f"{path}: {msg}")
        return self._same_keys(item, out) if isinstance(out, dict) else out

    def _plain_fields(self, item: dict) -> dict:
        return {k: v for k, v in item.items() if k not in DATALIST_NOTES and isinstance(v, _PLAIN)}

    def _same_keys(self, item: dict, out: dict) -> dict:
        """A transformed item with exactly the keys of a placeholder (see the class doc)."""
        image = out[self.keys.image]
        return {
            **{k: out.get(k, v) for k, v in self._plain_fields(item).items()},
            self.keys.image: image.as_tensor() if isinstance(image, MetaTensor) else image,
            self.keys.error: out.get(self.keys.error) or "",
            self.keys.warnings: out.get(self.keys.warnings) or "",
            self.keys.skipped: "",
        }

    def _failed(self, item: dict, error: str) -> dict:
        """The placeholder item of a file that could not be read or transformed."""
        logger.warning("skipping %s", error)
        return self._placeholder(item, error=error)

    def _placeholder(self, item: dict, error: str = "", skipped: str = "") -> dict:
        return {**self._plain_fields(item), self.keys.image: torch.zeros(self.fallback_shape), self.keys.error: error,
                self.keys.warnings: "", self.keys.skipped: skipped}
