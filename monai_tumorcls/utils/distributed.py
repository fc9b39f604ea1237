"""Rank and world size of this process, for code below the handlers that must write on one rank only."""

from __future__ import annotations

import torch

__all__ = ["dist_rank", "dist_world_size", "is_distributed"]


def is_distributed() -> bool:
    """Whether ``torch.distributed`` is available and initialised."""
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def dist_rank() -> int:
    """Rank of this process (0 when ``torch.distributed`` is not initialised)."""
    return torch.distributed.get_rank() if is_distributed() else 0


def dist_world_size() -> int:
    """Number of processes (1 when ``torch.distributed`` is not initialised)."""
    return torch.distributed.get_world_size() if is_distributed() else 1
