"""Time to decision of one study, and where the time goes: the cold command (``python -m monai.bundle run ...
inference.json``) and the warm service (model loaded, study posted), stage by stage, next to the forward-only
floor measured in the same run.

Studies (``$MONAI_DATA_DIRECTORY``): the shared Siemens T1 DICOM series (176 sagittal slices, resliced to axial),
the shared BraTS T1c NIfTI volume and one 2D Testing image. Engines: eager PyTorch, TorchScript
(``torch.jit.load`` of :func:`~monai_tumorcls.export.export_torchscript`'s file as the config's network) and ONNX
Runtime (the bundle's ``inference_onnx.json`` overlay on :func:`~monai_tumorcls.export.export_onnx`'s file).

- **cold**: each study and engine through ``benchmarks/cold_cli.py`` (what ``monai.bundle run`` does, with its
  stages timed: interpreter start, ``import monai``, other imports, config parse + model build, read (DICOM scan
  and decode, NIfTI or image read), slicing (reslice, slice selection), preprocessing, forward, aggregation,
  saliency, writing; peak RSS), plus the plain command and ``python -c "import monai"`` timed as a whole.
- **warm**: the bundle's ``clinical_inferer`` built once per engine (network loaded), each study classified
  ``--repeats`` times in this process (median), stage by stage; eager also with saliency of the contributing
  slices (what the app does). The forward-only floor: the same engine on as many preprocessed-size inputs as the
  study classified, in the same batches, median of 3.
- **app**: ``python -m monai_tumorcls.app`` on a free loopback port; each study posted ``--repeats`` times
  (median, p90), then a load test of ``--load-studies`` Siemens posts, ``--load-concurrency`` at a time
  (throughput, p95 latency), and the server's peak RSS.

The section of this bundle on this machine in ``docs/reports/benchmarks.md`` is written (replaced on a rerun) with
the machine, the load average, versions and the exact command (:mod:`benchmarks.time_to_decision_report`).

Example (from the project root, on a quiet machine)::

    python -m benchmarks.time_to_decision --bundle resnet18_multisource \\
        --checkpoint bundles/resnet18_multisource/folds/multisource_fold0/models/model.pt
    python -m benchmarks.time_to_decision --bundle resnet18_binary     # random weights, 224 px
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from monai_tumorcls.utils.reporting import load_average, machine_info, utc_now

from .bench_common import PROJECT_ROOT
from .cold_cli import cli_overrides
from .time_to_decision_app import app_numbers
from .time_to_decision_report import write_report

STUDIES = {
    "dicom": "dicom/siemens-trio-b17-t1-mprage-brain",
    "nifti": "nifti/brats2023-gli/BraTS-GLI-00001-000/BraTS-GLI-00001-000-t1c.nii.gz",
    "image": "brain-tumor-mri-dataset/Testing/glioma/Te-glTr_0000.jpg",
}
ENGINES = ("eager", "torchscript", "onnx")
logger = logging.getLogger("benchmarks.time_to_decision")


def study_paths(names: list[str], work: Path) -> dict[str, Path]:
    """The studies' paths; the image is linked into a folder of its own (the command line classifies folders)."""
    root = Path(os.environ.get("MONAI_DATA_DIRECTORY", PROJECT_ROOT.parent / "shared" / "data"))
    paths = {k: root / STUDIES[k] for k in names}
    for p in paths.values():
        if not p.exists():
            raise SystemExit(f"error: {p}: study not found (set MONAI_DATA_DIRECTORY, see docs/data.md)")
    if "image" not in paths:
        return paths
    image_dir = work / "image_study"
    image_dir.mkdir(exist_ok=True)
    (image_dir / paths["image"].name).symlink_to(paths["image"])
    return {**paths, "image": image_dir}


def checkpoint_for(args, work: Path) -> Path:
    """``--checkpoint``, else a seeded random-weight ResNet18 state dict (speed does not depend on weights)."""
    if args.checkpoint:
        return Path(args.checkpoint).resolve()
    from monai_tumorcls.networks import ResNetClassifier

    torch.manual_seed(0)
    path = work / "random_weights.pt"
    torch.save(ResNetClassifier("resnet18", num_classes=2).state_dict(), path)
    return path


def exports(args, checkpoint: Path, work: Path) -> dict[str, Path]:
    """The TorchScript and ONNX files of the checkpoint (written into ``work``)."""
    from monai_tumorcls.export import export_onnx, export_torchscript

    bundle = PROJECT_ROOT / "bundles" / args.bundle
    return {"torchscript": export_torchscript(bundle, work / "model.ts", checkpoint),
            "onnx": export_onnx(bundle, work / "model.onnx", checkpoint)}


