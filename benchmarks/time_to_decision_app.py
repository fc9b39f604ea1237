"""The warm service of :mod:`benchmarks.time_to_decision`: ``python -m monai_tumorcls.app`` on a free loopback port,
each study posted (latency), then a bounded load test (``--load-studies`` posts of the DICOM study,
``--load-concurrency`` at a time) and the server's peak RSS. Loopback only; the server is stopped at the end."""

from __future__ import annotations

import contextlib
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .bench_common import PROJECT_ROOT

__all__ = ["app_numbers"]

START_TIMEOUT_S = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(args, checkpoint: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """The app serving ``args.bundle`` with ``checkpoint``: (base URL, server process)."""
    import httpx

    port = _free_port()
    cmd = [sys.executable, "-m", "monai_tumorcls.app", "--bundle", str(PROJECT_ROOT / "bundles" / args.bundle),
           "--port", str(port), "--checkpoint", str(checkpoint), *args.overrides]
    with open(log, "ab") as out:
        server = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                raise SystemExit(f"error: the app did not start (exit {server.returncode}); see {log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"error: the app did not answer within {START_TIMEOUT_S} s; see {log}")
            time.sleep(0.5)
        yield url, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def upload_file(study: Path, work: Path) -> Path:
    """What is posted for ``study``: the file itself, the image of an image folder, a DICOM folder zipped."""
    if study.is_file():
        return study
    files = sorted(study.iterdir())
    if len(files) == 1 and files[0].suffix.lower() in (".jpg", ".jpeg", ".png"):
        return files[0].resolve()
    return Path(shutil.make_archive(str(work / study.name), "zip", study))


def post(url: str, upload: Path) -> float:
    """Seconds from sending ``upload`` to the answer (which must be a 200)."""
    import httpx

    start = time.perf_counter()
    with open(upload, "rb") as f:
        response = httpx.post(f"{url}/predict", files={"file": (upload.name, f)}, timeout=600)
    seconds = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"error: POST {upload.name} answered {response.status_code}: {response.text[:200]}")
    return seconds


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load_test(url: str, upload: Path, studies: int, concurrency: int) -> dict:
    """``studies`` posts of ``upload``, ``concurrency`` at a time: throughput and latency."""
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(lambda _: post(url, upload), range(studies)))
    wall = time.perf_counter() - start
    return {"study": upload.name, "studies": studies, "concurrency": concurrency, "wall": wall, "per_minute": 60 * studies / wall,
            "median": statistics.median(latencies), "p95": _percentile(latencies, 0.95)}


def _peak_rss_mb(pid: int) -> float | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def app_numbers(args, studies: dict[str, Path], files: dict[str, Path], work: Path) -> dict:
    """Latency of each study posted to the app (after one untimed post), the load test, the server's peak RSS."""
    uploads = {name: upload_file(study, work) for name, study in studies.items()}
    rows = []
    with served(args, files["checkpoint"], work / "app.log") as (url, server):
        for name, upload in uploads.items():
            post(url, upload)
            seconds = [post(url, upload) for _ in range(args.repeats)]
            rows.append({"study": studies[name].name, "median": statistics.median(seconds),
                         "p90": _percentile(seconds, 0.9)})
        load = load_test(url, uploads.get("dicom", next(iter(uploads.values()))), args.load_studies,
                         args.load_concurrency)
        rss = _peak_rss_mb(server.pid)
    return {"posts": rows, "load": load, "peak_rss_mb": rss}
