"""The bundles shipped with the package: ``bundles/`` of a checkout, ``monai_tumorcls/_bundles/`` of an installed
wheel (the same folder, mapped by ``setup.py``), and copying one to a folder of the user's choice."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["packaged_bundles_dir", "packaged_bundle_names", "copy_bundle"]

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def packaged_bundles_dir() -> Path:
    """Folder holding the bundles: the installed package data, else the checkout's top-level ``bundles/``."""
    installed = _PACKAGE_DIR / "_bundles"
    return installed if installed.is_dir() else _PACKAGE_DIR.parent / "bundles"


def packaged_bundle_names() -> list[str]:
    """Names of the shipped bundles (folders with ``configs/metadata.json``)."""
    root = packaged_bundles_dir()
    return sorted(p.parent.parent.name for p in root.glob("*/configs/metadata.json")) if root.is_dir() else []


def copy_bundle(name: str, dest: str | os.PathLike) -> Path:
    """
    Copy bundle ``name`` (configs, docs, LICENSE and an empty ``models/``) to ``dest``, which must not exist yet;
    run outputs of the source (checkpoints, reports, logs) are not copied, nor its ``recipe.json`` (what its configs
    are built from, see :mod:`monai_tumorcls.bundle.build`: the copied configs are complete, and the user's to edit).

    Example::

        python -m monai_tumorcls.bundle copy resnet18_binary bundles/resnet18_binary
        python -m monai.bundle run training --config_file bundles/resnet18_binary/configs/train.json

    """
    if name not in packaged_bundle_names():
        raise ValueError(f"unknown bundle {name!r}; shipped: {', '.join(packaged_bundle_names())}")
    dest = Path(dest)
    if dest.exists():
        raise FileExistsError(f"{dest} exists: choose a new folder")
    src = packaged_bundles_dir() / name
    shutil.copytree(src, dest, ignore=lambda folder, names: _run_outputs(Path(folder), src, names))
    (dest / "models").mkdir(exist_ok=True)
    return dest


def _run_outputs(folder: Path, src: Path, names: list[str]) -> set[str]:
    """What is not the bundle in ``src`` (only configs, docs and LICENSE are): run outputs, ``recipe.json``."""
    if folder == src:
        return {n for n in names if n not in ("configs", "docs", "models", "LICENSE")}
    return {n for n in names if n != ".gitkeep"} if folder == src / "models" else {"__pycache__"} & set(names)
