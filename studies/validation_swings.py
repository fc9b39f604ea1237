"""Why does validation accuracy swing from epoch to epoch in the full recipes (``docs/reports/results.md``)?

For each named entry of ``tools/full_recipes.py``, two networks of its run, the best checkpoint
(``models/model.pt``, chosen by validation accuracy) and the last saved epoch (``models/training_state.pt``), are
scored on the entry's own validation split with the bundle's validation preprocessing, in float32:

- accuracy (argmax, the bundles' ``val_acc``) and the ROC-AUC of the tumour probability (1 - p(no tumour)), which
  needs no threshold: accuracy that moves while the AUC holds means the decision threshold moved, not the ranking;
- where the threshold sits: the mean tumour probability of the tumour slices and of the tumour-free ones, and the
  errors of each kind;
- the same after BatchNorm's running statistics are re-estimated, as a plain mean over ``--bn-batches`` seeded
  batches of the entry's training images (``torch.optim.swa_utils.update_bn``), once without augmentation (as
  validation sees images) and once with the training augmentation: a change there means the running statistics
  the network validated with were off; the two together tell the moving average's noise (both help) from the
  augmented images' statistics (only the first helps);
- whether the bfloat16 autocast the CPU runs train under skews those statistics: the largest mean relative gap,
  over the BatchNorm layers of the last network, between statistics estimated from the same batches under autocast
  and in float32.

Writes ``docs/reports/validation_swings.md`` (one section per entry; the other entries' sections are kept) with the command,
machine and load average::

    MONAI_DATA_DIRECTORY=/path/to/shared/data python -m studies.validation_swings --entries spp-tl-simclr-brats2015
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import itertools
import json
import os
import sys
import time
from pathlib import Path

import torch

from monai_tumorcls.utils.reporting import merged_sections
from tools import full_recipes

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "reports" / "validation_swings.md"
TITLE = "# Validation accuracy swings: threshold or ranking?"
INTRO = (__doc__ or "").split("\n\n")[1].replace("\n", " ")


def entry_config(name: str):
    """(queue entry, its bundle config as the run was trained), the trunk file not loaded: the weights come from
    the run's own checkpoints."""
    from monai_tumorcls.bundle import load_bundle_config

    entry = next((e for e in full_recipes.queue() if e.label == name), None)
    if entry is None:
        raise SystemExit(f"{name}: not a recorded entry of tools/full_recipes.py")
    overrides = {key.lstrip("-"): value for key, value in zip(entry.overrides[::2], entry.overrides[1::2])}
    overrides.update(pretrained=None, amp=False, num_workers=0, bundle_root=str(ROOT / entry.root))
    return entry, load_bundle_config(ROOT / "bundles" / entry.bundle, overrides=overrides)


def run_networks(parser, models: Path) -> dict[str, torch.nn.Module]:
    """``{"best (epoch n)": network, "last (epoch m)": network}`` of a run's ``models`` folder; only the best when
    the last epoch was the best."""
    from monai_tumorcls.checkpoint import load_checkpoint

    best = parser.get_parsed_content("network_def")
    load_checkpoint(models / "model.pt", best)
    state = torch.load(models / "training_state.pt", map_location="cpu", weights_only=True)
    last = copy.deepcopy(best)
    last.load_state_dict(state["network"])
    best_epoch = json.loads((models / "model.pt.json").read_text())["epoch"]
    last_epoch = state["trainer"]["iteration"] // state["trainer"]["epoch_length"]
    if best_epoch == last_epoch:
        return {f"best and last (epoch {best_epoch})": best}
    return {f"best (epoch {best_epoch})": best, f"last (epoch {last_epoch})": last}


def validation_batch(parser) -> tuple[torch.Tensor, torch.Tensor]:
    """All validation images (preprocessed, no augmentation) and labels."""
    from monai.data import DataLoader, Dataset

    data = Dataset(parser.get_parsed_content("datalists")["validation"], parser.get_parsed_content("preprocessing"))
    batches = list(DataLoader(data, batch_size=64))
    return torch.cat([b["image"] for b in batches]), torch.cat([b["label"] for b in batches]).reshape(-1).long()


def score(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, tumour_free: int) -> dict:
    """Accuracy, tumour-vs-no-tumour AUC, mean tumour probability by truth and errors by kind."""
    from monai_tumorcls.metrics import roc_auc_binary

    network.eval()
    with torch.no_grad():
        prob = torch.cat([torch.softmax(network(x), 1) for x in images.split(32)])
    p_tumour, is_tumour, predicted = 1 - prob[:, tumour_free], labels != tumour_free, prob.argmax(1)
    called_tumour = predicted != tumour_free
    return {"accuracy": float((predicted == labels).float().mean()),
            "auc": roc_auc_binary(is_tumour.numpy(), p_tumour.numpy()),
            "p_tumour_tumour": float(p_tumour[is_tumour].mean()), "p_tumour_free": float(p_tumour[~is_tumour].mean()),
            "missed": int((is_tumour & ~called_tumour).sum()), "false_alarms": int((~is_tumour & called_tumour).sum())}


