"""Command line: run a bundle config that calls :func:`run_clinical_inference` and exit with its exit code.

Example::

    python -m monai_tumorcls.inference --config_file bundles/x/configs/inference.json \\
        --inputs /data/study1 /data/t1c.nii.gz --output_dir /data/out

The config must define the id given by ``--target`` (default ``clinical_result``) evaluating to a
:class:`~monai_tumorcls.inference.clinical.ClinicalRunResult`, e.g.
``"clinical_result": "$clinical.run_clinical_inference(@clinical_inputs, @network, ...)"`` with
``"imports": ["$import monai_tumorcls.inference as clinical"]`` (MONAI config imports need ``as`` for dotted
modules).
``--inputs`` and ``--output_dir`` override the ids ``clinical_inputs`` and ``output_dir`` (renamable with
``--inputs_id``/``--output_dir_id``); ``--set ID=JSON`` overrides any other id.
Exit codes: 0 all classified, 1 some per-item errors, 2 nothing classified, 3 the run could not start (a
configuration error, an unwritable output folder, or another run writing to it), with a one-line error
(the traceback with ``--debug``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import traceback
from collections.abc import Sequence

from monai.bundle import ConfigParser

from ..bundle.config import check_output_dir, output_lock
from .records import ClinicalRunResult

__all__ = ["main"]


def _argument_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m monai_tumorcls.inference", description=__doc__.splitlines()[0])
    ap.add_argument("--config_file", action="append", required=True, help="bundle config file(s), merged in order")
    ap.add_argument("--meta_file", default=None)
    ap.add_argument("--inputs", nargs="+", default=None, help="DICOM folders/files and NIfTI files")
    ap.add_argument("--output_dir", default=None)
    ap.add_argument("--target", default="clinical_result")
    ap.add_argument("--inputs_id", default="clinical_inputs")
    ap.add_argument("--output_dir_id", default="output_dir")
    ap.add_argument("--set", action="append", default=[], metavar="ID=JSON", help="override a config id")
    ap.add_argument("--log_level", default="INFO")
    ap.add_argument("--debug", action="store_true", help="print the traceback of a configuration error")
    return ap


def _configuration_error(error: Exception, debug: bool) -> int:
    """Print the innermost cause of ``error`` on one line (MONAI wraps expression errors); exit status 3."""
    cause = error
    while cause.__cause__ is not None:
        cause = cause.__cause__
    if debug:
        traceback.print_exc()
    print(f"configuration error: {type(cause).__name__}: {' '.join(str(cause).split())}", file=sys.stderr)
    return 3


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the configured target and return its exit code (3 when the run could not start)."""
    args = _argument_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.output_dir is not None:  # checked and locked before any work (exit status 3)
            check_output_dir(args.output_dir)
        with output_lock(args.output_dir) if args.output_dir is not None else contextlib.nullcontext():
            result = _parsed_target(args)
    except SystemExit as e:  # check_output_dir / output_lock: the one-line error is logged
        return int(e.code or 0)
    except Exception as e:  # noqa: BLE001 - a configuration problem: the run could not start (exit status 3)
        return _configuration_error(e, args.debug)
    if not isinstance(result, ClinicalRunResult):
        print(f"configuration error: target {args.target!r} did not return a ClinicalRunResult", file=sys.stderr)
        return 3
    summary = {"json": str(result.json_path), "csv": str(result.csv_path), "series": len(result.series),
               "skipped": len(result.skipped), "errors": len(result.errors), "exit_code": result.exit_code}
    print(json.dumps(summary))
    return result.exit_code


def _parsed_target(args: argparse.Namespace):
    """The config target after the command-line overrides."""
    parser = ConfigParser()
    parser.read_config(args.config_file if len(args.config_file) > 1 else args.config_file[0])
    if args.meta_file:
        parser.read_meta(args.meta_file)
    if args.inputs is not None:
        parser[args.inputs_id] = list(args.inputs)
    if args.output_dir is not None:
        parser[args.output_dir_id] = args.output_dir
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects ID=JSON, got {item!r}")
        try:
            parser[key] = json.loads(value)
        except json.JSONDecodeError:
            parser[key] = value
    return parser.get_parsed_content(args.target)


if __name__ == "__main__":
    sys.exit(main())
