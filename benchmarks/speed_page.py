"""``docs/reports/benchmarks.md``: the speed benchmarks' page. One ``## <configuration> — <machine>`` section per
configuration and machine; a run replaces the section of its own configuration and keeps the others."""

from __future__ import annotations

from pathlib import Path

from monai_tumorcls.utils.atomic import atomic_write_text
from monai_tumorcls.utils.reporting import merged_sections

from .bench_common import PROJECT_ROOT

OUT = PROJECT_ROOT / "docs" / "reports" / "benchmarks.md"
TITLE = "# Benchmarks: training throughput, inference latency, export speed and time to decision"
INTRO = """Written by `python -m benchmarks.train_throughput`, `python -m benchmarks.export_speed` and
`python -m benchmarks.time_to_decision` (see `benchmarks/README.md`). Each section is one configuration on one machine, named in its heading; a new run of the
same configuration on the same machine replaces its section, any other run adds its own. Each section gives the
date, the machine, the load average, library versions and the exact command. Only numbers that were measured are
reported. Numbers of different machines, or of a machine shared with other jobs at the time (see the load average
of each section), are not comparable.

To add GPU numbers, run on the GPU machine (it adds its own section):

```bash
python -m benchmarks.train_throughput --device cuda --amp bf16 --channels-last --num-workers 8 --epochs 2
```"""
PARTS = ("plain", "bundle", "synthetic", "latency", "stage1")


def machine_part(info: dict) -> str:
    """The machine half of a section name: CPU model, cores, GPUs."""
    return f"{info['cpu']}, {info['cores']} cores, GPU: {info['gpu']}"


def throughput_name(args, info: dict) -> str:
    """The section name of a ``train_throughput`` run: everything that sets its numbers, and the machine."""
    parts = [p if p != "stage1" else f"stage1 of {args.stage1_bundle}" for p in PARTS if p not in args.skip]
    threads = f", {args.threads} threads" if args.threads else ""
    return (f"train_throughput: {args.bundle} ({', '.join(args.archs)}), device {args.device}, amp {args.amp}"
            f"{', channels_last' if args.channels_last else ''}, {args.max_images or 'all'} images × {args.epochs} "
            f"epoch(s), batch {args.batch_size}, {args.image_size} px, {args.num_workers} workers{threads}; "
            f"{', '.join(parts)} — {machine_part(info)}")


def export_name(args, info: dict) -> str:
    """The section name of an ``export_speed`` run."""
    from monai_tumorcls.utils.reporting import portable_path

    weights = f"weights {portable_path(args.ckpt, PROJECT_ROOT)}" if args.ckpt else "random init"
    threads = f", {args.threads} threads" if args.threads else ""
    return (f"export_speed: {args.bundle} ({weights}), {args.images} images, batch {args.batch_size}, "
            f"{args.image_size} px{threads}{', no DICOM' if args.skip_dicom else ''} — {machine_part(info)}")


def write_section(out: Path, section: list[str]) -> None:
    """Replace (or add) ``section`` (its first line ``## <name>``) in the page ``out``, atomically."""
    existing = out.read_text() if out.is_file() else ""
    atomic_write_text(out, merged_sections(existing, TITLE, INTRO, section[0][3:].strip(), section))
