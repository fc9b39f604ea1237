"""Aggregate slice-level class probabilities into one series/volume-level decision."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "AGGREGATIONS",
    "NON_TUMOUR_NAMES",
    "SeriesDecision",
    "aggregate_slices",
    "default_positive_classes",
    "tumour_probability",
]

#: aggregation methods: the highest slice tumour probability, the mean of the ``top_k`` highest, or the mean
AGGREGATIONS: tuple[str, ...] = ("max", "top_k_mean", "mean")
_ALIASES = {"topk": "top_k_mean", "top_k": "top_k_mean", "topk_mean": "top_k_mean", "average": "mean"}
#: class names treated as "no tumour" when ``positive_classes`` is not given
NON_TUMOUR_NAMES = frozenset({"notumor", "notumour", "no_tumor", "no_tumour", "no-tumor", "normal", "healthy"})


def default_positive_classes(class_names: Sequence[str]) -> tuple[str, ...]:
    """Every class not named like "no tumour" (see :data:`NON_TUMOUR_NAMES`).

    Raises:
        ValueError: when that leaves no class or every class.
    """
    tumour = tuple(c for c in class_names if c.lower() not in NON_TUMOUR_NAMES)
    if not tumour or len(tumour) == len(class_names):
        raise ValueError(
            f"cannot tell the tumour (positive) classes from {list(class_names)}; pass positive_classes explicitly"
        )
    return tumour


def default_tumour_classes(class_names: Sequence[str]) -> tuple[str, ...]:
    """Deprecated name of :func:`default_positive_classes` (one name per concept: ``positive_classes``); it goes
    in the next release."""
    warnings.warn("default_tumour_classes is renamed default_positive_classes; the old name goes in the next release",
                  FutureWarning, stacklevel=2)
    return default_positive_classes(class_names)


def tumour_probability(
    probabilities: np.ndarray, class_names: Sequence[str], positive_classes: Sequence[str]
) -> np.ndarray:
    """(N,) summed probability of the tumour classes.

    Args:
        probabilities: (N, C) class probabilities (rows sum to 1).
        class_names: the C class names.
        positive_classes: names (subset of ``class_names``) that mean "tumour".
    """
    missing = [t for t in positive_classes if t not in class_names]
    if missing:
        raise ValueError(f"positive_classes {missing} not in class_names {list(class_names)}")
    idx = [list(class_names).index(t) for t in positive_classes]
    return np.asarray(probabilities, dtype=np.float64)[:, idx].sum(axis=1)


@dataclass
class SeriesDecision:
    """Series-level decision.

    Attributes:
        method: aggregation method.
        top_k: k used by ``top_k_mean``.
        threshold: tumour when ``tumour_probability >= threshold``.
        tumour_probability: aggregated tumour probability, None when no slice was usable.
        is_tumour: the decision, None when no slice was usable.
        predicted_class: most probable tumour class when ``is_tumour`` else the most probable non-tumour class.
        class_probabilities: mean class probabilities over the contributing slices.
        contributing_slices: slice indices the decision is based on (highest tumour probability first).
        n_valid_slices: slices that were classified (not excluded).
        lesion_volume_ml: the lesion volume from which the series is "tumour", for the ``lesion_volume`` decision
            (:func:`~monai_tumorcls.apps.clinical.lesion.lesion_volume_decision`); None (and not written) otherwise.
    """

    method: str
    top_k: int
    threshold: float
    tumour_probability: float | None
    is_tumour: bool | None
    predicted_class: str | None
    class_probabilities: dict[str, float] | None
    contributing_slices: list[int]
    n_valid_slices: int
    lesion_volume_ml: float | None = None

    @property
    def label(self) -> str:
        """``"tumour"``, ``"no_tumour"`` or ``"undetermined"``."""
        if self.is_tumour is None:
            return "undetermined"
        return "tumour" if self.is_tumour else "no_tumour"

    def to_dict(self) -> dict:
        """JSON-serialisable dict (adds ``label``)."""
        d = {"label": self.label, **asdict(self)}
        if self.lesion_volume_ml is None:  # a classifier decision's record stays as it was
            del d["lesion_volume_ml"]
        return d


def aggregate_slices(
    probabilities: np.ndarray,
    class_names: Sequence[str],
    positive_classes: Sequence[str] | None = None,
    valid: np.ndarray | None = None,
    method: str = "max",
    top_k: int = 3,
    threshold: float = 0.5,
) -> SeriesDecision:
    """Combine per-slice probabilities into a series decision.

    Args:
        probabilities: (N, C) class probabilities per slice (rows of excluded slices may be NaN).
        class_names: the C class names.
        positive_classes: tumour class names (default :func:`default_positive_classes`).
        valid: (N,) bool, slices allowed to contribute (default: rows without NaN). A valid slice whose row is not
            finite means a broken model: no decision at all (``is_tumour=None``), never one from the other slices.
        method: ``max`` | ``top_k_mean`` (alias ``topk``) | ``mean``.
        top_k: number of highest slices averaged by ``top_k_mean`` (fewer if fewer are valid).
        threshold: decision threshold on the aggregated tumour probability.

    Returns:
        a :class:`SeriesDecision`; ``contributing_slices`` lists the indices used, highest first (ties: lower
        index first).
    """
    method = _ALIASES.get(method, method)
    if method not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {method!r}")
    if top_k < 1:
        raise ValueError("top_k must be >= 1")
    probs = np.asarray(probabilities, dtype=np.float64).reshape(-1, len(class_names))
    positive_classes = tuple(positive_classes) if positive_classes is not None else default_positive_classes(class_names)
    ok = np.all(np.isfinite(probs), axis=1)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        ok = ok & valid if np.all(ok[valid]) else np.zeros_like(ok)  # a valid slice without a finite output: broken
    n_valid = int(ok.sum())
    if n_valid == 0:
        return SeriesDecision(method, top_k, threshold, None, None, None, None, [], 0)
    score = tumour_probability(np.where(ok[:, None], probs, 0.0), class_names, positive_classes)
    idx = np.flatnonzero(ok)
    ranked = idx[np.argsort(-score[idx], kind="stable")]
    if method == "max":
        chosen = ranked[:1]
    elif method == "top_k_mean":
        chosen = ranked[: min(top_k, n_valid)]
    else:
        chosen = ranked
    agg = float(score[chosen].mean())
    mean_probs = probs[chosen].mean(axis=0)
    is_tumour = agg >= threshold
    pool = [i for i, c in enumerate(class_names) if (c in positive_classes) == is_tumour] or list(range(len(class_names)))
    predicted = class_names[max(pool, key=lambda i: mean_probs[i])]
    return SeriesDecision(
        method=method,
        top_k=top_k,
        threshold=float(threshold),
        tumour_probability=round(agg, 6),
        is_tumour=bool(is_tumour),
        predicted_class=predicted,
        class_probabilities={c: round(float(p), 6) for c, p in zip(class_names, mean_probs)},
        contributing_slices=[int(i) for i in chosen],
        n_valid_slices=n_valid,
    )
