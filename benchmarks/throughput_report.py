"""The ``train_throughput`` section of ``docs/reports/benchmarks.md``: training throughput, the synthetic-input
ceiling share, batch-1 latency and stage 1."""

from __future__ import annotations

import torch

from monai_tumorcls.utils.reporting import utc_now

from .speed_page import throughput_name

STAGE1_GOAL_S = 300.0
CEILING_GOAL_PERCENT = 80.0  # bundle trainer vs the same steps on one on-device batch


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


def _header_lines(info: dict, args, command: str) -> list[str]:
    lines = [
        f"## {throughput_name(args, info)}",
        "",
        f"Measured {utc_now()}. Command (from the project root): `{command}`",
        "",
        f"- machine: {info['machine']}, CPU {info['cpu']}, {info['cores']} cores available, "
        f"torch threads {torch.get_num_threads()}, memory {_f(info['memory_gib'])} GiB, GPU {info['gpu']}",
        f"- load average (1/5/15 min) at start: {info['load_average']}; at end: {info.get('load_average_end', 'n/a')}",
        f"- versions: python {info['python']}, torch {info['torch']}, torchvision {info['torchvision']}, "
        f"monai {info['monai']}, pytorch-ignite {info['ignite']}",
        f"- settings: image size {args.image_size}, batch {args.batch_size}, epochs {args.epochs}, "
        f"amp {args.amp}, channels_last {args.channels_last}, max images {args.max_images or 'all'}, "
        f"DataLoader workers {args.num_workers}, seed {args.seed}",
    ]
    return lines + ([f"- note: {args.note}"] if args.note else [])


def _table_start(title: str, header: str, alignment: str) -> list[str]:
    """The lines that open a report section holding one Markdown table: its heading, the header and alignment rows."""
    return ["", f"### {title}", "", header, alignment]


def _train_lines(train_rows: list) -> list[str]:
    lines = _table_start("Training throughput (full epochs over the same images)",
                         "| pipeline | backbone | amp | channels_last | images | loader workers | cache fill s | "
                         "epoch s | images/s |", "|---|---|---|---|---:|---:|---:|---:|---:|")
    for r in train_rows:
        epochs = " / ".join(_f(s) for s in r["epoch_s"])
        lines.append(
            f"| {r['pipeline']} | {r['arch']} | {r['amp']} | {r['channels_last']} | {r['images']} | "
            f"{r['loader_workers']} | {_f(r['cache_fill_s'])} | {epochs} | {_f(_images_per_s(r))} |"
        )
    lines += [
        "",
        "images/s = images × epochs / summed epoch time. The bundle's epoch reads its `CacheDataset` (decoded, "
        "resized images; augmentation and normalisation run each epoch); its one-off cache fill is the "
        "`cache fill s` column. The plain loop decodes every JPEG every epoch. Validation is not run.",
    ]
    return lines + _ceiling_lines(train_rows)


def _latency_lines(latency_rows: list) -> list[str]:
    lines = _table_start("Inference latency per image (batch 1)",
                         "| backbone | device | amp | forward median ms | forward p90 ms | runs | "
                         "read + preprocess + forward median ms | files |", "|---|---|---|---:|---:|---:|---:|---:|")
    return lines + [
        f"| {r['arch']} | {r['device']} | {r['amp']} | {_f(r['forward_ms'])} | {_f(r['forward_p90_ms'])} | "
        f"{r['runs']} | {_f(r['e2e_ms'])} | {r['e2e_runs']} |" for r in latency_rows]


def _stage1_lines(stage1: dict, bundle: str) -> list[str]:
    lines = ["", f"### Stage 1 of `{bundle}` (frozen trunk, cached features, head only)", ""]
    if stage1.get("status") != "ok":
        return lines + [f"{stage1['status']}."]
    verdict = "yes" if stage1["total_s"] < STAGE1_GOAL_S else "no"
    return lines + [
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


def render_section(info: dict, args, command: str, train_rows: list, latency_rows: list, stage1: dict | None) -> list[str]:
    """The section's lines, its first line ``## <configuration> — <machine>``."""
    lines = _header_lines(info, args, command)
    lines += _train_lines(train_rows) if train_rows else []
    lines += _latency_lines(latency_rows) if latency_rows else []
    return lines + (_stage1_lines(stage1, args.stage1_bundle) if stage1 is not None else [])
