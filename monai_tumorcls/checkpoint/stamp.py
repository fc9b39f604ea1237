"""``python -m monai_tumorcls.checkpoint.stamp --checkpoint model.pt [--record record.json]``: stamp a validation
record (a JSON file, :mod:`monai_tumorcls.checkpoint.validation_record`) into a trained checkpoint, re-sealing its
digest; without ``--record``, print the stored record (schema and digest checked). Exit status 1 with one line on
stderr when the checkpoint or the record is refused."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .io import read_metadata
from .validation_record import stamp_validation_record


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m monai_tumorcls.checkpoint.stamp", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="model.pt written by training (with metadata)")
    ap.add_argument("--record", default=None, help="JSON file holding the record; without it the stored one is printed")
    args = ap.parse_args(argv)
    try:
        if args.record is not None:
            stamp_validation_record(args.checkpoint, json.loads(Path(args.record).read_text()))
        stored = read_metadata(args.checkpoint).get("validation")  # checked: schema and digest
    except (OSError, ValueError) as e:  # one line, naming the file (json errors are ValueErrors)
        print(f"error: {' '.join(str(e).split())[:500]}", file=sys.stderr)
        return 1
    print(json.dumps(stored, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
