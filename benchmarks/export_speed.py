"""CPU speed of the exported networks, in one run on the same images: eager PyTorch, TorchScript and ONNX Runtime
(images/s at a batch, latency per image at batch 1, and their largest output difference from eager), then the
seconds from the shared 176-slice Siemens DICOM series to written results with ``inference.json`` and with the
``inference_onnx.json`` overlay (a whole ``python -m monai.bundle run``: start-up, reading, reslicing, all slices,
files written).

The network is the bundle's ``network_def``; its weights come from ``--ckpt`` (default: random initialisation,
which the speed does not depend on). TorchScript is ``torch.jit.script`` of it (what ``monai.bundle ckpt_export``
writes); ONNX is :func:`monai_tumorcls.export.export_onnx`. Images are real Testing files through the bundle's
own ``preprocessing``; preprocessing is not timed in the images/s and latency columns.

The section of this configuration on this machine in ``docs/reports/benchmarks.md`` is written (replaced on a rerun;
the other sections are kept; :mod:`benchmarks.speed_page`) with the machine, the load average, versions, the data
and the exact command.

Example (from the project root)::

    python -m benchmarks.export_speed --note "2 cores shared with other jobs"
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from monai_tumorcls.utils.reporting import load_average, machine_info, median_p90_ms, portable_path, utc_now

from .bench_common import PROJECT_ROOT
from .speed_page import OUT, export_name, write_section

DICOM_SERIES = "dicom/siemens-trio-b17-t1-mprage-brain"
#: untimed single-image runs first: TorchScript's profiling executor re-optimises for each new input shape.
WARMUPS = 5
logger = logging.getLogger("benchmarks.export_speed")


def real_images(parser, count: int) -> torch.Tensor:
    """``count`` Testing images (round robin over the class folders), through the bundle's preprocessing."""
    from monai_tumorcls.config import get_kaggle_root

    folders = sorted(p for p in (get_kaggle_root() / "Testing").iterdir() if p.is_dir())
    files = [f for group in zip(*(sorted(d.iterdir()) for d in folders)) for f in group][:count]
    preprocessing = parser.get_parsed_content("preprocessing")
    return torch.stack([preprocessing({"image": str(f)})["image"] for f in files])


@torch.inference_mode()
def measure(name: str, forward, images: torch.Tensor, reference: torch.Tensor | None, args) -> dict:
    """images/s over all ``images`` in batches, and batch-1 latency (median and p90 of ``latency_runs``)."""
    batches = images.split(args.batch_size)
    forward(batches[0])  # warm-up (TorchScript profiles its first calls, ONNX Runtime allocates)
    start = time.perf_counter()
    outputs = torch.cat([forward(b) for b in batches])
    images_per_s = len(images) / (time.perf_counter() - start)
    times = []
    for i in range(args.latency_runs + WARMUPS):
        start = time.perf_counter()
        forward(images[i % len(images)][None])
        times.append(time.perf_counter() - start)
    median_ms, p90_ms = median_p90_ms(times[WARMUPS:])
    diff = float((outputs - reference).abs().max()) if reference is not None else 0.0
    return {"engine": name, "images_per_s": images_per_s, "median_ms": median_ms, "p90_ms": p90_ms, "max_abs_diff": diff, "outputs": outputs}


def dicom_to_results(args, bundle_root: Path, configs: list[str], out: Path) -> dict:
    """Wall seconds of ``python -m monai.bundle run`` on the DICOM series, and the slices it classified."""
    from monai_tumorcls.config import get_data_root

    cfg = ",".join(f"'bundles/{args.bundle}/configs/{c}'" for c in configs)
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", f"[{cfg}]", "--bundle_root", str(bundle_root),
           "--input_dir", str(get_data_root() / DICOM_SERIES), "--output_dir", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    series = json.loads((out / "clinical.json").read_text())["series"]
    return {"configs": " + ".join(configs), "seconds": seconds, "slices": sum(len(s["slices"]) for s in series)}


