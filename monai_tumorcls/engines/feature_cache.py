"""Frozen-trunk feature caching: run a frozen backbone once, then train only the head on the cached maps.

When every trunk parameter is frozen and no random transform touches the input, the trunk's output for an
image is the same at every epoch. Computing it once turns frozen-backbone training into training a small head
on a tensor dataset: minutes instead of hours on a CPU. :func:`cache_features` refuses to cache when either
condition does not hold, so a cached run trains exactly what the uncached run would.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from monai.data import DataLoader, Dataset
from monai.transforms import Compose, Randomizable
from torch import nn

from monai_tumorcls.utils.deprecation import moved_keywords
from monai_tumorcls.utils.progress import progress_bar

__all__ = [
    "CachedFeatures",
    "CachedFeatureDataset",
    "cache_features",
    "FeatureCacheOptions",
    "random_transforms",
    "assert_frozen",
    "split_frozen_trunk",
]

logger = logging.getLogger(__name__)


def random_transforms(transform: Callable | None) -> list[str]:
    """Names of the random (``Randomizable``) transforms inside ``transform`` (recursing into ``Compose``)."""
    if transform is None:
        return []
    if isinstance(transform, Compose):
        return [name for t in transform.transforms for name in random_transforms(t)]
    if isinstance(transform, (list, tuple)):
        return [name for t in transform for name in random_transforms(t)]
    return [type(transform).__name__] if isinstance(transform, Randomizable) else []


def assert_frozen(module: nn.Module, name: str = "trunk") -> None:
    """Raise ``ValueError`` if any parameter of ``module`` is trainable."""
    trainable = [n for n, p in module.named_parameters() if p.requires_grad]
    if trainable:
        raise ValueError(
            f"cannot cache features of the {name}: {len(trainable)} of its parameters are trainable "
            f"(e.g. {trainable[:3]}); freeze it first (monai_tumorcls.networks.freeze_backbone)"
        )


def split_frozen_trunk(network: nn.Module, trunk: str = "features", head: str = "head") -> tuple[nn.Sequential, nn.Sequential]:
    """Split a partly frozen classifier into its frozen front and the trainable rest, at a stage boundary.

    With ``set_trainable(network, "layer4+head")`` the front (``conv1`` ... ``layer3``) is the same function at
    every epoch, so its maps can be cached with :func:`cache_features` and only the rest (``layer4`` + head)
    runs, forward and backward, during training. Both parts share the modules (and parameters) of ``network``:
    training the rest trains ``network``, and ``network``'s checkpoints hold the result.

    Args:
        network: e.g. a :class:`~monai_tumorcls.networks.ResNetClassifier`, whose ``trunk`` is an ``nn.Sequential``.
        trunk: attribute holding the sequential trunk.
        head: attribute holding the head (always part of the rest).

    Returns:
        ``(front, rest)``: ``front`` = the leading trunk stages whose parameters are all frozen, ``rest`` = the
        remaining stages followed by the head; ``rest(front(x)) == network(x)`` for ``(B, C, H, W)`` images.

    Raises:
        ValueError: no leading stage is frozen, or a frozen stage follows a trainable one.
    """
    stages = list(getattr(network, trunk).named_children())
    n = 0
    while n < len(stages) and not any(p.requires_grad for p in stages[n][1].parameters()):
        n += 1
    if n == 0:
        raise ValueError(f"the first stage of {trunk} ({stages[0][0] if stages else 'none'}) is trainable: nothing to cache")
    late = [name for name, m in stages[n:] if any(not p.requires_grad for p in m.parameters())]
    if late:
        raise ValueError(f"stages {late} are (partly) frozen but follow trainable stage {stages[n][0]!r}: "
                         "the frozen part must be the front of the trunk")
    front = nn.Sequential(OrderedDict(stages[:n]))
    rest = nn.Sequential(OrderedDict(stages[n:] + [(head, getattr(network, head))]))
    logger.info("frozen front %s (cached), trainable rest %s", [k for k, _ in stages[:n]], [k for k, _ in stages[n:]] + [head])
    return front, rest


class CachedFeatures:
    """Feature maps of a frozen trunk for a datalist, kept in memory.

    Attributes:
        features: ``(N, C, h, w)`` tensor (``dtype`` as requested, on CPU).
        items: the N datalist items (without the image), in the same order; labels etc. stay here.
        seconds: time taken to compute them.
    """

    def __init__(self, features: torch.Tensor, items: Sequence[dict], seconds: float = 0.0) -> None:
        if features.shape[0] != len(items):
            raise ValueError(f"{features.shape[0]} feature maps for {len(items)} items")
        self.features, self.items, self.seconds = features, list(items), seconds

    def __len__(self) -> int:
        return len(self.items)


class CachedFeatureDataset(torch.utils.data.Dataset):
    """Dataset of ``{image_key: (C, h, w) feature map, **item}`` from :class:`CachedFeatures`.

    The feature map replaces the image under ``image_key`` so that engines, metrics and handlers written for
    images (``SupervisedTrainer``/``SupervisedEvaluator`` with the head as the network) work unchanged.
    """

    def __init__(self, cached: CachedFeatures, image_key: str = "image", dtype: torch.dtype = torch.float32) -> None:
        self.cached, self.image_key, self.dtype = cached, image_key, dtype

    def __len__(self) -> int:
        return len(self.cached)

    def __getitem__(self, index: int) -> dict:
        return {**self.cached.items[index], self.image_key: self.cached.features[index].to(self.dtype)}


@dataclass
class FeatureCacheOptions:
    """How :func:`cache_features` reads the items, runs the trunk and keeps its maps.

    Attributes:
        storage_dtype: dtype the maps are kept in (float16 halves the memory; the head casts back to float32).
        amp: run the trunk under autocast (CUDA only).
        image_key: key of the image.
        check: refuse (``ValueError``) when the trunk has trainable parameters or the transform is random.
        progress: show a progress bar (on a terminal only, see :func:`~monai_tumorcls.utils.progress_bar`).
    """

    storage_dtype: torch.dtype = torch.float16
    amp: bool = False
    image_key: str = "image"
    check: bool = True
    progress: bool = True


@torch.no_grad()  # not inference_mode: the maps are inputs of trained layers (autograd must accept them)
def cache_features(
    trunk: nn.Module,
    data: Sequence[dict],
    transform: Callable,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
    options: FeatureCacheOptions | None = None,
    **moved: Any,
) -> CachedFeatures:
    """Compute the frozen ``trunk``'s feature maps for every item of ``data``, once.

    Args:
        trunk: the frozen feature extractor, e.g. ``ResNetClassifier.features``; put in eval mode here.
        data: datalist (dicts with ``options.image_key`` pointing at the file, plus labels and other fields).
        transform: the deterministic loading + preprocessing transform producing ``(3, H, W)`` images.
        batch_size: images per forward pass.
        device: where the trunk runs.
        num_workers: DataLoader workers for loading/preprocessing.
        options: storage dtype, autocast, image key, checks and progress bar (:class:`FeatureCacheOptions`).
        moved: ``storage_dtype``, ``amp``, ``image_key``, ``check``, ``progress`` as loose keywords (before they
            were grouped in ``options``): still taken, with a ``FutureWarning``, for one release.

    Returns:
        :class:`CachedFeatures` with ``(N, C, h, w)`` maps in datalist order.
    """
    opts = moved_keywords("cache_features", options, FeatureCacheOptions, moved)
    if opts.check:
        _refuse_uncacheable(trunk, transform)
    was_training = trunk.training
    trunk.eval()
    start = time.perf_counter()
    loader = DataLoader(Dataset(list(data), transform), batch_size=batch_size, shuffle=False, num_workers=num_workers)
    chunks = []
    dev = torch.device(device)
    key = opts.image_key
    for batch in progress_bar(loader, "caching features", opts.progress):
        x = torch.as_tensor(batch[key]).to(dev, non_blocking=True)
        with torch.autocast(dev.type, enabled=opts.amp and dev.type == "cuda"):
            chunks.append(trunk(x).to("cpu", opts.storage_dtype))
    trunk.train(was_training)
    items = [{k: v for k, v in it.items() if k != key} | {f"{key}_path": str(it[key])} for it in data]
    feats = torch.cat(chunks) if chunks else torch.empty(0)
    seconds = time.perf_counter() - start
    logger.info(
        "cached %d feature maps %s (%s, %.1f MB) in %.1f s", len(items), tuple(feats.shape[1:]), opts.storage_dtype,
        feats.numel() * feats.element_size() / 1e6, seconds,
    )
    return CachedFeatures(feats, items, seconds)


def _refuse_uncacheable(trunk: nn.Module, transform: Callable) -> None:
    """``ValueError`` when the trunk can still learn or a random transform touches the input: either way its output
    changes every epoch, so cached maps would be stale."""
    assert_frozen(trunk)
    rand = random_transforms(transform)
    if rand:
        raise ValueError(
            f"cannot cache features: random transforms {rand} touch the input, so the trunk's output changes "
            "every epoch; drop them from the cached stage or train without the feature cache"
        )
