"""Hyper-parameter sweeps of a bundle's training on Optuna (grid and TPE samplers, pruning, shared RDB storage)."""

from .study import (
    PruningHandler,
    SweepStudy,
    load_sweep_config,
    make_sampler,
    open_study,
    run_sweep,
    suggest_overrides,
    train_trial,
)

__all__ = [
    "PruningHandler", "SweepStudy", "load_sweep_config", "make_sampler", "open_study", "run_sweep", "suggest_overrides",
    "train_trial",
]