def with_batchnorm_reestimated(network: torch.nn.Module, parser, batches: int, seed: int,
                               transform: str = "preprocessing", autocast: bool = False) -> torch.nn.Module:
    """A copy of ``network`` whose BatchNorm running statistics are the plain mean over ``batches`` seeded batches of
    training images through the config's ``transform`` (``"preprocessing"``: as validated, no augmentation;
    ``"train#preprocessing"``: with the training augmentation), under CPU bfloat16 autocast if ``autocast``."""
    from monai.data import DataLoader, Dataset

    data = Dataset(parser.get_parsed_content("datalists")["training"], parser.get_parsed_content(transform))
    loader = DataLoader(data, batch_size=parser.get_parsed_content("batch_size"), shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    network = copy.deepcopy(network)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        torch.optim.swa_utils.update_bn((b["image"] for b in itertools.islice(loader, batches)), network)
    return network


def autocast_statistics_gap(network: torch.nn.Module, parser, batches: int, seed: int) -> dict[str, float]:
    """Largest mean relative gap over the BatchNorm layers between statistics estimated from the same training
    batches under bfloat16 autocast and in float32."""
    pair = [dict(with_batchnorm_reestimated(network, parser, batches, seed, autocast=a).named_modules()) for a in (True, False)]
    norms = [name for name, m in pair[1].items() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]

    def gap(stat: str) -> float:
        return max(float((getattr(pair[0][n], stat) - getattr(pair[1][n], stat)).abs().mean()
                         / getattr(pair[1][n], stat).abs().mean()) for n in norms)

    return {"running_mean": gap("running_mean"), "running_var": gap("running_var")}


def measure(name: str, bn_batches: int, seed: int) -> dict:
    entry, parser = entry_config(name)
    images, labels = validation_batch(parser)
    tumour_free = parser.get_parsed_content("class_names").index("notumor")
    rows = []
    for title, network in run_networks(parser, ROOT / entry.root / "models").items():
        rows.append({"network": title, "BatchNorm statistics": "as trained", **score(network, images, labels, tumour_free)})
        for transform, how in (("preprocessing", "no augmentation"), ("train#preprocessing", "training augmentation")):
            fixed = with_batchnorm_reestimated(network, parser, bn_batches, seed, transform)
            rows.append({"network": title, "BatchNorm statistics": f"re-estimated, {bn_batches} batches, {how}",
                         **score(fixed, images, labels, tumour_free)})
    counts = {"tumour": int((labels != tumour_free).sum()), "tumour-free": int((labels == tumour_free).sum())}
    gap = autocast_statistics_gap(network, parser, min(bn_batches, 12), seed)  # the last network
    return {"entry": entry, "rows": rows, "counts": counts, "autocast_gap": (title, min(bn_batches, 12), gap)}


def _table(rows: list[dict]) -> list[str]:
    head = ["network", "BatchNorm statistics", "accuracy", "ROC-AUC", "mean p(tumour), tumour", "mean p(tumour), tumour-free",
            "tumours missed", "false alarms"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        auc = "n/a" if r["auc"] is None else f"{r['auc']:.4f}"
        lines.append(f"| {r['network']} | {r['BatchNorm statistics']} | {r['accuracy']:.4f} | {auc} | "
                     f"{r['p_tumour_tumour']:.3f} | {r['p_tumour_free']:.3f} | {r['missed']} | {r['false_alarms']} |")
    return lines


def section(result: dict, command: str, seconds: float, loads: tuple[float, float], note: str) -> list[str]:
    from monai_tumorcls.utils import cpu_model, environment_info

    env, entry, counts, gap_of = environment_info(), result["entry"], result["counts"], result["autocast_gap"]
    return [f"## {entry.label}", "",
            f"Bundle `{entry.bundle}` ({' '.join(entry.overrides)}), run `{entry.root}`; validation split of the entry "
            f"({counts['tumour']} tumour, {counts['tumour-free']} tumour-free images).",
            f"Written by `{command}` on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC in {seconds:.0f} s; "
            f"machine: {cpu_model()}, torch {env['torch']}, monai {env['monai']}; 1-min load average "
            f"{loads[0]:.2f} at start, {loads[1]:.2f} at end.{' ' + note if note else ''}",
            "", *_table(result["rows"]), "",
            f"BatchNorm statistics of the {gap_of[0]} network estimated from the same {gap_of[1]} training batches under "
            f"bfloat16 autocast and in float32 differ by at most {100 * gap_of[2]['running_mean']:.2f} % (running mean) "
            f"and {100 * gap_of[2]['running_var']:.2f} % (running variance) per layer, on average over its channels.", ""]


def main(argv: list[str] | None = None) -> None:
    from monai_tumorcls.utils import atomic_write_text, shell_join

    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--entries", nargs="+", required=True, help="labels of tools/full_recipes.py entries with a run")
    p.add_argument("--bn-batches", type=int, default=40, help="training batches for the BatchNorm re-estimation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--note", default="", help="stored with each section: what else used the cores")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    command = shell_join(["python", "-m", "studies.validation_swings", *argv])
    for name in args.entries:
        start, load_start = time.perf_counter(), os.getloadavg()[0]
        result = measure(name, args.bn_batches, args.seed)
        new = section(result, command, time.perf_counter() - start, (load_start, os.getloadavg()[0]), args.note)
        existing = args.out.read_text() if args.out.is_file() else ""
        atomic_write_text(args.out, merged_sections(existing, TITLE, INTRO, name, new))
        print("\n".join(new), flush=True)


if __name__ == "__main__":
    main()
