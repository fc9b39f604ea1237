"""Training throughput and inference latency on the real dataset, on this machine, in one run.

Measures, on the same images and machine:

* training images/s of full epochs for (a) a plain torchvision ``ImageFolder`` + ``DataLoader`` loop and (b) the
  bundle's own ``train#trainer`` (``bundles/<bundle>/configs/train.json`` instantiated through
  ``monai.bundle.ConfigParser``; its one-off ``CacheDataset`` fill is timed separately), for each backbone;
* the synthetic-input ceiling of (b): the same network, optimizer and loss stepped on one on-device batch, and
  the share of it the bundle trainer reaches (goal >= 80 %);
* inference latency per image at batch 1 (median of N): the network's forward pass, and read + preprocess +
  forward of real files with the bundle's own preprocessing;
* stage 1 of ``bundles/resnet18_4class`` (:mod:`benchmarks.stage1_time`), timed as the bundle runs it.

The results go to a Markdown page (``docs/reports/benchmarks.md`` by default; written atomically) as the section of
this configuration on this machine (:mod:`benchmarks.speed_page`), with the machine, load average, versions, date
and the exact command: a rerun of the same configuration replaces its section, other sections are kept.

Example (CPU, subset)::

    python -m benchmarks.train_throughput --device cpu --max-images 256

Example (GPU)::

    python -m benchmarks.train_throughput --device cuda --amp bf16 --channels-last --num-workers 8 --epochs 2
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch

from monai_tumorcls.utils.reporting import load_average, machine_info, median_p90_ms

from .bench_common import (
    PROJECT_ROOT,
    EpochTimer,
    amp_dtype,
    bundle_datalists,
    sync,
    time_epochs,
    train_row,
    train_step,
)
from .speed_page import OUT, write_section
from .stage1_time import bench_stage1
from .throughput_report import render_section

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
logger = logging.getLogger("benchmarks.train_throughput")


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
    dtype = amp_dtype(args.amp)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 and device.type == "cuda" else None
    model.train()

    def step(x, y):
        x = x.to(device, non_blocking=True, memory_format=fmt)
        train_step(model, opt, loss_fn, x, y.to(device, non_blocking=True), dtype, scaler)

    seconds = time_epochs(args, device, lambda: loader, step)
    return train_row("plain", "plain torchvision ImageFolder + DataLoader", arch, args, args.amp, n_images, seconds,
                     loader_workers=args.num_workers)


def _bundle_parser(lists: dict, arch: str, args, device: torch.device, workdir: str):
    """The bundle's ``train.json`` with this benchmark's overrides (data, device, backbone, sizes, amp; no
    training handlers); returns ``(parser, amp_in_bundle)``."""
    from monai.bundle import ConfigParser

    dtype = amp_dtype(args.amp)
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
    timer = EpochTimer()
    trainer.add_event_handler(Events.EPOCH_STARTED, timer.start)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: (sync(device), timer.stop()))
    trainer.run()
    return train_row("bundle", f"bundle {args.bundle} train#trainer (CacheDataset)", arch, args,
                     args.amp if amp_in_bundle else "none", len(lists["training"]), timer.seconds,
                     loader_workers=parser.get_parsed_content("train#dataloader#num_workers"), cache_fill_s=cache_fill)


def bench_synthetic(lists: dict, arch: str, args, device: torch.device, workdir: str) -> dict:
    """The ceiling of (b): the bundle's own network, optimizer and loss stepped on one fixed random batch that
    already sits on the device, as many steps per epoch as (b) takes, with (b)'s autocast and gradient scaling.
    No data loading, no transforms, no engine: what is left is the arithmetic."""
    parser, amp_in_bundle = _bundle_parser(lists, arch, args, device, workdir)
    torch.manual_seed(args.seed)
    network = _bundle_network(parser, args).train()
    optimizer, loss_fn = parser.get_parsed_content("optimizer"), parser.get_parsed_content("loss")
    dtype = amp_dtype(args.amp) if amp_in_bundle else None
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    n_images = len(lists["training"])
    x = torch.randn(args.batch_size, 3, args.image_size, args.image_size, device=device).to(memory_format=fmt)
    y = torch.randint(0, int(parser.get_parsed_content("network_def#num_classes")), (args.batch_size,), device=device)

    def batches():  # as many steps as (b) takes, the last one as short as (b)'s last batch
        sizes = (min(args.batch_size, n_images - start) for start in range(0, n_images, args.batch_size))
        return ((x[:k], y[:k]) for k in sizes)

    def step(xb, yb):
        train_step(network, optimizer, loss_fn, xb, yb, dtype, scaler)

    seconds = time_epochs(args, device, batches, step)
    return train_row("synthetic", f"synthetic ceiling: bundle {args.bundle} network + optimizer, one on-device batch",
                     arch, args, args.amp if amp_in_bundle else "none", n_images, seconds)


@torch.inference_mode()
def bench_latency(items: list[dict], arch: str, args, device: torch.device, amp: str) -> dict:
    """Batch-1 latency: forward pass only (median and p90 of ``args.latency_runs`` after 5 warm-up runs), and
    read + preprocess (the bundle's ``preprocessing``) + forward of real files."""
    from monai_tumorcls.bundle import load_bundle_config
    from monai_tumorcls.networks import ResNetClassifier

    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    net = ResNetClassifier(arch, num_classes=2).eval().to(device, memory_format=fmt)
    x = torch.randn(1, 3, args.image_size, args.image_size, device=device).to(memory_format=fmt)
    dtype = amp_dtype(amp)

    def forward(inp):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            out = net(inp)
        sync(device)
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
    fwd_med, fwd_p90 = median_p90_ms(fwd)
    return {
        "arch": arch,
        "device": str(device),
        "amp": amp,
        "runs": len(fwd),
        "forward_ms": fwd_med,
        "forward_p90_ms": fwd_p90,
        "e2e_runs": len(e2e),
        "e2e_ms": median_p90_ms(e2e)[0] if e2e else None,
    }


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
    p.add_argument("--out", type=Path, default=OUT)
    return p.parse_args(argv)


def measure_archs(args, device: torch.device, lists: dict, workdir: str) -> tuple[list[dict], list[dict]]:
    """The training-throughput rows and the latency rows of every backbone of ``args.archs`` (parts not skipped)."""
    from monai_tumorcls.config import get_kaggle_root

    items, train_rows, latency_rows = lists["training"], [], []
    for arch in args.archs:
        if "plain" not in args.skip:
            train_rows.append(bench_plain(items, get_kaggle_root(), arch, args, device))
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
    return train_rows, latency_rows


def main(argv=None) -> list[str]:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("ignite").setLevel(logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but CUDA is not available")
    command = "python " + shlex.join(["-m", "benchmarks.train_throughput", *(sys.argv[1:] if argv is None else argv)])
    info = machine_info()
    logger.info("machine: %s", info)
    lists = bundle_datalists(args.bundle, args.max_images, args.seed)
    logger.info("%d training images from the %s split", len(lists["training"]), args.bundle)
    with tempfile.TemporaryDirectory(prefix="bench_") as workdir:
        train_rows, latency_rows = measure_archs(args, device, lists, workdir)
        stage1 = None
        if "stage1" not in args.skip:
            stage1 = bench_stage1(args, device, workdir)
            logger.info("stage 1: %s", stage1)
    info["load_average_end"] = load_average()
    section = render_section(info, args, command, train_rows, latency_rows, stage1)
    write_section(args.out, section)
    logger.info("wrote the section to %s:\n%s", args.out, "\n".join(section))
    return section


if __name__ == "__main__":
    main()
