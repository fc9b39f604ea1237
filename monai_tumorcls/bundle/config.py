"""Reading one bundle config from another, so that inference uses the training config's own preprocessing and
network definition (referenced, never copied)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from monai.bundle import ConfigParser

__all__ = [
    "find_bundle_root",
    "load_bundle_config",
    "bundle_component",
    "exit_on_failures",
    "exit_with_status",
    "run_inference",
    "check_output_dir",
    "optional_value",
]


def find_bundle_root(bundle_name: str) -> str:
    """Absolute bundle folder: ``./bundles/<bundle_name>`` when run from the project root, else the current folder
    when it is the bundle itself (holds ``configs/``)."""
    candidate = Path("bundles") / bundle_name
    if (candidate / "configs").is_dir():
        return str(candidate.resolve())
    if (Path("configs") / "train.json").is_file():
        return str(Path.cwd())
    raise FileNotFoundError(
        f"bundle {bundle_name!r} not found from {os.getcwd()}: run from the project root or from the bundle folder"
    )


def load_bundle_config(bundle_root: str | os.PathLike, config: str = "train.json", overrides: Mapping[str, Any] | None = None) -> ConfigParser:
    """Parsed :class:`monai.bundle.ConfigParser` of ``<bundle_root>/configs/<config>`` with ``overrides`` applied."""
    path = Path(bundle_root) / "configs" / config
    if not path.is_file():
        raise FileNotFoundError(f"{path}: bundle config not found")
    parser = ConfigParser()
    parser.read_config(str(path))
    for key, value in (overrides or {}).items():
        parser[key] = value
    parser.parse()
    return parser


def bundle_component(parser: ConfigParser, key: str, instantiate: bool = True) -> Any:
    """Component ``key`` of a parsed bundle config (instantiated by default)."""
    return parser.get_parsed_content(key, instantiate=instantiate)


def optional_value(value: Any) -> Any:
    """``None`` for an unset bundle option (``None``, or a string ``""``/``"null"``/``"none"``, as the command line
    gives them), else ``value`` unchanged. E.g. ``"$f(@x) if monai_tumorcls.bundle.optional_value(@x) else None"``."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "null", "none")):
        return None
    return value


def exit_on_failures(num_failed: int, what: str = "item") -> None:
    """End a bundle run with exit status 1 when ``num_failed`` inputs could not be processed (each is recorded in
    the run's outputs); do nothing otherwise."""
    if num_failed:
        import logging
        import sys

        logging.getLogger("monai_tumorcls").error("%d %s(s) failed; see the run's outputs for the reasons", num_failed, what)
        sys.exit(1)


def exit_with_status(code: int) -> None:
    """End a bundle run with ``code`` when it is non-zero (e.g. a clinical run's ``exit_code``: 1 = some inputs
    failed, 2 = nothing classified)."""
    if code:
        import sys

        sys.exit(int(code))


def check_output_dir(output_dir: str | os.PathLike) -> None:
    """End the run with exit status 3 and a one-line error when ``output_dir`` cannot be created or written,
    before any work is done (a read-only or full disk is otherwise found only when the results are written)."""
    import logging
    import sys
    import tempfile

    try:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output_dir, prefix=".write_test_"):
            pass
    except OSError as e:
        logging.getLogger("monai_tumorcls").error("%s: output folder not writable (%s)", output_dir, e.strerror or e)
        sys.exit(3)


def run_inference(input_kind: str, evaluator, writer, clinical_run, output_dir: str | os.PathLike | None = None) -> None:
    """The one run statement of a bundle's ``inference.json``: a folder of images goes through the Ignite
    ``evaluator`` (one row per file by ``writer``; exit status 1 when any file failed), clinical input (DICOM
    folders, NIfTI files) through ``clinical_run`` (exit status from its result: 1 some inputs failed, 2 nothing
    classified). ``output_dir`` is checked first (:func:`check_output_dir`, exit status 3)."""
    if output_dir is not None:
        check_output_dir(output_dir)
    if input_kind == "images":
        evaluator.run()
        exit_on_failures(writer.num_failed, "image")
    else:
        exit_with_status(clinical_run().exit_code)
