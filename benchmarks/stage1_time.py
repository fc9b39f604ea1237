"""Stage 1 of the two-stage bundle (``resnet18_4class``), timed as its ``run`` list starts it: the frozen trunk's
features cached once (``monai_tumorcls.engines.cache_features``), then the head trained (part of
``benchmarks.train_throughput``)."""

from __future__ import annotations

import time

import torch

from .bench_common import PROJECT_ROOT, bundle_datalists, sync


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
    sync(device)
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
