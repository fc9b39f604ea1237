"""What the scripts of ``benchmarks/``, ``studies/`` and ``tools/`` share when they measure and write a report page.

A report page is a title, an introduction and ``## name`` sections: each run of a script replaces only the section it
measured (:func:`merged_sections`), so a page is never an append-log of runs. Each section says when it was measured
(:func:`utc_now`), on what (:func:`machine_line`, :func:`machine_info`) and under what load (:func:`load_average`).
Paths in reports are relative (:func:`portable_path`): never a machine's absolute path.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import statistics
import subprocess
import time
from pathlib import Path

from .run_info import cpu_model, environment_info, shell_join

__all__ = [
    "load_average",
    "machine_info",
    "machine_line",
    "median_p90_ms",
    "memory_gib",
    "merged_sections",
    "local_path",
    "portable_args",
    "portable_path",
    "read_json_object",
    "run_logged",
    "utc_now",
]


def read_json_object(path: Path) -> dict:
    """The JSON object in ``path``; ``{}`` when it is missing or holds none (a record a killed run never finished)."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def utc_now() -> str:
    """The time a section is written, as the reports print it: ``2026-12-05 09:54 UTC``."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def load_average() -> str:
    """The 1/5/15-minute load averages, ``"2.10 1.48 0.77"`` (``"n/a"`` where the system has none)."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def memory_gib() -> float | None:
    """Total memory in GiB (``/proc/meminfo``), or None where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def machine_line() -> str:
    """One line: CPU model and cores, or the GPU."""
    env = environment_info()
    if env.get("cuda"):
        return f"{env['cuda']} (GPU), {os.cpu_count()} CPU cores"
    return f"{cpu_model()}, {os.cpu_count()} cores, no GPU"


def machine_info() -> dict:
    """CPU model, cores available, memory, GPUs, load average and library versions (``environment_info`` plus)."""
    import ignite
    import torch

    info = environment_info()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info.update(
        cpu=cpu_model(),
        cores=cores,
        memory_gib=memory_gib(),
        ignite=ignite.__version__,
        gpu=", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) or "none",
        load_average=load_average(),
    )
    return info


def median_p90_ms(seconds: list[float]) -> tuple[float, float]:
    """Median and 90th percentile (nearest rank) of ``seconds``, in milliseconds."""
    q = sorted(seconds)
    return 1000 * statistics.median(q), 1000 * q[min(len(q) - 1, math.ceil(0.9 * len(q)) - 1)]


def merged_sections(existing: str, title: str, intro: str, name: str, new_section: list[str]) -> str:
    """A report page (``title``, ``intro``, then ``## name`` sections) with ``name``'s section replaced (or added at
    the end) and the other sections of ``existing`` kept in order: each run of a script rewrites only what it
    measured. ``new_section`` starts with its ``## name`` line."""
    sections = {}
    for block in existing.split("\n## ")[1:]:
        sections[block.split("\n", 1)[0].strip()] = "## " + block.rstrip() + "\n"
    sections[name] = "\n".join(new_section).rstrip() + "\n"
    return "\n".join([title, "", intro, ""]) + "\n" + "\n".join(sections.values())


def portable_path(path: str | Path, root: str | Path) -> str:
    """``path`` as a report may print it: relative to the project ``root`` when it lies below it, under
    ``$MONAI_DATA_DIRECTORY`` when it lies in the data root, else ``path/to/<its name>`` (never a machine's
    absolute path)."""
    from ..config import get_data_root

    path = Path(path).resolve()
    for base, prefix in ((Path(root).resolve(), ""), (get_data_root().resolve(), "$MONAI_DATA_DIRECTORY/")):
        if path.is_relative_to(base):
            rel = path.relative_to(base).as_posix()
            return (prefix + rel).rstrip("/.") or "."
    return f"path/to/{path.name}"


def local_path(path: str | Path, root: str | Path) -> str:
    """``path`` for a command run from the project ``root``: relative when it lies below it (pasteable), else
    absolute. Record such a command with :func:`portable_args`."""
    path, root = Path(path).resolve(), Path(root).resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def portable_args(args: list[str], root: str | Path) -> list[str]:
    """Command-line arguments as a record or report prints them: every absolute path made portable
    (:func:`portable_path`)."""
    return [portable_path(a, root) if a.startswith("/") else a for a in args]


def run_logged(cmd: list[str], log: Path, cwd: str | Path) -> float:
    """Run ``cmd`` in ``cwd`` with its output appended to ``log`` (a resumed run keeps the log of its earlier
    sittings); return its wall time, exit on failure."""
    start = time.perf_counter()
    with open(log, "a") as f:
        proc = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"command failed ({proc.returncode}), see {log}: {shell_join(cmd)}")
    return seconds
