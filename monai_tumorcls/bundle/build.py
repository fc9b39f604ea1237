"""
The bundles' shared configs, written once, and each bundle's recipe: what ``python -m monai_tumorcls.bundle build``
assembles into the full configs committed in ``bundles/<name>/configs/`` (and ``... check`` compares).

``templates/`` (next to this module, shipped as package data) holds what the supervised bundles share:
``train.json`` (the supervised training base), ``train_two_stage.json`` (frozen-trunk stage 1, then fine-tuning:
an override of the base), ``train_multisource.json`` (Kaggle + LGG + IXI with patient folds: an override of the
base), ``inference.json``, ``evaluate.json``, ``evaluate_external.json`` (held-out LGG people and IXI volumes: an
override of ``evaluate.json``), ``inference_onnx.json`` and ``logging.conf``.

``bundles/<name>/recipe.json`` holds what that bundle changes, one section a config file, in the syntax of a MONAI
override file::

    {
        "train": {"backbone": "resnet50", "network_def#head": "dense", "_remove_": ["imagenet_mean"]},
        "inference": {}
    }

Section ``X`` builds ``configs/X.json``: the templates its ``_base_`` names (default ``["X.json"]``) merged in
order, as MONAI merges a list of config files; the ids of ``_remove_`` deleted; every other entry set as
``ConfigParser.__setitem__`` sets an id (``#`` goes into nested dicts and list items, a list is replaced whole, an
existing key keeps its place and a new one goes last) or, for ``"+id"``, merged as MONAI merges files (a list
extended); then ``bundle_name``, where the config has one, set to the bundle's folder name. Every bundle with
``configs/metadata.json`` gets ``logging.conf``.

Built, so never edited by hand: ``logging.conf`` of every bundle and the ``configs/X.json`` of each recipe section
(``train``, ``inference``, ``evaluate``, ``inference_onnx`` of the supervised bundles). Hand-written sources, left
alone: every ``metadata.json``, ``resnet18_binary``'s ``adapt_clinical.json`` and ``multi_gpu_train.json``,
``resnet50_spp_binary``'s ``sweep.json`` and ``ssl_simclr_resnet18``'s ``train.json`` (self-supervised: no recipe).

The full configs stay committed so that every bundle is self-contained, as the MONAI model zoo expects: the documented
``python -m monai.bundle run training --config_file bundles/<name>/configs/train.json`` works from a fresh clone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from monai.bundle import ConfigParser
from monai.bundle.reference_resolver import ReferenceResolver
from monai.bundle.utils import ID_SEP_KEY, MERGE_KEY

from .packaged import packaged_bundles_dir

__all__ = [
    "TEMPLATES_DIR",
    "base_config",
    "build_config",
    "build_bundles",
    "built_files",
    "check_bundles",
    "config_get",
    "restated_ids",
]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
RECIPE = "recipe.json"
LOGGING = "logging.conf"
#: keys of a recipe section that are instructions to the builder, not config ids.
BASE_KEY, REMOVE_KEY = "_base_", "_remove_"


def _parent(config: dict, id: str) -> tuple[dict | list, str | int]:
    """
    The dict or list of ``config`` that holds ``id``, and the key or index there, found with ``ConfigParser``
    (MONAI's id syntax: ``#`` goes into nested dicts and lists). An override file has ids as its own keys
    (``"validate#dataset"`` of ``evaluate.json``), which are literal keys to MONAI until it merges the file: an id at
    or under one of them (``validate#dataset#data``) is found inside that entry.
    """
    id = ReferenceResolver.normalize_id(id)  # MONAI's separator is "::", "#" an alias of it
    literal = {ReferenceResolver.normalize_id(k): k for k in config}
    if id in literal:
        return config, literal[id]
    owner = max((k for k in literal if id.startswith(k + ID_SEP_KEY)), key=len, default=None)
    container, sub_id = (config[literal[owner]], id[len(owner) + len(ID_SEP_KEY) :]) if owner else (config, id)
    parent_id, _, key = sub_id.rpartition(ID_SEP_KEY)
    node = ConfigParser(container)[parent_id]
    return node, key if isinstance(node, dict) else int(key)


def config_get(config: dict, id: str, default: Any = None) -> Any:
    """The value of ``id`` in ``config``, ``default`` where it has none."""
    try:
        node, key = _parent(config, id)
        return node[key]
    except (KeyError, IndexError, ValueError):
        return default


def _set(config: dict, id: str, value: Any) -> None:
    """``config[id] = value`` as ``ConfigParser.__setitem__`` does it (an existing key keeps its place, a new one goes
    last), or, for ``"+id"``, MONAI's merge of config files: a list extended, a dict updated."""
    merge = id.startswith(MERGE_KEY)
    node, key = _parent(config, id[len(MERGE_KEY) :] if merge else id)
    if not merge:
        node[key] = value
    elif isinstance(node[key], list):
        node[key].extend(value)
    else:
        node[key].update(value)


def _remove(config: dict, id: str) -> None:
    node, key = _parent(config, id)
    del node[key]


def base_config(name: str, section: dict) -> dict:
    """Config ``name`` (``"train"``) before ``section`` of a recipe: its templates merged as MONAI merges files."""
    first, *overrides = section.get(BASE_KEY, [f"{name}.json"])
    config = json.loads((TEMPLATES_DIR / first).read_text())
    for template in overrides:
        for id, value in json.loads((TEMPLATES_DIR / template).read_text()).items():
            _set(config, id, value)
    return config


def build_config(name: str, section: dict, bundle_name: str) -> dict:
    """Config ``name`` of bundle ``bundle_name``, ``section`` being its recipe for that config."""
    config = base_config(name, section)
    for id in section.get(REMOVE_KEY, []):
        _remove(config, id)
    for id, value in section.items():
        if id not in (BASE_KEY, REMOVE_KEY):
            _set(config, id, value)
    if "bundle_name" in config:
        config["bundle_name"] = bundle_name
    return config


def restated_ids(name: str, section: dict) -> list[str]:
    """The entries of ``section`` (a recipe's, for config ``name``) that change nothing: an id set to the value its
    templates already give it, or a ``_remove_`` id they do not have. A recipe names only what it changes."""
    base = base_config(name, section)
    ids = [id for id in section if id not in (BASE_KEY, REMOVE_KEY)]
    same = [id for id in ids if config_get(base, id, KeyError) == section[id]]
    return same + [id for id in section.get(REMOVE_KEY, []) if config_get(base, id, KeyError) is KeyError]


def built_files(bundle_dir: Path) -> dict[str, str]:
    """``{file name in configs/: text}`` that ``build`` writes for the bundle in ``bundle_dir``."""
    files = {LOGGING: (TEMPLATES_DIR / LOGGING).read_text()}
    recipe_file = bundle_dir / RECIPE
    recipe = json.loads(recipe_file.read_text()) if recipe_file.is_file() else {}
    for name, section in recipe.items():
        config = build_config(name, section, bundle_dir.name)
        files[f"{name}.json"] = json.dumps(config, indent=4, ensure_ascii=False) + "\n"
    return files


def _bundle_dirs(bundles_dir: str | Path | None) -> list[Path]:
    root = Path(bundles_dir) if bundles_dir is not None else packaged_bundles_dir()
    return sorted(p.parent.parent for p in root.glob("*/configs/metadata.json"))


def _stale(bundles_dir: str | Path | None) -> dict[Path, str]:
    """``{path: built text}`` of the built configs under ``bundles_dir`` (default: the shipped bundles) whose file
    is missing or differs from what the build gives."""
    stale = {}
    for bundle_dir in _bundle_dirs(bundles_dir):
        for name, text in built_files(bundle_dir).items():
            path = bundle_dir / "configs" / name
            if not path.is_file() or path.read_text() != text:
                stale[path] = text
    return stale


def build_bundles(bundles_dir: str | Path | None = None) -> list[str]:
    """Write the built configs of the bundles under ``bundles_dir`` (default: the shipped bundles) that are not up to
    date; the paths written."""
    stale = _stale(bundles_dir)
    for path, text in stale.items():
        path.write_text(text)
    return [str(path) for path in stale]


def check_bundles(bundles_dir: str | Path | None = None) -> list[str]:
    """One line per built config under ``bundles_dir`` (default: the shipped bundles) that differs from what
    ``build_bundles`` writes: empty when every committed copy is up to date."""
    fix = "python -m monai_tumorcls.bundle build"
    return [f"{path}: not what its templates and {RECIPE} build; run `{fix}`" for path in _stale(bundles_dir)]
