"""
Command line: ``python -m monai_tumorcls.bundle list`` (the shipped bundles), ``... copy NAME DEST``, ``... build``
(write the bundles' configs from the shared templates and each ``recipe.json``) and ``... check`` (exit 1 when a
committed config is not what ``build`` writes, one line per file); see :mod:`monai_tumorcls.bundle.build`.
"""

import sys

from monai.utils import optional_import

from .build import build_bundles, check_bundles
from .packaged import copy_bundle, packaged_bundle_names


def check(bundles_dir=None) -> None:
    """Print the built configs under ``bundles_dir`` (default: the shipped bundles) that differ from what ``build``
    writes, one per line, and exit 1 if there is any (for CI)."""
    stale = check_bundles(bundles_dir)
    print("\n".join(stale) or "every built config is up to date")
    sys.exit(1 if stale else 0)


if __name__ == "__main__":
    fire, _ = optional_import("fire")
    fire.Fire({"list": packaged_bundle_names, "copy": copy_bundle, "build": build_bundles, "check": check})
