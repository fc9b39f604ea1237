"""Training throughput and inference latency on the real dataset, on this machine, in one run.

Measures, on the same images and machine:

* training images/s of full epochs for (a) a plain torchvision ``ImageFolder`` + ``DataLoader`` loop and (b) the
  bundle's own ``train#trainer`` (``bundles/<bundle>/configs/train.json`` instantiated through
  ``monai.bundle.ConfigParser``; its one-off ``CacheDataset`` fill is timed separately), for each backbone;
* the synthetic-input ceiling of (b): the same network, optimizer and loss stepped on one on-device batch, and
  the share of it the bundle trainer reaches (goal >= 80 %);
* inference latency per image at batch 1 (median of N): the network's forward pass, and read + preprocess +
  forward of real files with the bundle's own preprocessing;
* stage 1 of ``bundles/resnet18_4class`` (frozen trunk: features cached once by
  ``monai_tumorcls.engines.cache_features``, then only the head trains), timed as the bundle runs it.

The results are appended, as a new section, to a Markdown file (``docs/benchmarks.md`` by default; written
atomically), with the machine, versions, date and the exact command. Earlier sections are kept: numbers of
different machines, or of a machine shared with other jobs, are not comparable, so each run stays as measured.

Example (CPU, subset)::

    python benchmarks/train_throughput.py --device cpu --max-images 256

Example (GPU)::

    python benchmarks/train_throughput.py --device cuda --amp bf16 --channels-last --num-workers 8 --epochs 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import os
import random
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

PROJECT_ROOT = Path(__file__).resolve().parent.parent
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
STAGE1_GOAL_S = 300.0
CEILING_GOAL_PERCENT = 80.0  # bundle trainer vs the same steps on one on-device batch
DOC_HEADER = """# Benchmarks: training throughput and inference latency

Written by `benchmarks/train_throughput.py` (see `benchmarks/README.md`). Each run appends one section with the
machine, library versions, date and exact command; earlier sections are kept as measured. Only numbers that were
measured are reported. Numbers of different machines, or of a machine shared with other jobs at the time (see the
load average of each section), are not comparable.

To add GPU numbers, run on the GPU machine (it appends its own section):

