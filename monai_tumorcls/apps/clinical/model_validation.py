"""The checkpoint's validation record (metadata key ``"validation"``): what the model was trained on, whether it
was validated on volumes, a short summary and the held-out results (``docs/reports/external_validation.md``).

A run prints it (log, the report's ``run`` block) and the app shows it. Without a record, or when the model was not
validated on volumes, every DICOM/NIfTI series result carries :data:`NOT_VALIDATED_ON_VOLUMES` (image files are
unaffected: the model was trained and tested on such images).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["NOT_VALIDATED_ON_VOLUMES", "SUMMARY_MAX_CHARS", "validation_record", "series_warnings",
           "validation_line"]

#: the warning of every series result of a model without a volume validation
NOT_VALIDATED_ON_VOLUMES = "not validated on volumes"
SUMMARY_MAX_CHARS = 400
_TEXT_MAX_CHARS = 200  # a token, a source path: short by nature; a longer one is cut, not trusted as layout


def _text(value, limit: int = _TEXT_MAX_CHARS) -> str | None:
    return str(value)[:limit] if isinstance(value, str) else None


def validation_record(record) -> dict | None:
    """The validation record as a plain dict of the expected fields and types, or None when there is none.

    Read defensively (the metadata may come from an older or hand-made checkpoint): a value of the wrong type is
    left out (``volumes_validated`` is then False), texts are cut to their length limit, non-finite numbers left
    out."""
    if not isinstance(record, Mapping):
        return None
    trained_on = record.get("trained_on")
    held_out = record.get("held_out")
    return {
        "trained_on": [t for t in map(_text, trained_on) if t] if isinstance(trained_on, (list, tuple)) else [],
        "volumes_validated": record.get("volumes_validated") is True,
        "summary": _text(record.get("summary"), SUMMARY_MAX_CHARS) or "",
        "held_out": {
            str(k)[:_TEXT_MAX_CHARS]: v for k, v in (held_out.items() if isinstance(held_out, Mapping) else ())
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        },
        "source": _text(record.get("source")) or "",
    }


def series_warnings(record: dict | None) -> list[str]:
    """The warnings every series result of a model with the (checked) validation ``record`` carries."""
    return [] if record is not None and record["volumes_validated"] else [NOT_VALIDATED_ON_VOLUMES]


def validation_line(record: dict | None) -> str:
    """One log line on the model's validation."""
    if record is None:
        return f"model validation: no record in the checkpoint ({NOT_VALIDATED_ON_VOLUMES})"
    volumes = "validated on volumes" if record["volumes_validated"] else NOT_VALIDATED_ON_VOLUMES
    trained = ", ".join(record["trained_on"]) or "unknown"
    return f"model validation: trained on {trained}; {volumes}; {record['summary']}".rstrip("; ")
