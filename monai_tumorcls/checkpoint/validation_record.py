"""The validation record of a checkpoint: what the model was measured on, on people it never saw.

``metadata["validation"]`` (schema: :func:`~monai_tumorcls.checkpoint.schema.check_validation_record`)::

    {"trained_on": ["kaggle", "lgg", "ixi"], "volumes_validated": false,
     "summary": "<= 400 printable characters", "held_out": {"flair.slice_auc": 0.85, ...},
     "source": "docs/reports/external_validation.md"}

It is written after training, by whoever measured the model (``benchmarks/external_validation.py`` stamps the
numbers it measured on each model's held-out people), into the existing ``model.pt``: the file is re-saved through
:func:`~monai_tumorcls.checkpoint.save_checkpoint`, so the digest is recomputed over the new metadata and the file
is replaced atomically. A checkpoint whose metadata was already edited (digest mismatch) is refused, never re-sealed.

    python -m monai_tumorcls.checkpoint.stamp --checkpoint model.pt --record record.json
    python -m monai_tumorcls.checkpoint.stamp --checkpoint model.pt      # print the stored record (checked)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from .io import update_metadata
from .schema import CheckpointMetadataError, check_validation_record

__all__ = ["validation_record", "stamp_validation_record"]

#: where the numbers of a record come from (the benchmark's page, relative to the project root)
DEFAULT_SOURCE = "docs/reports/external_validation.md"


def validation_record(trained_on: Sequence[str], held_out: Mapping[str, float], summary: str,
                      volumes_validated: bool = False, source: str = DEFAULT_SOURCE) -> dict:
    """A checked record (raises :class:`CheckpointMetadataError` naming the field that does not pass)."""
    record = {"trained_on": list(trained_on), "volumes_validated": bool(volumes_validated), "summary": summary,
              "held_out": {str(k): float(v) for k, v in held_out.items()}, "source": source}
    check_validation_record(record)
    return record


def stamp_validation_record(path: str | Path, record: Mapping) -> Path:
    """Put ``record`` into checkpoint ``path``'s metadata as ``validation`` (replacing any earlier record) and
    re-save it with a new digest, atomically.

    Raises:
        ValueError: one line naming the file: not a checkpoint with metadata (a plain state dict has nothing that
            says what it is), metadata that does not pass the schema or was edited after training
            (:class:`~monai_tumorcls.checkpoint.CheckpointDigestError`), or a record that does not pass.
    """
    try:
        update_metadata(path, {"validation": dict(record)})
    except CheckpointMetadataError as e:
        raise CheckpointMetadataError(f"{path}: validation record refused: {e}") from None
    return Path(path)