def render(info: dict, args, command: str, rows: list[dict], dicom_rows: list[dict], weights: str) -> list[str]:
    """The section's lines, its first line ``## <configuration> — <machine>``."""
    lines = [
        f"## {export_name(args, info)}",
        "",
        f"Measured {utc_now()}. Command (from the project root): `{command}`",
        "",
        f"- machine: {info['machine']}, {info['cores']} cores available, torch threads "
        f"{torch.get_num_threads()}, ONNX Runtime intra-op threads {torch.get_num_threads()}",
        f"- load average (1/5/15 min) at start: {info['load_average']}; at end: {info['load_average_end']}",
        f"- versions: python {info['python']}, torch {info['torch']}, monai {info['monai']}, onnxruntime {info['onnxruntime']}",
        f"- network: bundle `{args.bundle}` `network_def`, {weights}; image size {args.image_size}, float32, CPU",
        f"- data: {args.images} Kaggle Testing images (round robin over the 4 class folders) through the bundle's "
        f"`preprocessing` (not timed); DICOM: `$MONAI_DATA_DIRECTORY/{DICOM_SERIES}` (Siemens T1 MPRAGE, 176 slices)",
    ]
    lines += [f"- note: {args.note}"] if args.note else []
    lines += [
        "",
        f"| engine | images/s (batch {args.batch_size}) | latency median ms (batch 1) | latency p90 ms | max abs diff from eager |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['engine']} | {r['images_per_s']:.1f} | {r['median_ms']:.1f} | {r['p90_ms']:.1f} | {r['max_abs_diff']:.1e} |" for r in rows]
    lines += ["", "| DICOM folder → written results | seconds (wall, whole command) | slices classified |", "|---|---:|---:|"]
    lines += [f"| `{r['configs']}` | {r['seconds']:.1f} | {r['slices']} |" for r in dicom_rows]
    lines += ["", f"Latency: {args.latency_runs} single-image forward passes after {WARMUPS} warm-ups. The DICOM seconds "
              "include Python start-up and imports, series scanning, reslicing, every slice through the network and "
              "the JSON/CSV written; the 176 sagittal slices are resliced to axial, so more slices are classified."]
    return lines


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", default="resnet18_binary")
    p.add_argument("--ckpt", default=None, help="checkpoint (default: random initialisation)")
    p.add_argument("--images", type=int, default=64, help="real Testing images measured")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--latency-runs", type=int, default=30)
    p.add_argument("--threads", type=int, default=None, help="torch and ONNX Runtime threads (default: torch's)")
    p.add_argument("--skip-dicom", action="store_true")
    p.add_argument("--note", default="")
    p.add_argument("--out", type=Path, default=OUT)
    return p.parse_args(argv)


def main(argv=None) -> list[str]:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    command = "python " + shlex.join(["-m", "benchmarks.export_speed", *(sys.argv[1:] if argv is None else argv)])
    import onnxruntime

    from monai_tumorcls.bundle import load_bundle_config
    from monai_tumorcls.export import OnnxRuntimeNetwork, export_onnx
    from monai_tumorcls.checkpoint import load_checkpoint

    info = {**machine_info(), "onnxruntime": onnxruntime.__version__}
    with tempfile.TemporaryDirectory(prefix="export_speed_") as tmp:
        root = Path(tmp)
        parser = load_bundle_config(PROJECT_ROOT / "bundles" / args.bundle, "train.json",
                                    {"bundle_root": tmp, "pretrained": None, "image_size": args.image_size})
        net = parser.get_parsed_content("network_def").eval()
        if args.ckpt:
            load_checkpoint(args.ckpt, net)
        ckpt = root / "models" / "model.pt"
        ckpt.parent.mkdir()
        torch.save(net.state_dict(), ckpt)
        onnx_file = export_onnx(PROJECT_ROOT / "bundles" / args.bundle, root / "models" / "model.onnx", ckpt, image_size=args.image_size)
        images = real_images(parser, args.images)
        eager = measure("eager PyTorch", net, images, None, args)
        rows = [eager, measure("TorchScript (`torch.jit.script`)", torch.jit.script(net), images, eager["outputs"], args),
                measure("ONNX Runtime (CPU provider)", OnnxRuntimeNetwork(onnx_file, num_threads=torch.get_num_threads()), images, eager["outputs"], args)]
        for r in rows:
            logger.info("%s", {k: v for k, v in r.items() if k != "outputs"})
        dicom_rows = [] if args.skip_dicom else [
            dicom_to_results(args, root, configs, root / f"out_{i}")
            for i, configs in enumerate((["inference.json"], ["inference.json", "inference_onnx.json"]))]
        logger.info("%s", dicom_rows)
    info["load_average_end"] = load_average()
    weights = (f"weights from `{portable_path(args.ckpt, PROJECT_ROOT)}`" if args.ckpt
               else "random initialisation (speed does not depend on the weights)")
    section = render(info, args, command, rows, dicom_rows, weights)
    write_section(args.out, section)
    print("\n".join(section))
    return section


if __name__ == "__main__":
    main()
