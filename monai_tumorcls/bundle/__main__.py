"""
Command line: ``python -m monai_tumorcls.bundle list`` (the shipped bundles), ``... copy NAME DEST``, ``... build``
(write the bundles' configs from the shared templates and each ``recipe.json``), ``... check`` (exit 1 when a
committed config is not what ``build`` writes, one line per file; see :mod:`monai_tumorcls.bundle.build`),
``... verify [--bundles_dir DIR]`` (MONAI's ``verify_metadata`` on every bundle's ``metadata.json`` with the shipped
schema; exit 1 when one fails) and ``... schema`` (the shipped schema's path, for ``verify_metadata --filepath``).
Installed, the same commands are ``monai-tumorcls-bundle list`` and so on.
"""

import sys

import fire

from .packaged import copy_bundle, packaged_bundle_names

# `list` and `copy` need only .packaged: the other commands import MONAI (through .build and .verify) when they run


def build(bundles_dir=None) -> list:
    """Write every bundle's configs under ``bundles_dir`` (default: the shipped bundles) from the shared templates
    and its ``recipe.json`` where they are not up to date; the paths written."""
    from .build import build_bundles

    return build_bundles(bundles_dir)


def schema() -> str:
    """The path of the shipped ``metadata.json`` schema (for ``verify_metadata --filepath``)."""
    from .verify import metadata_schema_path

    return metadata_schema_path()


def check(bundles_dir=None) -> None:
    """Print the built configs under ``bundles_dir`` (default: the shipped bundles) that differ from what ``build``
    writes, one per line, and exit 1 if there is any (for CI)."""
    from .build import check_bundles

    stale = check_bundles(bundles_dir)
    print("\n".join(stale) or "every built config is up to date")
    sys.exit(1 if stale else 0)


def verify(bundles_dir=None) -> None:
    """Print each bundle's ``metadata.json`` with ``ok`` or what fails in it, and exit 1 if one fails (for CI)."""
    from .verify import verify_bundle_metadata

    try:
        results = verify_bundle_metadata(bundles_dir)
    except ImportError as e:
        sys.exit(f"error: {e}")
    for path, error in results.items():
        print(f"{path}: {error or 'ok'}")
    sys.exit(1 if any(results.values()) or not results else 0)


def main() -> None:
    """``python -m monai_tumorcls.bundle`` and the ``monai-tumorcls-bundle`` command."""
    fire.Fire({"list": packaged_bundle_names, "copy": copy_bundle, "build": build, "check": check, "verify": verify,
               "schema": schema})


if __name__ == "__main__":
    main()