```bash
python benchmarks/train_throughput.py --device cuda --amp bf16 --channels-last --num-workers 8 --epochs 2
```
"""

logger = logging.getLogger("benchmarks.train_throughput")


# ----------------------------------------------------------------------------------------------------- machine


def _mem_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def _load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def machine_info() -> dict:
    """CPU model, cores, memory, GPU and library versions (see ``monai_tumorcls.utils.environment_info``)."""
    import ignite

    from monai_tumorcls.utils import cpu_model, environment_info

    info = environment_info()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info.update(
        cpu=cpu_model(),
        cores=cores,
        memory_gib=_mem_gib(),
        ignite=ignite.__version__,
        gpu=", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) or "none",
        load_average=_load_average(),
    )
    return info


# ------------------------------------------------------------------------------------------------------ data
def bundle_datalists(bundle: str, max_images: int | None, seed: int) -> dict[str, list[dict]]:
    """The bundle's own datalists (its split), with a seeded subset of at most ``max_images`` training items
    (validation subset in proportion)."""
    from monai_tumorcls.bundle import load_bundle_config

    parser = load_bundle_config(PROJECT_ROOT / "bundles" / bundle, overrides={"bundle_root": tempfile.gettempdir()})
    lists = parser.get_parsed_content("datalists")
    if max_images is None or max_images >= len(lists["training"]):
        return lists
    rng = random.Random(seed)
    n_val = max(1, math.ceil(max_images * len(lists["validation"]) / len(lists["training"])))
    return {
        "training": rng.sample(lists["training"], max_images),
        "validation": rng.sample(lists["validation"], min(n_val, len(lists["validation"]))),
        "testing": [],
    }


def _amp_dtype(amp: str) -> torch.dtype | None:
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "none": None}[amp]


class _EpochTimer:
    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._t0 = 0.0

    def start(self, *_):
        self._t0 = time.perf_counter()

    def stop(self, *_):
        self.seconds.append(time.perf_counter() - self._t0)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _train_step(model, optimizer, loss_fn, x, y, dtype: torch.dtype | None, scaler) -> None:
    """One optimiser step, autocast to ``dtype`` when given and with gradient scaling when ``scaler`` is given."""
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None):
        loss = loss_fn(model(x), y)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()


def _time_epochs(args, device: torch.device, batches, step) -> list[float]:
    """Seconds taken by each of ``args.epochs`` epochs of ``step(x, y)`` over ``batches()``, device synchronised."""
    timer = _EpochTimer()
    for _ in range(args.epochs):
        timer.start()
        for x, y in batches():
            step(x, y)
        _sync(device)
        timer.stop()
    return timer.seconds


def _row(kind: str, pipeline: str, arch: str, args, amp: str, images: int, epoch_s: list[float],
         loader_workers: int = 0, cache_fill_s: float | None = None) -> dict:
    """One training-throughput row (the fields ``render_section`` tabulates)."""
    return {
        "kind": kind, "pipeline": pipeline, "arch": arch, "amp": amp, "channels_last": args.channels_last,
        "images": images, "loader_workers": loader_workers, "cache_fill_s": cache_fill_s, "epoch_s": epoch_s,
    }


# ---------------------------------------------------------------------------------------------- (a) plain loop
def _plain_loader(items: list[dict], data_dir: Path, args, device: torch.device):
    """``ImageFolder`` over ``<data_dir>/Training`` (decoded every epoch) restricted to ``items``, in a
    ``DataLoader``; returns ``(loader, images, classes)``."""
    import torchvision
    from torchvision import transforms as T

    size = args.image_size
    tf = T.Compose(
        [
            T.Resize((size, size), antialias=True),
            T.RandomHorizontalFlip(0.5),
            T.RandomApply([T.RandomRotation(15)], p=0.5),
            T.ToTensor(),
            T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    folder = torchvision.datasets.ImageFolder(str(data_dir / "Training"), transform=tf)
    wanted = {str(Path(it["image"]).resolve()) for it in items}
    index = [i for i, (p, _) in enumerate(folder.samples) if str(Path(p).resolve()) in wanted]
    if len(index) != len(wanted):
        raise RuntimeError(f"ImageFolder found {len(index)} of the {len(wanted)} benchmark images")
    loader = torch.utils.data.DataLoader(
        torch.utils.data.Subset(folder, index),
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=args.num_workers > 0,
    )
    return loader, len(index), len(folder.classes)


def bench_plain(items: list[dict], data_dir: Path, arch: str, args, device: torch.device) -> dict:
    """A plain torchvision loop: ``ImageFolder`` (decode every epoch) + ``DataLoader`` + ResNet + Adam."""
    import torchvision

    loader, n_images, n_classes = _plain_loader(items, data_dir, args, device)
    torch.manual_seed(args.seed)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = getattr(torchvision.models, arch)(weights=None, num_classes=n_classes).to(device, memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    dtype = _amp_dtype(args.amp)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 and device.type == "cuda" else None
    model.train()

    def step(x, y):
        x = x.to(device, non_blocking=True, memory_format=fmt)
        _train_step(model, opt, loss_fn, x, y.to(device, non_blocking=True), dtype, scaler)

    seconds = _time_epochs(args, device, lambda: loader, step)
    return _row("plain", "plain torchvision ImageFolder + DataLoader", arch, args, args.amp, n_images, seconds,
                loader_workers=args.num_workers)


# ------------------------------------------------------------------------------------------- (b) bundle trainer
def _bundle_parser(lists: dict, arch: str, args, device: torch.device, workdir: str):
    """The bundle's ``train.json`` with this benchmark's overrides (data, device, backbone, sizes, amp; no
    training handlers); returns ``(parser, amp_in_bundle)``."""
    from monai.bundle import ConfigParser

    dtype = _amp_dtype(args.amp)
    # MONAI's engines autocast on CUDA only; on the CPU the bundles' cpu_autocast gives amp its bfloat16 meaning
    amp_in_bundle = dtype is not None and (device.type == "cuda" or dtype == torch.bfloat16)
    parser = ConfigParser(globals={"_bench_datalists": lists, "_bench_amp_kwargs": {"dtype": dtype} if dtype else {}})
    parser.read_config(str(PROJECT_ROOT / "bundles" / args.bundle / "configs" / "train.json"))
    overrides = {
        "bundle_root": workdir,
        "datalists": "$_bench_datalists",
        "device": f"$torch.device('{device}')",
        "backbone": arch,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "image_size": args.image_size,
        "num_workers": args.num_workers,
        "cache_rate": 1.0,
        "amp": amp_in_bundle,
        "train#trainer#amp_kwargs": "$_bench_amp_kwargs",
        "train#trainer#train_handlers": [],
    }
    for key, value in overrides.items():
        parser[key] = value
    parser.parse()
    return parser, amp_in_bundle


def _bundle_network(parser, args):
    network = parser.get_parsed_content("network")
    # the config always converts the network to channels_last; follow --channels-last in every pipeline
    return network.to(memory_format=torch.channels_last if args.channels_last else torch.contiguous_format)


def bench_bundle(lists: dict, arch: str, args, device: torch.device, workdir: str) -> dict:
    """The bundle's ``train#trainer`` for ``args.epochs`` epochs, validation and logging handlers removed; the
    ``CacheDataset`` fill is timed separately."""
    from ignite.engine import Events
    from monai.utils import set_determinism

    parser, amp_in_bundle = _bundle_parser(lists, arch, args, device, workdir)
    set_determinism(seed=args.seed)
    t0 = time.perf_counter()
    parser.get_parsed_content("train#dataset")
    cache_fill = time.perf_counter() - t0
    _bundle_network(parser, args)
    trainer = parser.get_parsed_content("train#trainer")
    timer = _EpochTimer()
    trainer.add_event_handler(Events.EPOCH_STARTED, timer.start)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: (_sync(device), timer.stop()))
    trainer.run()
    return _row("bundle", f"bundle {args.bundle} train#trainer (CacheDataset)", arch, args,
                args.amp if amp_in_bundle else "none", len(lists["training"]), timer.seconds,
                loader_workers=parser.get_parsed_content("train#dataloader#num_workers"), cache_fill_s=cache_fill)


# ----------------------------------------------------------------------------------- (c) synthetic-input ceiling
def bench_synthetic(lists: dict, arch: str, args, device: torch.device, workdir: str) -> dict:
    """The ceiling of (b): the bundle's own network, optimizer and loss stepped on one fixed random batch that
    already sits on the device, as many steps per epoch as (b) takes, with (b)'s autocast and gradient scaling.
    No data loading, no transforms, no engine: what is left is the arithmetic."""
    parser, amp_in_bundle = _bundle_parser(lists, arch, args, device, workdir)
    torch.manual_seed(args.seed)
    network = _bundle_network(parser, args).train()
    optimizer, loss_fn = parser.get_parsed_content("optimizer"), parser.get_parsed_content("loss")
    dtype = _amp_dtype(args.amp) if amp_in_bundle else None
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    n_images = len(lists["training"])
    x = torch.randn(args.batch_size, 3, args.image_size, args.image_size, device=device).to(memory_format=fmt)
    y = torch.randint(0, int(parser.get_parsed_content("network_def#num_classes")), (args.batch_size,), device=device)

    def batches():  # as many steps as (b) takes, the last one as short as (b)'s last batch
        sizes = (min(args.batch_size, n_images - start) for start in range(0, n_images, args.batch_size))
        return ((x[:k], y[:k]) for k in sizes)

    def step(xb, yb):
        _train_step(network, optimizer, loss_fn, xb, yb, dtype, scaler)

    seconds = _time_epochs(args, device, batches, step)
    return _row("synthetic", f"synthetic ceiling: bundle {args.bundle} network + optimizer, one on-device batch", arch,
                args, args.amp if amp_in_bundle else "none", n_images, seconds)


# ---------------------------------------------------------------------------------------------------- latency
def _median_p90_ms(seconds: list[float]) -> tuple[float, float]:
    q = sorted(seconds)
    return 1000 * statistics.median(q), 1000 * q[min(len(q) - 1, math.ceil(0.9 * len(q)) - 1)]


@torch.inference_mode()
def bench_latency(items: list[dict], arch: str, args, device: torch.device, amp: str) -> dict:
    """Batch-1 latency: forward pass only (median and p90 of ``args.latency_runs`` after 5 warm-up runs), and
    read + preprocess (the bundle's ``preprocessing``) + forward of real files."""
    from monai_tumorcls.bundle import load_bundle_config
    from monai_tumorcls.networks import ResNetClassifier

    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    net = ResNetClassifier(arch, num_classes=2).eval().to(device, memory_format=fmt)
    x = torch.randn(1, 3, args.image_size, args.image_size, device=device).to(memory_format=fmt)
    dtype = _amp_dtype(amp)

    def forward(inp):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            out = net(inp)
        _sync(device)
        return out

    for _ in range(5):
        forward(x)
    fwd = []
    for _ in range(args.latency_runs):
        t0 = time.perf_counter()
        forward(x)
        fwd.append(time.perf_counter() - t0)
    parser = load_bundle_config(
        PROJECT_ROOT / "bundles" / args.bundle, overrides={"bundle_root": tempfile.gettempdir(), "image_size": args.image_size}
    )
    preprocessing = parser.get_parsed_content("preprocessing")
    e2e = []
    for item in items[: args.latency_runs]:
        t0 = time.perf_counter()
        img = preprocessing({"image": item["image"]})["image"]
        forward(torch.as_tensor(img)[None].to(device, memory_format=fmt))
        e2e.append(time.perf_counter() - t0)
    fwd_med, fwd_p90 = _median_p90_ms(fwd)
    return {
        "arch": arch,
        "device": str(device),
        "amp": amp,
        "runs": len(fwd),
        "forward_ms": fwd_med,
        "forward_p90_ms": fwd_p90,
        "e2e_runs": len(e2e),
        "e2e_ms": _median_p90_ms(e2e)[0] if e2e else None,
    }


# ---------------------------------------------------------------------------------------------------- stage 1
def _stage1_parser(args, device: torch.device, workdir: str):
    """The stage-1 bundle's ``train.json`` parsed with this benchmark's overrides, or why it cannot run (a str)."""
    from monai.bundle import ConfigParser

    cfg = PROJECT_ROOT / "bundles" / args.stage1_bundle / "configs" / "train.json"
    if not cfg.is_file():
        return f"not run: {cfg.relative_to(PROJECT_ROOT)} does not exist"
    max_images = None if args.stage1_max_images in (None, "all") else int(args.stage1_max_images)
    lists = bundle_datalists(args.stage1_bundle, max_images, args.seed) if max_images else None
    parser = ConfigParser(globals={"_bench_datalists": lists})
    parser.read_config(str(cfg))
    if "features" not in (parser.config.get("stage1") or {}):
        return f"not run: {cfg.relative_to(PROJECT_ROOT)} has no stage1#features (feature cache hook)"
    overrides = {"bundle_root": workdir, "device": f"$torch.device('{device}')", "num_workers": args.num_workers}
    if lists is not None:
        overrides["datalists"] = "$_bench_datalists"
    for key, value in overrides.items():
        parser[key] = value
    parser.parse()
    return parser


def bench_stage1(args, device: torch.device, workdir: str) -> dict:
    """Stage 1 of the two-stage bundle exactly as its ``run`` list starts it: cache the frozen trunk's features
    of the training and validation images, then train the head for ``stage1#epochs`` epochs (validation,
    early stopping and the stage-1 checkpoint included)."""
    from monai.utils import set_determinism

    parser = _stage1_parser(args, device, workdir)
    if isinstance(parser, str):
        return {"status": parser}
    set_determinism(seed=args.seed)
    start = time.perf_counter()
    parser.get_parsed_content("datalists")  # timed with the setup: the data lists are read here
    parser.get_parsed_content("network")
    t_setup = time.perf_counter()
    train_feats = parser.get_parsed_content("stage1#features#training")
    t_train = time.perf_counter()
    val_feats = parser.get_parsed_content("stage1#features#validation")
    t_val = time.perf_counter()
    trainer = parser.get_parsed_content("stage1#trainer")
    if "early_stop" in parser.config["stage1"]:
        parser.get_parsed_content("stage1#early_stop").set_trainer(trainer)
    trainer.run()
    _sync(device)
    end = time.perf_counter()
    return {
        "status": "ok",
        "bundle": args.stage1_bundle,
        "train_images": len(train_feats),
        "val_images": len(val_feats),
        "setup_s": t_setup - start,
        "cache_train_s": t_train - t_setup,
        "cache_val_s": t_val - t_train,
        "head_s": end - t_val,
        "epochs_run": trainer.state.epoch,
        "max_epochs": trainer.state.max_epochs,
        "total_s": end - start,
        "feature_shape": tuple(train_feats.features.shape[1:]),
    }


# ------------------------------------------------------------------------------------------------------ report
def _f(v, nd=1) -> str:
    return "—" if v is None else f"{v:.{nd}f}"


def _images_per_s(row: dict) -> float | None:
    total = sum(row["epoch_s"])
    return row["images"] * len(row["epoch_s"]) / total if total else None


def _ceiling_lines(train_rows: list) -> list[str]:
    """Per backbone: the bundle trainer's images/s as a share of the synthetic-input ceiling (goal >= 80 %)."""
    by_arch: dict[str, dict[str, float | None]] = {}
    for r in train_rows:
        by_arch.setdefault(r["arch"], {})[r["kind"]] = _images_per_s(r)
    lines = []
    for arch, ips in by_arch.items():
        if ips.get("bundle") and ips.get("synthetic"):
            share = 100 * ips["bundle"] / ips["synthetic"]
            verdict = "meets" if share >= CEILING_GOAL_PERCENT else "misses"
            lines.append(f"- {arch}: the bundle trainer runs at {share:.1f} % of the synthetic-input ceiling "
                         f"({verdict} the {CEILING_GOAL_PERCENT:.0f} % goal)")
    return ["", *lines] if lines else []


def render_section(info: dict, args, command: str, train_rows: list, latency_rows: list, stage1: dict | None) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    gpu = info["gpu"]
    lines = [
        f"## {now} — {info['cpu']}, {info['cores']} cores, GPU: {gpu}; device `{args.device}`",
        "",
        f"Command (from the project root): `{command}`",
        "",
        f"- machine: {info['machine']}, CPU {info['cpu']}, {info['cores']} cores available, "
        f"torch threads {torch.get_num_threads()}, memory {_f(info['memory_gib'])} GiB, GPU {gpu}",
        f"- load average (1/5/15 min) at start: {info['load_average']}; at end: {info.get('load_average_end', 'n/a')}",
        f"- versions: python {info['python']}, torch {info['torch']}, torchvision {info['torchvision']}, "
        f"monai {info['monai']}, pytorch-ignite {info['ignite']}",
        f"- settings: image size {args.image_size}, batch {args.batch_size}, epochs {args.epochs}, "
        f"amp {args.amp}, channels_last {args.channels_last}, max images {args.max_images or 'all'}, "
        f"DataLoader workers {args.num_workers}, seed {args.seed}",
    ]
    if args.note:
        lines.append(f"- note: {args.note}")
    if train_rows:
        lines += [
            "",
            "### Training throughput (full epochs over the same images)",
            "",
            "| pipeline | backbone | amp | channels_last | images | loader workers | cache fill s | epoch s | images/s |",
            "|---|---|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in train_rows:
            ips = _images_per_s(r)
            epochs = " / ".join(_f(s) for s in r["epoch_s"])
            lines.append(
                f"| {r['pipeline']} | {r['arch']} | {r['amp']} | {r['channels_last']} | {r['images']} | "
                f"{r['loader_workers']} | {_f(r['cache_fill_s'])} | {epochs} | {_f(ips)} |"
            )
        lines += [
            "",
            "images/s = images × epochs / summed epoch time. The bundle's epoch reads its `CacheDataset` (decoded, "
            "resized images; augmentation and normalisation run each epoch); its one-off cache fill is the "
            "`cache fill s` column. The plain loop decodes every JPEG every epoch. Validation is not run.",
        ]
        lines += _ceiling_lines(train_rows)
    if latency_rows:
        lines += [
            "",
            "### Inference latency per image (batch 1)",
            "",
            "| backbone | device | amp | forward median ms | forward p90 ms | runs | read + preprocess + forward median ms | files |",
            "|---|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in latency_rows:
            lines.append(
                f"| {r['arch']} | {r['device']} | {r['amp']} | {_f(r['forward_ms'])} | {_f(r['forward_p90_ms'])} | "
                f"{r['runs']} | {_f(r['e2e_ms'])} | {r['e2e_runs']} |"
            )
    if stage1 is not None:
        lines += ["", f"### Stage 1 of `{args.stage1_bundle}` (frozen trunk, cached features, head only)", ""]
        if stage1.get("status") != "ok":
            lines.append(f"{stage1['status']}.")
        else:
            verdict = "yes" if stage1["total_s"] < STAGE1_GOAL_S else "no"
            lines += [
                "| train / val images | feature map | setup s | cache train s | cache val s | head training s (epochs run / max) | total s | under 5 min |",
                "|---|---|---:|---:|---:|---:|---:|---|",
                f"| {stage1['train_images']} / {stage1['val_images']} | {stage1['feature_shape']} | "
                f"{_f(stage1['setup_s'])} | {_f(stage1['cache_train_s'])} | {_f(stage1['cache_val_s'])} | "
                f"{_f(stage1['head_s'])} ({stage1['epochs_run']} / {stage1['max_epochs']}) | "
                f"{_f(stage1['total_s'])} | {verdict} |",
                "",
                "Setup = datalists (file hashing for the duplicate-safe split) and network; caching = one pass of the "
                "frozen trunk over every image (read + preprocess + forward); head training includes validation "
                "and the stage-1 checkpoint.",
            ]
    return "\n".join(lines) + "\n"


def append_section(out: Path, section: str) -> None:
    """Append ``section`` to ``out`` atomically (creating it with the header when absent)."""
    from monai_tumorcls.utils import atomic_write_text

    text = out.read_text() if out.is_file() else DOC_HEADER
    atomic_write_text(out, text.rstrip("\n") + "\n\n" + section)


# -------------------------------------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default="resnet18_binary", help="bundle whose train.json is benchmarked")
    p.add_argument("--archs", nargs="+", default=["resnet18", "resnet50"], help="backbones to measure")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--amp", choices=["bf16", "fp16", "none"], default="none")
    p.add_argument("--channels-last", action="store_true", help="channels_last weights and inputs (both pipelines)")
    p.add_argument("--max-images", type=int, default=None, help="seeded subset of the training split (CPU runs)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader workers (plain loop) / cache-fill workers (bundle)")
    p.add_argument("--latency-runs", type=int, default=50, help="N of the batch-1 latency medians")
    p.add_argument("--stage1-bundle", default="resnet18_4class")
    p.add_argument("--stage1-max-images", default="all", help="'all' (the full Training split, default) or a number")
    p.add_argument("--skip", nargs="*", default=[], choices=["plain", "bundle", "synthetic", "latency", "stage1"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    p.add_argument("--note", default="", help="free text recorded with the section")
    p.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "benchmarks.md")
    return p.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("ignite").setLevel(logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but CUDA is not available")
    command = "python " + shlex.join(["benchmarks/train_throughput.py", *(sys.argv[1:] if argv is None else argv)])
    info = machine_info()
    logger.info("machine: %s", info)

    from monai_tumorcls.config import get_kaggle_root

    data_dir = get_kaggle_root()
    lists = bundle_datalists(args.bundle, args.max_images, args.seed)
    items = lists["training"]
    logger.info("%d training images from the %s split", len(items), args.bundle)
    train_rows, latency_rows = [], []
    with tempfile.TemporaryDirectory(prefix="bench_") as workdir:
        for arch in args.archs:
            if "plain" not in args.skip:
                train_rows.append(bench_plain(items, data_dir, arch, args, device))
                logger.info("%s", train_rows[-1])
            if "bundle" not in args.skip:
                train_rows.append(bench_bundle(lists, arch, args, device, workdir))
                logger.info("%s", train_rows[-1])
            if "synthetic" not in args.skip:
                train_rows.append(bench_synthetic(lists, arch, args, device, workdir))
                logger.info("%s", train_rows[-1])
            if "latency" not in args.skip:
                # CPU latency in float32; on an accelerator also with the requested precision
                latency_rows.append(bench_latency(items, arch, args, torch.device("cpu"), "none"))
                if device.type != "cpu":
                    latency_rows.append(bench_latency(items, arch, args, device, args.amp))
                logger.info("%s", latency_rows[-1])
        stage1 = None
        if "stage1" not in args.skip:
            stage1 = bench_stage1(args, device, workdir)
            logger.info("stage 1: %s", stage1)
    info["load_average_end"] = _load_average()
    section = render_section(info, args, command, train_rows, latency_rows, stage1)
    append_section(args.out, section)
    logger.info("appended to %s:\n%s", args.out, section)
    return section


if __name__ == "__main__":
    main()
