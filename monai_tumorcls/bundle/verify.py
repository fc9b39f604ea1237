"""
Checking the bundles' ``configs/metadata.json`` with MONAI's ``verify_metadata`` against the schema that ships with
this package, so that the check never downloads anything.

MONAI's ``verify_metadata`` downloads the schema named by the metadata's ``schema`` URL into ``--filepath`` unless
that file exists already; given the shipped ``metadata_schema.json`` (the keys of MONAI's ``meta_schema_20240725``)
it reads that file instead. It validates with ``jsonschema`` (the ``verify`` extra: ``pip install
'monai-tumorcls[verify]'``, part of ``make setup``). The same check by hand, from a checkout::

    python -m monai.bundle verify_metadata --meta_file bundles/resnet18_binary/configs/metadata.json \\
        --filepath monai_tumorcls/bundle/metadata_schema.json

and, for every shipped bundle or the bundles under a folder, from anywhere::

    python -m monai_tumorcls.bundle verify [--bundles_dir bundles]
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from monai.utils import optional_import

from .packaged import packaged_bundles_dir

__all__ = ["METADATA_SCHEMA", "metadata_schema_path", "verify_bundle_metadata"]

#: MONAI's bundle metadata schema (its keys), shipped as package data.
METADATA_SCHEMA = Path(__file__).resolve().parent / "metadata_schema.json"


def metadata_schema_path() -> str:
    """Path of the shipped metadata schema: the ``--filepath`` of ``python -m monai.bundle verify_metadata``."""
    return str(METADATA_SCHEMA)


def _metadata_files(bundles_dir: str | Path | None) -> list[Path]:
    root = Path(bundles_dir) if bundles_dir is not None else packaged_bundles_dir()
    if (root / "configs" / "metadata.json").is_file():  # one bundle's folder
        return [root / "configs" / "metadata.json"]
    return sorted(root.glob("*/configs/metadata.json"))


def verify_bundle_metadata(bundles_dir: str | Path | None = None) -> dict[str, str]:
    """Run MONAI's ``verify_metadata`` on the ``configs/metadata.json`` of every bundle under ``bundles_dir`` (a
    folder of bundles or one bundle's folder; default: the shipped bundles) with the shipped schema.

    Returns:
        ``{metadata file: ""}`` for a file that passes, ``{metadata file: what fails}`` otherwise.

    Raises:
        ImportError: ``jsonschema`` is not installed (MONAI would fail with an unrelated ``TypeError``).
    """
    from monai.bundle import verify_metadata

    _, has_jsonschema = optional_import("jsonschema")
    if not has_jsonschema:
        raise ImportError("verify_metadata needs jsonschema: pip install 'monai-tumorcls[verify]' (in make setup)")
    # the file's own MD5, so that MONAI checks the file it reads instead of warning that it cannot
    md5 = hashlib.md5(METADATA_SCHEMA.read_bytes(), usedforsecurity=False).hexdigest()
    results = {}
    for meta_file in _metadata_files(bundles_dir):
        try:
            verify_metadata(meta_file=str(meta_file), filepath=str(METADATA_SCHEMA), hash_val=md5, hash_type="md5")
            results[str(meta_file)] = ""
        except ValueError as e:
            results[str(meta_file)] = " ".join(str(e).split())
    return results
