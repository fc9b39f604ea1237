"""The run queue of the full-recipe runs of pipelines 2 and 3 that ``docs/reports/results.md`` still lacks, one after
another, each resumable.

Runs, in the order of ``queue()``, every entry whose result is not there yet: a recorded run goes through
``python -m studies.results`` (train, then evaluate, then ``docs/results/<bundle>__<label>.json``) with a bundle root
of its own under ``runs/`` and ``--resume true``; the in-domain SimCLR ResNet-50 trunk that stands in for ImageNet in
the transfer-learning rows is pretrained first where they need it (torchvision's ImageNet file is used instead
when it is in the torch hub cache). Rerunning the queue after a kill continues the run in progress, then the next:
start it in the background with restarts, one job on the machine at a time::

    nohup sh -c 'until nice python -m tools.full_recipes --note "what else used the cores"; do sleep 60; done' \\
        > runs/full_recipes.log 2>&1 &
    python -m tools.full_recipes --status               # done / epoch n of N / not started, per entry
    python -m tools.full_recipes --only spp-brats2015   # one entry
    python -m tools.full_recipes -- --amp true   # overrides added to every run (GPU AMP; bfloat16 on a CPU that has it)

Everything after ``--`` is added to every command. ``MONAI_DATA_DIRECTORY`` names the data root, as for the bundles.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from monai_tumorcls.networks.pretrained import PretrainedWeightsNotFoundError, find_imagenet_weights

ROOT = Path(__file__).resolve().parents[1]

RESULTS_DIR = ROOT / "docs" / "results"
SSL_ROOT = "runs/ssl_simclr_resnet50"
SSL_BACKBONE = f"{SSL_ROOT}/models/backbone.pt"
#: the SimCLR bundle's CPU setting (docs of bundles/ssl_simclr_resnet18), with a ResNet-50 trunk
SSL_OVERRIDES = ["--backbone", "resnet50", "--epochs", "15", "--image_size", "112", "--batch_size", "128",
                 "--num_workers", "1"]


@dataclass(frozen=True)
class Entry:
    """One queued job: ``bundle`` trained (and, when ``label`` is set, evaluated and recorded) into ``root``."""

    bundle: str
    label: str | None
    root: str
    overrides: tuple[str, ...]

    def done(self) -> bool:
        if self.label:
            return (RESULTS_DIR / f"{self.bundle}__{self.label}.json").is_file()
        info = ROOT / self.root / "models" / "backbone.pt.json"  # the SimCLR trunk: its last epoch is written "final"
        return info.is_file() and json.loads(info.read_text()).get("kind") == "final"

    def progress(self) -> str:
        if self.done():
            return "done"
        states = sorted((ROOT / self.root / "models").glob("training_state*.pt"))
        if not states:
            return "not started"
        trainer = torch.load(states[-1], map_location="cpu", weights_only=True, mmap=True)["trainer"]
        return f"epoch {trainer['iteration'] // trainer['epoch_length']} of {trainer['max_epochs']} ({states[-1].name})"

    def command(self, note: str, extra: list[str]) -> list[str]:
        overrides = merge_overrides([*self.overrides, "--resume", "true"], extra)
        if self.label:
            return [sys.executable, "-m", "studies.results", "--bundle", self.bundle, "--label", self.label,
                    "--bundle-root", self.root, "--note", note, "--", *overrides]
        cfg = f"bundles/{self.bundle}/configs"
        return [sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", f"{cfg}/train.json",
                "--logging_file", f"{cfg}/logging.conf", "--bundle_root", self.root, *overrides]


def merge_overrides(base: list[str], extra: list[str]) -> list[str]:
    """``--key value`` pairs of ``base`` with those of ``extra`` replacing the same keys (a key given twice is
    ambiguous to the bundle command line)."""
    pairs = dict(zip(base[::2], base[1::2]))
    pairs.update(zip(extra[::2], extra[1::2]))
    if len(extra) % 2 or not all(key.startswith("--") for key in pairs):
        raise SystemExit(f"overrides must be --key value pairs, got: {' '.join(extra)}")
    return [item for pair in pairs.items() for item in pair]


def transfer_source() -> tuple[str, str]:
    """(label part, ``--pretrained`` value) of the transfer-learning rows: ImageNet when torchvision's ResNet-50
    file is in the torch hub cache, else our in-domain SimCLR trunk."""
    try:
        find_imagenet_weights("resnet50")
        return "imagenet", "imagenet"
    except PretrainedWeightsNotFoundError:
        return "simclr", SSL_BACKBONE


def queue() -> list[Entry]:
    """Cheapest and most asked-for first: pipeline 3 on its own data, pipeline 2's ResNet-50, the Kaggle rows that need
    no pretrained trunk, then the SimCLR trunk and the transfer rows that use it, then the rest. The trunk-free rows
    go before the trunk because a trunk pretrained on a machine that is replaced before its transfer rows run is lost
    with it (1.4 h on the 2-core CPU)."""
    tl_name, tl_weights = transfer_source()
    p3 = {"basic": ("linear", "None"), "spp": ("spp", "None"),
          f"tl-{tl_name}": ("linear", tl_weights), f"spp-tl-{tl_name}": ("spp", tl_weights)}

    def pipeline3(setting: str, dataset: str) -> Entry:
        head, weights = p3[setting]
        return Entry("resnet50_spp_binary", f"{setting}-{dataset}", f"runs/p3_{setting}_{dataset}",
                     ("--head", head, "--pretrained", weights, "--dataset", dataset))

    def pipeline2(arch: str) -> Entry:
        return Entry("resnet50_4class", f"full-recipe-random-init-{arch}", f"runs/p2_{arch}",
                     ("--backbone", arch, "--pretrained", "None"))

    ssl = [Entry("ssl_simclr_resnet18", None, SSL_ROOT, tuple(SSL_OVERRIDES))] if tl_name == "simclr" else []
    transfer = [pipeline3(s, d) for d in ("brats2015", "kaggle") for s in (f"tl-{tl_name}", f"spp-tl-{tl_name}")]
    return [pipeline3("spp", "brats2015"), pipeline3("basic", "brats2015"), pipeline2("resnet50"),
            pipeline3("basic", "kaggle"), pipeline3("spp", "kaggle"), *ssl, *transfer,
            pipeline2("resnet101"), pipeline2("resnet152")]


def name(entry: Entry) -> str:
    return entry.label or Path(entry.root).name


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--status", action="store_true", help="print each entry's progress and stop")
    p.add_argument("--only", nargs="+", default=None, help="entry names (labels; the SimCLR trunk's folder name)")
    p.add_argument("--note", default="", help="stored with each record: what else used the cores, where it ran")
    args = p.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    entries = [e for e in queue() if args.only is None or name(e) in args.only]
    if args.only and len(entries) != len(args.only):
        p.error(f"--only names none of: {', '.join(sorted(set(args.only) - {name(e) for e in entries}))}; "
                f"the entries are {', '.join(name(e) for e in queue())}")
    for entry in entries:
        if args.status:
            print(f"{name(entry):40s} {entry.progress()}")
        elif not entry.done():
            print(f"== {name(entry)}: {entry.progress()}", flush=True)
            subprocess.run(entry.command(args.note, extra), cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
