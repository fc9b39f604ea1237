"""``python -m monai_tumorcls.sweep --bundle bundles/resnet50_spp_binary --sampler grid --storage sqlite:///sweep.db
--study NAME [--n_trials N] [--set key=value ...]``: run (or join, or continue) an Optuna sweep of a bundle."""

from __future__ import annotations

import argparse
import json
import logging

from .study import SweepStudy, parse_override, run_sweep


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m monai_tumorcls.sweep", description=__doc__)
    ap.add_argument("--bundle", required=True, help="bundle folder holding configs/train.json and configs/sweep.json")
    ap.add_argument("--sampler", choices=("grid", "tpe"), default="grid")
    ap.add_argument("--storage", default="sqlite:///sweep.db", help="Optuna RDB URL shared by all workers")
    ap.add_argument("--study", default=None, help="study name (default <bundle>-<sampler>)")
    ap.add_argument("--n_trials", type=int, default=None, help="finished + running trials to reach (default: grid size, or 20)")
    ap.add_argument("--workdir", default="runs/sweeps", help="trial folders go to <workdir>/<study>/<parameters>/")
    ap.add_argument("--seed", type=int, default=0, help="sampler seed")
    ap.add_argument("--sweep_config", default=None, help="sweep definition (default <bundle>/configs/sweep.json)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="fixed bundle overrides of every trial")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(name)s - %(levelname)s - %(message)s")
    plan = SweepStudy(args.sampler, args.storage, args.study, args.n_trials, args.seed)
    study = run_sweep(args.bundle, plan, dict(parse_override(s) for s in args.set), args.workdir,
                      sweep_config=args.sweep_config)
    done = [t for t in study.trials if t.value is not None]
    best = max(done, key=lambda t: t.value) if done else None
    print(json.dumps({"study": study.study_name, "trials": len(study.trials),
                      "best": None if best is None else {"number": best.number, "value": best.value, "params": best.params}}))


if __name__ == "__main__":
    main()