def engine_cli_args(engine: str, files: dict[str, Path]) -> tuple[list[str], list[str]]:
    """The config files and ``--key value`` arguments of ``monai.bundle run`` for ``engine``."""
    if engine == "onnx":
        return ["inference.json", "inference_onnx.json"], ["--onnx_file", str(files["onnx"])]
    if engine == "torchscript":
        return ["inference.json"], ["--network", f"$torch.jit.load({str(files['torchscript'])!r})"]
    return ["inference.json"], []


def timed_process(cmd: list[str], log: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of the command ``cmd`` (its output into ``log``)."""
    with open(log, "ab") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise SystemExit(f"{tail}\nerror: {' '.join(cmd[:4])} ... failed (exit {proc.returncode})")
    return wall, usage.ru_maxrss / 1024


def cold_run(args, study: Path, engine: str, files: dict, work: Path) -> dict:
    """One cold command with its stages (``benchmarks/cold_cli.py``), and the same command plain."""
    configs, extra = engine_cli_args(engine, files)
    bundle_configs = [str(PROJECT_ROOT / "bundles" / args.bundle / "configs" / c) for c in configs]
    config = bundle_configs[0] if len(bundle_configs) == 1 else repr(bundle_configs)
    out = work / f"cold_{engine}_{study.stem}"
    run_args = ["--input_dir", str(study), "--output_dir", str(out), "--checkpoint", str(files["checkpoint"]),
                *extra, *args.overrides]
    result = work / "cold.json"
    launched = time.time()
    wall, _ = timed_process([sys.executable, str(PROJECT_ROOT / "benchmarks" / "cold_cli.py"), str(result), config,
                             *run_args], work / "cold.log")
    record = json.loads(result.read_text())
    plain, rss = timed_process([sys.executable, "-m", "monai.bundle", "run", "--config_file", config, *run_args],
                               work / "cold.log")
    seconds = {"interpreter": record["started"] - launched, **record["seconds"]}
    seconds["exit"] = launched + wall - record["ended"]  # interpreter shut-down (as seen from here)
    seconds["other"] = wall - sum(seconds.values())
    return {"study": study.name, "engine": engine, "seconds": seconds, "total": wall, "plain_total": plain,
            "peak_rss_mb": rss, "decision": _decision(out)}


def _decision(out: Path) -> dict:
    """The decision the run wrote (series or image), for the report's check that engines agree."""
    report = out / "clinical.json"
    if report.is_file():
        s = json.loads(report.read_text())["series"][0]["decision"]
        return {"label": s["label"], "tumour_probability": s["tumour_probability"]}
    rows = json.loads((out / "predictions.json").read_text())
    rows = rows["rows"]
    return {"label": rows[0]["predicted"], "probabilities": rows[0]["probabilities"]}


def import_monai(work: Path) -> list[tuple[float, float]]:
    """Wall seconds and peak RSS (MB) of ``python -c "import monai"`` (twice), the baseline of the cold goals."""
    return [timed_process([sys.executable, "-c", "import monai"], work / "cold.log") for _ in range(2)]


def loaded_engine(args, engine: str, files: dict, work: Path) -> dict:
    """The config overrides that carry ``engine``'s loaded network (eager: the checkpoint loaded by the config's own
    ``initialize``, as the CLI does) and what was read from the checkpoint, as the app keeps them."""
    from types import MappingProxyType

    from monai_tumorcls.bundle import load_bundle_config

    configs, _ = engine_cli_args(engine, files)
    base = {"checkpoint": str(files["checkpoint"]), "output_dir": str(work / "warm"), **cli_overrides(args.overrides)}
    if engine == "onnx":
        base["onnx_file"] = str(files["onnx"])
    parser = load_bundle_config(PROJECT_ROOT / "bundles" / args.bundle, configs, base)
    if engine == "torchscript":
        parser["network"] = torch.jit.load(str(files["torchscript"]))
    parser.get_parsed_content("initialize")
    meta = parser.get_parsed_content("checkpoint_meta") if "checkpoint_meta" in parser else None
    loaded = {**base, "network": parser.get_parsed_content("network"), "configs": configs}
    return {**loaded, "checkpoint_meta": MappingProxyType(meta)} if meta is not None else loaded


def study_parser(args, loaded: dict, study: Path, saliency: bool):
    """The bundle's config for ``study`` with the engine's loaded network put in (parsed once, not timed)."""
    from monai_tumorcls.bundle import load_bundle_config

    overrides = {k: v for k, v in loaded.items() if k != "configs"}
    overrides.update(input_dir=str(study), saliency=saliency)
    return load_bundle_config(PROJECT_ROOT / "bundles" / args.bundle, loaded["configs"], overrides)


def warm_runs(args, parser, study: Path, saliency_dir: Path | None) -> dict:
    """Median seconds per stage of ``--repeats`` classifications of ``study`` (after one untimed run), and the
    number of slices (or images) classified."""
    from monai_tumorcls.utils.stages import stage_times

    inferer = parser.get_parsed_content("clinical_inferer")()
    images = parser.get_parsed_content("input_kind") == "images"
    runs = []
    for k in range(args.repeats + 1):
        start = time.perf_counter()
        with stage_times() as seconds:
            if images:
                n = len(inferer.classify_images(parser.get_parsed_content("dataloader"), saliency_dir))
            else:
                found = inferer.classify_input(study, saliency_dir=saliency_dir)
                n = sum(s.n_slices - s.n_excluded_slices for s in found.series)
        seconds["total"] = time.perf_counter() - start
        runs += [seconds] if k else []  # the first run warms up
    keys = {key for r in runs for key in r}
    return {"seconds": {key: statistics.median(r.get(key, 0.0) for r in runs) for key in keys}, "classified": n}


def forward_floor(network, n: int, batch_size: int, image_size: int) -> float:
    """Median seconds of 3 forward passes over ``n`` inputs of the network's size, in the run's batches."""
    x = torch.randn(min(n, batch_size), 3, image_size, image_size)
    sizes = [min(batch_size, n - s) for s in range(0, n, batch_size)]
    times = []
    with torch.inference_mode():
        network(x)
        for _ in range(3):
            start = time.perf_counter()
            for size in sizes:
                network(x[:size])
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def warm_numbers(args, studies: dict, files: dict, work: Path) -> list[dict]:
    """Warm rows: every engine on every study without saliency, eager also with saliency (what the app does)."""
    rows = []
    for engine in args.engines:
        loaded = loaded_engine(args, engine, files, work)
        for name, study in studies.items():
            for saliency in (False, True) if engine == "eager" else (False,):
                parser = study_parser(args, loaded, study, saliency)
                found = warm_runs(args, parser, study, work / "warm_saliency" if saliency else None)
                size, batch = (int(parser.get_parsed_content(k)) for k in ("image_size", "batch_size"))
                found["forward_floor"] = forward_floor(loaded["network"], found["classified"], batch, size)
                rows.append({"study": study.name, "engine": engine, "saliency": saliency, **found})
                logger.info("warm %s %s saliency=%s: %.2f s", engine, name, saliency, found["seconds"]["total"])
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads or torch.get_num_threads())
    info, started, load_start = machine_info(), utc_now(), load_average()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        studies = study_paths(args.studies, work)
        checkpoint = checkpoint_for(args, work)
        files = {"checkpoint": checkpoint, **exports(args, checkpoint, work)}
        monai_start = import_monai(work)
        cold = [cold_run(args, s, e, files, work) for s in studies.values() for e in args.engines]
        warm = warm_numbers(args, studies, files, work)
        app = app_numbers(args, studies, files, work) if not args.skip_app else None
    results = {"import_monai": monai_start, "cold": cold, "warm": warm, "app": app}
    write_report(args, info, (started, load_start, load_average()), results)


def parse_args(argv: list[str] | None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--bundle", default="resnet18_multisource")
    p.add_argument("--checkpoint", help="the bundle's checkpoint (default: seeded random weights)")
    p.add_argument("--studies", nargs="+", choices=list(STUDIES), default=list(STUDIES))
    p.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    p.add_argument("--repeats", type=int, default=5, help="timed warm classifications and app posts per study")
    p.add_argument("--load-studies", type=int, default=20)
    p.add_argument("--load-concurrency", type=int, default=4)
    p.add_argument("--skip-app", action="store_true")
    p.add_argument("--threads", type=int, help="torch threads of the warm runs (default: torch's)")
    p.add_argument("--note", default="", help="what else ran on the machine (goes into the report)")
    p.add_argument("--out", type=Path, help="report page (default docs/reports/benchmarks.md)")
    p.add_argument("overrides", nargs="*", help="after --: --key value overrides of inference.json for every run")
    args = p.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    return args


if __name__ == "__main__":
    main()
