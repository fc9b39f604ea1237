"""Reading one bundle config from another, so that inference uses the training config's own preprocessing and
network definition (referenced, never copied)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sys
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Mapping

from monai.bundle import ConfigParser

from ..data.own_outputs import OUTPUT_FOLDER_MARKER
from ..utils.atomic import is_out_of_space
from ..utils.exits import could_not_start
from .packaged import packaged_bundles_dir

__all__ = [
    "bundle_version",
    "find_bundle_root",
    "load_bundle_config",
    "bundle_component",
    "exit_on_failures",
    "exit_with_status",
    "run_inference",
    "check_output_dir",
    "output_lock",
    "could_not_start",
    "start_or_exit",
    "one_line_errors",
    "optional_value",
    "LOCK_FILE",
    "MIN_FREE_BYTES",
]

logger = logging.getLogger("monai_tumorcls")

LOCK_FILE = OUTPUT_FOLDER_MARKER  # the lock file also marks the folder as a run's outputs, never scanned as input
#: free space an output folder needs at the start of a run (tables, reports and overlays of a study fit well within)
MIN_FREE_BYTES = 64 * 2**20


def find_bundle_root(bundle_name: str) -> str:
    """Absolute bundle folder: ``./bundles/<bundle_name>`` when run from the project root (or a folder the bundle
    was copied into), else the current folder when it is the bundle itself (holds ``configs/``), else the copy
    installed with the package (read-only use: pass ``--bundle_root`` for the checkpoint and outputs)."""
    candidate = Path("bundles") / bundle_name
    if (candidate / "configs").is_dir():
        return str(candidate.resolve())
    if (Path("configs") / "train.json").is_file():
        return str(Path.cwd())
    if (packaged_bundles_dir() / bundle_name / "configs").is_dir():
        return str(packaged_bundles_dir() / bundle_name)
    raise FileNotFoundError(
        f"bundle {bundle_name!r} not found from {os.getcwd()}: run from the project root or from the bundle folder "
        f"(`python -m monai_tumorcls.bundle copy {bundle_name} DEST` copies it)"
    )


def bundle_version(bundle_root: str | os.PathLike) -> str | None:
    """The ``version`` of ``<bundle_root>/configs/metadata.json`` (what outputs name the bundle by); None without
    one."""
    path = Path(bundle_root) / "configs" / "metadata.json"
    if not path.is_file():
        return None
    version = json.loads(path.read_text()).get("version")
    return None if version is None else str(version)


def load_bundle_config(bundle_root: str | os.PathLike, config: str | Sequence[str] = "train.json",
                       overrides: Mapping[str, Any] | None = None) -> ConfigParser:
    """Parsed :class:`monai.bundle.ConfigParser` of ``<bundle_root>/configs/<config>`` (several: merged in order, as
    ``monai.bundle run --config_file "[...]"`` merges them) with ``overrides`` applied."""
    paths = [Path(bundle_root) / "configs" / c for c in ([config] if isinstance(config, str) else config)]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: bundle config not found")
    parser = ConfigParser()
    parser.read_config([str(p) for p in paths])
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


def exit_on_failures(num_failed: int, what: str = "item", num_classified: int | None = None) -> None:
    """End a bundle run with exit status 2 when nothing was classified (``num_classified == 0``: every input failed or
    was skipped), else 1 when ``num_failed`` inputs could not be processed (each is recorded in the run's outputs);
    do nothing otherwise (``num_classified=None``: not counted)."""
    if num_classified == 0:
        logger.error("no %s classified (%d failed); see the run's outputs for the reasons", what, num_failed)
        sys.exit(2)
    if num_failed:
        logger.error("%d %s(s) failed; see the run's outputs for the reasons", num_failed, what)
        sys.exit(1)


def exit_with_status(code: int) -> None:
    """End a bundle run with ``code`` when it is non-zero (e.g. a clinical run's ``exit_code``: 1 = some inputs
    failed, 2 = nothing classified)."""
    if code:
        sys.exit(int(code))


def start_or_exit(what: str | os.PathLike, func: Callable, *args: Any, debug: Any = False, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` for a step without which the run cannot start (e.g. loading the checkpoint);
    when it raises, :func:`could_not_start` with ``"<what>: <the error's message>"`` (``what`` is left out when
    the message already names it)."""
    try:
        return func(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - any failure here means the run cannot start
        message = str(e).strip() or type(e).__name__
        could_not_start(message if str(what) in message else f"{what}: {message}", debug)


_RUN_STARTED = False  # set by run_inference once the inputs are being read: later failures are not "could not start"


def _innermost(error: BaseException) -> tuple[BaseException, str]:
    """The exception at the bottom of ``error``'s chain, and the first line of the last MONAI config message above
    it (e.g. "Failed to instantiate component 'monai.data.dataloader.DataLoader' ..."), which says which config
    item it came from."""
    where = ""
    while (error.__cause__ or error.__context__) is not None:
        if str(error).startswith("Failed to "):
            where = str(error).splitlines()[0]
        error = error.__cause__ or error.__context__
    return error, where


def one_line_errors(debug: Any = False) -> None:
    """Called first in a bundle run's ``initialize``: an exception that ends the run before it reads any input (a
    bad option value that makes MONAI fail to build a component, ~70 lines of config-parser traceback otherwise)
    ends it with exit status 3 and one error line: the innermost message, and the config item it came from. The
    traceback is logged at DEBUG level (a log file); with ``--debug true`` nothing changes (full traceback)."""
    from ..utils.flags import as_flag

    if as_flag(debug, "debug"):
        return
    previous = sys.excepthook

    def on_uncaught_exception(kind, error, tb):
        if _RUN_STARTED or not issubclass(kind, Exception):  # a crash mid-run, Ctrl-C: Python's own report
            return previous(kind, error, tb)
        logger.debug("the run could not start", exc_info=(kind, error, tb))
        cause, where = _innermost(error)
        logger.error("the run could not start: %s: %s%s", type(cause).__name__, " ".join(str(cause).split()),
                     f" ({where[:160]})" if where else "")
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(3)  # an excepthook cannot set the exit status otherwise

    sys.excepthook = on_uncaught_exception


def check_output_dir(output_dir: str | os.PathLike) -> None:
    """End the run with exit status 3 and a one-line error when ``output_dir`` cannot be created or written, or has
    less than :data:`MIN_FREE_BYTES` free, before any work is done (a read-only or full disk is otherwise found
    only when the results are written)."""
    try:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output_dir, prefix=".write_test_"):
            pass
        free = shutil.disk_usage(output_dir).free
    except OSError as e:
        could_not_start(f"{output_dir}: output folder not writable ({e.strerror or e})")
    if free < MIN_FREE_BYTES:
        could_not_start(f"{output_dir}: only {free // 2**20} MiB free in the output folder's file system; a run "
                        f"needs at least {MIN_FREE_BYTES // 2**20} MiB")


@contextlib.contextmanager
def output_lock(output_dir: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``output_dir`` while a run writes into it, so that the outputs of one run form one
    set: a second run into the same folder ends at once with exit status 3 and a one-line error. The lock is an
    ``flock`` on ``<output_dir>/.monai_tumorcls.lock``; the operating system releases it when the process ends, so
    a crashed run leaves no stale lock. (A later run into the same folder replaces the earlier run's files.)"""
    path = Path(output_dir) / LOCK_FILE
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            could_not_start(f"{output_dir}: another run is writing to this output folder (it holds {LOCK_FILE}); "
                            "wait for it to end or choose another output folder")
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run_inference(
    input_kind: str, build_inferer: Callable, image_batches, inputs, output_dir: str | os.PathLike | None = None,
    debug: Any = False,
) -> None:
    """The one run statement of a bundle's ``inference.json``: ``build_inferer()`` (the config's
    ``clinical_inferer``) makes the :class:`~monai_tumorcls.apps.clinical.ClinicalInferer`, which classifies a folder
    of images (``image_batches``, the config's data loader; one row per file; exit status 2 when no file was
    classified, else 1 when any file failed) or the clinical ``inputs`` (DICOM folders, NIfTI files; exit status 1
    some inputs failed, 2 nothing classified). A refused option ends the run with exit status 3 before any input is
    read. ``output_dir`` is checked first (:func:`check_output_dir`, exit status 3) and locked for the run
    (:func:`output_lock`, exit status 3 when another run holds it). A disk that fills up during the run ends it with
    one line and exit status 3; the result tables are written as one set, so none of them is left half-written."""
    if output_dir is not None:
        check_output_dir(output_dir)
    global _RUN_STARTED
    with output_lock(output_dir) if output_dir is not None else contextlib.nullcontext():
        _RUN_STARTED = True
        earlier = sorted(p.name for p in Path(output_dir).glob("*.json")) if output_dir is not None else []
        if earlier:  # one run after another into one folder: said, not silent
            logger.warning("%s: this run replaces the outputs of an earlier run (%s)", output_dir, ", ".join(earlier))
        try:
            _run(input_kind, build_inferer, image_batches, inputs, debug)
        except OSError as e:
            if not is_out_of_space(e):
                raise
            could_not_start(f"{output_dir}: no space left while writing the results ({e.strerror}); the run's "
                            "result tables were not written", debug)


def _run(input_kind: str, build_inferer: Callable, image_batches, inputs, debug: Any) -> None:
    try:
        inferer = build_inferer()
    except (ValueError, TypeError) as e:  # options refused by ClinicalInferer before any input is read
        could_not_start(f"clinical inference options: {e}", debug)
    if input_kind == "images":
        result = inferer.run_images(image_batches)
        exit_on_failures(result.count("error"), "image", result.count("ok"))
        return
    exit_with_status(inferer.run(inputs).exit_code)
