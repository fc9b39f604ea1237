"""Ending a run that cannot start: exit status 3 and one error line (the traceback only at DEBUG level)."""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Any, NoReturn

__all__ = ["could_not_start"]

logger = logging.getLogger("monai_tumorcls")


def could_not_start(problem: str, debug: Any = False) -> NoReturn:
    """End the run with exit status 3 ("the run could not start") and ``problem`` as a one-line error.

    The traceback of the exception being handled is logged at DEBUG level (it reaches a log file configured at that
    level with ``--logging_file``) and printed to the console only with ``debug`` (``--debug true``). A
    ``SystemExit`` passes through MONAI's config expressions, which wrap any other exception in a long
    "Failed to evaluate" traceback."""
    logger.debug("the run could not start", exc_info=True)
    if str(debug).strip().lower() in ("true", "1", "yes"):
        traceback.print_exc()
    logger.error("%s", " ".join(problem.split()))
    sys.exit(3)
