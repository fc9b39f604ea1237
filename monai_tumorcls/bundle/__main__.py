"""Command line: ``python -m monai_tumorcls.bundle list`` (the shipped bundles), ``... copy NAME DEST``."""

from monai.utils import optional_import

from .packaged import copy_bundle, packaged_bundle_names

if __name__ == "__main__":
    fire, _ = optional_import("fire")
    fire.Fire({"list": packaged_bundle_names, "copy": copy_bundle})
