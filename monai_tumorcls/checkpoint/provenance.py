"""What produced an output: the package version, the bundle's name and version, the SHA-256 of the checkpoint file
and the time it was written. One record, named the same way in every output (prediction tables, clinical report and
slice table, DICOM SR, the web app's answers, exported models), so that any result can be traced to the weights and
code that made it.

The checkpoint is hashed once per run (:func:`checkpoint_provenance`); :meth:`Provenance.record` stamps the time
when an output is written.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..data.datalist import file_sha256

__all__ = ["PROVENANCE_COLUMNS", "Provenance", "checkpoint_provenance", "checkpoint_sha256", "provenance_cells"]

#: the columns of a CSV table that carry the record (the same value on every row: each row stands alone)
PROVENANCE_COLUMNS = ("package_version", "bundle_name", "bundle_version", "checkpoint_sha256", "created")


def utc_now() -> str:
    """The current UTC time as ISO 8601 to the second, e.g. ``2024-05-01T12:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass(frozen=True)
class Provenance:
    """What a run's outputs come from, fixed for the run.

    Attributes:
        bundle_name: the bundle (None outside a bundle).
        bundle_version: the bundle's ``metadata.json`` version.
        checkpoint_sha256: hex SHA-256 of the checkpoint file's bytes (``sha256sum`` finds the file); None when
            no checkpoint file was read.
        package_version: ``monai_tumorcls.__version__``.
    """

    bundle_name: str | None = None
    bundle_version: str | None = None
    checkpoint_sha256: str | None = None
    package_version: str = __version__

    def record(self, created: str | None = None) -> dict:
        """The record an output carries: ``package_version``, ``bundle`` (``name``, ``version``),
        ``checkpoint_sha256`` and ``created`` (UTC, ISO 8601; now unless given)."""
        return {
            "package_version": self.package_version,
            "bundle": {"name": self.bundle_name, "version": self.bundle_version},
            "checkpoint_sha256": self.checkpoint_sha256,
            "created": created or utc_now(),
        }


def checkpoint_sha256(checkpoint: str | Path | None) -> str | None:
    """Hex SHA-256 of the file ``checkpoint``; None when there is no such file (nothing was loaded from it)."""
    if checkpoint is None or not Path(checkpoint).is_file():
        return None
    return file_sha256(checkpoint)


def checkpoint_provenance(checkpoint: str | Path | None, bundle_name: str | None = None,
                          bundle_version: str | None = None) -> Provenance:
    """The :class:`Provenance` of a run that loads ``checkpoint`` (hashed here, once)."""
    return Provenance(bundle_name, bundle_version, checkpoint_sha256(checkpoint))


def provenance_cells(record: Mapping) -> dict[str, str]:
    """The :data:`PROVENANCE_COLUMNS` cells of a provenance ``record`` (empty text for an unknown value)."""
    bundle = record.get("bundle") or {}
    values = (record.get("package_version"), bundle.get("name"), bundle.get("version"),
              record.get("checkpoint_sha256"), record.get("created"))
    return {column: "" if value is None else str(value) for column, value in zip(PROVENANCE_COLUMNS, values)}
