"""Series rules of the held-out validation: a series (one patient's sequence, one healthy volume) is "tumour" when
its score reaches a threshold chosen on validation people only.

Two rules are scored from the same slice outputs: ``top_k_mean`` (mean of the top-k slice tumour probabilities, the
rule of bundle inference) and, for a lesion-grounded network, ``lesion_volume`` (the nominal lesion volume in ml,
:func:`~monai_tumorcls.apps.validation.lesion.lesion_volume_scores`; the clinical ``SeriesDecisionRule`` gets it as
``aggregation="lesion_volume"``). :func:`choose_series_rule` picks one on the validation people: the higher Youden
J (sensitivity + specificity - 1) at its own threshold, then the higher series AUC, then ``top_k_mean``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from monai_tumorcls.apps.clinical.aggregation import aggregate_slices
from monai_tumorcls.metrics.classification import roc_auc_binary

from .lesion import NominalGeometry, SliceOutputs, lesion_volume_scores

__all__ = ["SERIES_RULES", "series_scores", "choose_threshold", "rule_scores", "choose_series_rule"]

#: the rules, the default (bundle inference's) first: it wins a tie
SERIES_RULES = ("top_k_mean", "lesion_volume")


def series_scores(groups: Sequence[str], probabilities: np.ndarray, class_names: Sequence[str],
                  positive_classes: Sequence[str], top_k: int = 3) -> dict[str, float]:
    """Series tumour probability of each group (mean of its top-k slice tumour probabilities, as bundle inference;
    a slice's tumour probability is the sum over ``positive_classes``)."""
    groups = np.asarray(groups)
    return {
        str(g): aggregate_slices(probabilities[groups == g], class_names, list(positive_classes),
                                 method="top_k_mean", top_k=top_k).tumour_probability
        for g in dict.fromkeys(groups)
    }


def choose_threshold(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Series threshold maximising sensitivity + specificity on the given (validation) scores.

    Candidates are the midpoints between consecutive distinct scores; among equally good ones the highest wins
    (fewer healthy people called "tumour"). With no positive or no negative score: 0.5.
    """
    pos, neg = np.asarray(positive, dtype=float), np.asarray(negative, dtype=float)
    if not pos.size or not neg.size:
        return 0.5
    values = np.unique(np.concatenate([pos, neg]))
    candidates = np.concatenate([[values[0] - 1e-6], (values[1:] + values[:-1]) / 2, [values[-1] + 1e-6]])
    j = [(pos >= t).mean() + (neg < t).mean() for t in candidates]
    best = np.flatnonzero(np.isclose(j, max(j)))
    return float(candidates[best[-1]])


def rule_scores(groups: Sequence[str], outputs: SliceOutputs, class_names: Sequence[str],
                positive_classes: Sequence[str], top_k: int = 3,
                geometry: NominalGeometry = NominalGeometry()) -> dict[str, dict[str, float]]:
    """Rule -> group -> series score (``lesion_volume`` only where the outputs have lesion areas)."""
    scores = {"top_k_mean": series_scores(groups, outputs.probabilities, class_names, positive_classes, top_k)}
    if outputs.lesion_area is not None:
        scores["lesion_volume"] = lesion_volume_scores(groups, outputs.lesion_area, geometry)
    return scores


def choose_series_rule(positive: Mapping[str, Sequence[float]], negative: Mapping[str, Sequence[float]]) -> dict:
    """Each rule's threshold, Youden J and series AUC on the validation scores, and the rule chosen (see module).

    Args:
        positive: rule -> validation series scores of tumour series.
        negative: rule -> validation series scores of tumour-free series.
    """
    rules = {}
    present = [r for r in SERIES_RULES if r in positive or r in negative] or ["top_k_mean"]  # no people: 0.5
    for rule in present:
        pos, neg = np.asarray(positive.get(rule, ()), dtype=float), np.asarray(negative.get(rule, ()), dtype=float)
        threshold = choose_threshold(pos, neg)
        j = float((pos >= threshold).mean() + (neg < threshold).mean() - 1) if pos.size and neg.size else None
        auc = roc_auc_binary(np.r_[np.ones(pos.size), np.zeros(neg.size)], np.r_[pos, neg])
        rules[rule] = {"threshold": threshold, "validation_j": j, "validation_auc": auc}
    chosen = max(rules, key=lambda r: (_or(rules[r]["validation_j"], -1.0), _or(rules[r]["validation_auc"], 0.0),
                                       -SERIES_RULES.index(r)))
    others = "".join(f"; {r}: J {_f(v['validation_j'])}, AUC {_f(v['validation_auc'])}"
                     for r, v in rules.items() if r != chosen)
    why = (f"{chosen}: validation J {_f(rules[chosen]['validation_j'])}, series AUC "
           f"{_f(rules[chosen]['validation_auc'])}{others}")
    return {"rules": rules, "chosen": chosen, "why": why}


def _f(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _or(value, default: float) -> float:
    return default if value is None else value
