"""Validation on held-out people: does the model find the tumour, or the scanner and the slice level?

On the held-out LGG patients (tumour and tumour-free slices of the same scans) and held-out healthy IXI subjects,
:func:`external_validation` reports per sequence

- slice-level ROC-AUC, sensitivity and specificity (tumour probability >= 0.5);
- the within-scan AUC of each patient (tumour vs tumour-free slices of the same scan: scanner and protocol are
  constant there, so only the image content can rank them) and their median;
- the position-only baseline beside both: a score that never looks at the image (closeness of the slice to the
  middle of the patient's stack); a model beats anatomy only where it beats this; and the position-matched AUC
  (:func:`~monai_tumorcls.metrics.position_matched_auc`), over pairs of slices at the same distance from the
  middle only (the slice level held fixed);
- a patient-level decision with a series rule (:mod:`.series`: the mean of the top-k slice probabilities of
  bundle inference, or, for a lesion-grounded network, the nominal lesion volume), rule and threshold chosen on
  the validation people only (:func:`choose_series_rule`), both rules' decisions beside each other;
- the share of held-out healthy volumes called "tumour" by the same rule;
- for a network with a lesion head (:mod:`.lesion`), from the same forward pass as the probabilities: Dice and 95 %
  Hausdorff distance of the lesion map on the held-out tumour slices and the pointing game of its peak;
- optionally the pointing game (:mod:`monai_tumorcls.visualize`): the share of tumour slices whose Grad-CAM peak
  lies in the mask, beside a model-free pointer (the brightest 9x9 window of the input) that it has to beat.

A slice's tumour probability is the summed probability of the ``positive_classes``; an AUC that is undefined (one
kind of slice absent) is ``None`` (``null`` in ``external.json``), as in every report of the package.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import torch

from monai_tumorcls.apps.clinical.aggregation import tumour_probability
from monai_tumorcls.checkpoint.lesion_threshold import LESION_THRESHOLD
from monai_tumorcls.data.volume_slices import LabelledVolume, volume_slice_items
from monai_tumorcls.metrics.classification import position_matched_auc, roc_auc_binary
from monai_tumorcls.utils.atomic import atomic_write_text
from monai_tumorcls.visualize.saliency import (
    DEFAULT_TARGET_LAYER,
    grad_cam,
    pointing_hits,
    saliency_peaks,
    write_overlay,
)

from .external_report import external_markdown
from .lesion import (
    NominalGeometry,
    SliceOutputs,
    has_lesion_head,
    predict_outputs,
    read_lesion_mask,
    segmentation_summary,
)
from .series import choose_series_rule, choose_threshold, rule_scores, series_scores

logger = logging.getLogger(__name__)


__all__ = [
    "HeldOutPeople",
    "ExternalSettings",
    "predict_probabilities",
    "position_prior",
    "slice_report",
    "choose_threshold",
    "series_scores",
    "external_validation",
    "external_markdown",
]


def predict_probabilities(
    network: torch.nn.Module, items: Sequence[dict], transform: Callable, batch_size: int = 64,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """``(N, C)`` softmax probabilities of ``items`` after ``transform`` (eval mode, no gradients)."""
    return predict_outputs(network, items, transform, batch_size, device).probabilities


def position_prior(slice_index: Sequence[int], n_slices: Sequence[int]) -> np.ndarray:
    """Content-free score of each slice: 1 at the middle of its stack, 0 at either end."""
    k, n = np.asarray(slice_index, dtype=float), np.asarray(n_slices, dtype=float)
    half = np.maximum((n - 1) / 2, 1.0)
    return 1 - np.abs(k - (n - 1) / 2) / half


def _within_scan(groups: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    out = {}
    for g in dict.fromkeys(groups):
        sel = groups == g
        if 0 < labels[sel].sum() < sel.sum():  # the scan has both kinds of slice
            out[str(g)] = roc_auc_binary(labels[sel], scores[sel])
    return out


def slice_report(rows: Sequence[Mapping], threshold: float = 0.5) -> dict:
    """Slice-level and within-scan metrics of one sequence.

    Args:
        rows: ``{"group", "label" (0/1), "score" (tumour probability), "position"}`` per slice.
        threshold: slice decision threshold for sensitivity and specificity.
    """
    groups = np.asarray([r["group"] for r in rows])
    labels = np.asarray([r["label"] for r in rows], dtype=int)
    scores = np.asarray([r["score"] for r in rows], dtype=float)
    position = np.asarray([r["position"] for r in rows], dtype=float)
    called = scores >= threshold
    within = _within_scan(groups, scores, labels)
    within_position = _within_scan(groups, position, labels)
    return {
        "n_slices": int(labels.size),
        "n_tumour_slices": int(labels.sum()),
        "n_patients": len(set(groups.tolist())),
        "slice_auc": roc_auc_binary(labels, scores),
        "position_auc": roc_auc_binary(labels, position),
        "position_matched_auc": position_matched_auc(labels, scores, position),
        "position_matched_position_auc": position_matched_auc(labels, position, position),
        "sensitivity": float(called[labels == 1].mean()) if labels.any() else None,
        "specificity": float((~called[labels == 0]).mean()) if (labels == 0).any() else None,
        "within_scan_auc_median": float(np.median(list(within.values()))) if within else None,
        "within_scan_position_auc_median": float(np.median(list(within_position.values()))) if within_position else None,
        "within_scan_auc": within,
    }


@dataclass
class HeldOutPeople:
    """The people :func:`external_validation` measures, and how their images are read.

    Attributes:
        lgg: LGG items with ``validation`` and ``testing`` lists (:func:`~monai_tumorcls.data.lgg_fold_datalists`).
        ixi: IXI volumes with ``validation`` and ``testing`` lists.
        lgg_transform: preprocessing of LGG items (load, select the sequence, prepare, normalise).
        volume_transform: preprocessing of volume slices (prepare, normalise), as bundle inference.
        other_healthy: tumour-free volumes of other scanners (never trained on), scored with the same series rule.
        other_healthy_root: what relative paths of ``other_healthy`` are relative to.
    """

    lgg: Mapping[str, Sequence[dict]]
    ixi: Mapping[str, Sequence[LabelledVolume]]
    lgg_transform: Callable
    volume_transform: Callable
    other_healthy: Sequence[LabelledVolume] = ()
    other_healthy_root: str | PathLike | None = None


@dataclass
class ExternalSettings:
    """How :func:`external_validation` scores.

    Attributes:
        positive_classes: the class names that mean tumour; a slice's tumour probability is their summed probability.
        top_k: series rule (mean of the top-k slice tumour probabilities).
        batch_size: images per forward pass.
        device: where the network runs.
        saliency: also run the pointing game (Grad-CAM on every held-out tumour slice).
        target_layer: Grad-CAM layer.
        overlay_dir: if set, Grad-CAM overlays of every evaluated LGG slice are written there (implies saliency).
        geometry: nominal slice size of the lesion-volume series rule.
        lesion_threshold: the model's lesion threshold (its checkpoint's): lesion areas of the series rule and the
            threshold and scan Dice of the lesion map.
    """

    positive_classes: Sequence[str] = ("tumor",)
    top_k: int = 3
    batch_size: int = 64
    device: torch.device | str = "cpu"
    saliency: bool = False
    target_layer: str = DEFAULT_TARGET_LAYER
    overlay_dir: str | PathLike | None = None
    geometry: NominalGeometry = NominalGeometry()
    lesion_threshold: float = LESION_THRESHOLD


class _Scorer:
    """Slice probabilities and series scores of one network (the fixed arguments of every step)."""

    def __init__(self, network: torch.nn.Module, class_names: Sequence[str], settings: ExternalSettings):
        self.network, self.class_names, self.settings = network, list(class_names), settings
        self.positive_classes = list(settings.positive_classes)
        # Grad-CAM explains one logit: the tumour class when there is one, else each image's highest logit
        self.cam_class = self.class_names.index(self.positive_classes[0]) if len(self.positive_classes) == 1 else None

    def outputs(self, items: Sequence[dict], transform: Callable) -> SliceOutputs:
        """Probabilities (and lesion areas and maps' scores, with a lesion head) of ``items`` in one pass."""
        return predict_outputs(self.network, items, transform, self.settings.batch_size, self.settings.device,
                               self.settings.lesion_threshold)

    def tumour_probabilities(self, probs: np.ndarray) -> np.ndarray:
        return tumour_probability(probs, self.class_names, self.positive_classes)

    def series(self, groups: Sequence[str], outputs: SliceOutputs) -> dict[str, dict[str, float]]:
        """Rule -> group -> series score."""
        return rule_scores(groups, outputs, self.class_names, self.positive_classes, self.settings.top_k,
                           self.settings.geometry)

    def volume_items(self, volumes: Sequence[LabelledVolume], root: str | PathLike | None = None) -> list[dict]:
        """The slices of ``volumes``; their tumour slices (none in the healthy volumes scored here) would be
        labelled with the first positive class."""
        return [it for v in volumes for it in volume_slice_items(v, root, self.class_names, self.positive_classes[0])]


def _brightest_region(images: torch.Tensor, size: int = 9) -> np.ndarray:
    """Model-free pointer: mean intensity of each ``size`` x ``size`` window of the first channel (FLAIR lesions are
    bright, so this is the baseline a saliency map has to beat)."""
    return torch.nn.functional.avg_pool2d(images[:, :1].float().cpu(), size, 1, size // 2)[:, 0].numpy()


def _saliency(scorer: _Scorer, items: Sequence[dict], transform: Callable) -> tuple[list[bool], list[bool]]:
    """Grad-CAM of every item; pointing-game hits of the tumour items, of Grad-CAM and of the brightest region;
    overlay PNGs when ``overlay_dir``."""
    settings = scorer.settings
    hits, baseline = [], []
    for start in range(0, len(items), settings.batch_size):
        chunk = items[start : start + settings.batch_size]
        batch = [transform(dict(it)) for it in chunk]
        images = torch.stack([torch.as_tensor(b["image"]) for b in batch]).to(settings.device)
        maps = grad_cam(scorer.network, images, scorer.cam_class, settings.target_layer)
        peaks, bright_peaks = saliency_peaks(maps), saliency_peaks(_brightest_region(images))
        for it, b, m, p, q in zip(chunk, batch, maps, peaks, bright_peaks):
            if it["label"] == 1:
                mask = read_lesion_mask(it["mask"], m.shape)[None]
                hits.append(bool(pointing_hits(p[None], mask)[0]))
                baseline.append(bool(pointing_hits(q[None], mask)[0]))
            if settings.overlay_dir is not None:
                name = f"{it['group']}_{it['slice_index'] + 1}_{it['sequence']}.png"
                write_overlay(Path(settings.overlay_dir) / name, np.asarray(b["image"])[0], m)
    return hits, baseline


def _by_sequence(items: Sequence[dict]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        out[it["sequence"]].append(i)
    return out


def _series_choice(scorer: _Scorer, people: HeldOutPeople) -> dict:
    """Series rule and threshold from the validation people only: LGG series (per patient and sequence) as tumour,
    healthy volumes as tumour-free (:func:`choose_series_rule`)."""
    lgg_val = list(people.lgg["validation"])
    positive: dict[str, list[float]] = defaultdict(list)
    negative: dict[str, list[float]] = defaultdict(list)
    outputs = scorer.outputs(lgg_val, people.lgg_transform)
    for sel in _by_sequence(lgg_val).values():
        tumour_groups = {lgg_val[i]["group"] for i in sel if lgg_val[i]["label"] == 1}
        for rule, scores in scorer.series([lgg_val[i]["group"] for i in sel], outputs.subset(sel)).items():
            for g, score in scores.items():
                (positive if g in tumour_groups else negative)[rule].append(score)
    healthy_val = scorer.volume_items(people.ixi["validation"])
    if healthy_val:
        healthy = scorer.outputs(healthy_val, people.volume_transform)
        for rule, scores in scorer.series([it["group"] for it in healthy_val], healthy).items():
            negative[rule] += scores.values()
    choice = choose_series_rule(positive, negative)
    n_pos, n_neg = len(positive["top_k_mean"]), len(negative["top_k_mean"])
    return {**choice, "chosen_on": f"{n_pos} tumour / {n_neg} tumour-free validation series"}


def _called(scores: Mapping[str, float], groups: Sequence[str], threshold: float) -> str:
    return f"{sum(scores[g] >= threshold for g in groups)}/{len(groups)}"


def _lgg_reports(scorer: _Scorer, test_items: list[dict], lgg_transform: Callable, choice: dict) -> dict[str, dict]:
    """Per sequence: :func:`slice_report` of the held-out patients, the lesion map's scores (with a lesion head) and
    the patient-level decisions of each series rule (the chosen one as ``patients_called_tumour``)."""
    outputs = scorer.outputs(test_items, lgg_transform)
    tumour = scorer.tumour_probabilities(outputs.probabilities) if len(test_items) else np.zeros(0)
    sequences = {}
    for seq, sel in _by_sequence(test_items).items():
        rows = [{"group": test_items[i]["group"], "label": test_items[i]["label"], "score": float(tumour[i]),
                 "position": float(position_prior([test_items[i]["slice_index"]], [test_items[i]["n_slices"]])[0])}
                for i in sel]
        report = {**slice_report(rows), **segmentation_summary(outputs, sel, [r["group"] for r in rows])}
        tumour_groups = sorted({r["group"] for r in rows if r["label"] == 1})
        by_rule = {}
        for rule, scores in scorer.series([r["group"] for r in rows], outputs.subset(sel)).items():
            threshold = choice["rules"][rule]["threshold"]
            by_rule[rule] = {"with_tumour": _called(scores, tumour_groups, threshold),
                             "without_tumour": _called(scores, sorted(set(scores) - set(tumour_groups)), threshold)}
        report["patients_called_tumour"] = by_rule[choice["chosen"]]
        report["patients_called_tumour_by_rule"] = by_rule
        sequences[seq] = report
    return sequences


def _healthy_report(scorer: _Scorer, people: HeldOutPeople, choice: dict) -> dict:
    """Held-out healthy subjects called tumour by the chosen series rule (each rule's count beside it); other
    scanners' healthy volumes beside them."""
    chosen, rules = choice["chosen"], choice["rules"]
    items = scorer.volume_items(people.ixi["testing"])
    groups = [it["group"] for it in items]
    scores = scorer.series(groups, scorer.outputs(items, people.volume_transform)) if items else {}
    called = {rule: sum(s >= rules[rule]["threshold"] for s in by_group.values()) for rule, by_group in scores.items()}
    n = len(scores.get(chosen, {}))
    healthy = {"n_subjects": n, "called_tumour": called.get(chosen, 0), "series_scores": scores.get(chosen, {}),
               "called_tumour_rate": called.get(chosen, 0) / n if n else None, "called_tumour_by_rule": called}
    for v in people.other_healthy:
        items = scorer.volume_items([v], people.other_healthy_root)
        score = scorer.series([v.group] * len(items), scorer.outputs(items, people.volume_transform))[chosen][v.group]
        healthy.setdefault("other_scanners", {})[v.group] = {"what": v.description, "series_score": score,
                                                             "called_tumour": score >= rules[chosen]["threshold"]}
    return healthy


def _pointing_game(scorer: _Scorer, sequences: dict[str, dict], test_items: list[dict], lgg_transform: Callable) -> None:
    """Add the pointing game of the held-out tumour slices to each sequence's report (all slices get overlays)."""
    overlays = scorer.settings.overlay_dir is not None
    for seq, report in sequences.items():
        chosen = [it for it in test_items if it["sequence"] == seq and (overlays or it["label"] == 1)]
        hits, baseline = _saliency(scorer, chosen, lgg_transform)
        report["pointing_game"] = float(np.mean(hits)) if hits else None
        report["pointing_game_brightest_region"] = float(np.mean(baseline)) if baseline else None
        report["pointing_game_n"] = len(hits)


def external_validation(
    network: torch.nn.Module,
    people: HeldOutPeople,
    class_names: Sequence[str],
    output_dir: str | PathLike,
    settings: ExternalSettings | None = None,
    extra: Mapping | None = None,
) -> dict:
    """Measure a trained model on held-out LGG patients and IXI subjects; write ``external.{json,md}``.

    Args:
        network: the trained classifier.
        people: the held-out LGG patients and IXI subjects (validation people choose the series threshold, test
            people are measured) and their preprocessing.
        class_names: the model's classes.
        output_dir: where ``external.json`` and ``external.md`` go.
        settings: the positive classes, series rule, batch size, device and pointing game (default
            :class:`ExternalSettings`: class ``tumor``, top 3, no pointing game).
        extra: added to the JSON (bundle, checkpoint, command...).

    Returns:
        the report written to ``external.json``.
    """
    settings = settings or ExternalSettings()
    scorer = _Scorer(network, class_names, settings)
    choice = _series_choice(scorer, people)
    test_items = list(people.lgg["testing"])
    sequences = _lgg_reports(scorer, test_items, people.lgg_transform, choice)
    healthy = _healthy_report(scorer, people, choice)
    if settings.saliency or settings.overlay_dir is not None:
        _pointing_game(scorer, sequences, test_items, people.lgg_transform)
    result = {
        **dict(extra or {}),
        "series_rule": {"method": choice["chosen"], "top_k": settings.top_k,
                        "threshold": choice["rules"][choice["chosen"]]["threshold"], "chosen_on": choice["chosen_on"],
                        "why": choice["why"], "rules": choice["rules"], "geometry": vars(settings.geometry)},
        "lesion_threshold": settings.lesion_threshold if has_lesion_head(network) else None,
        "lgg_test_patients": sorted({it["group"] for it in test_items}),
        "ixi_test_subjects": sorted(healthy["series_scores"]),
        "sequences": sequences,
        "healthy_volumes": healthy,
    }
    out = Path(output_dir)
    atomic_write_text(out / "external.json", json.dumps(result, indent=2, default=float) + "\n")
    atomic_write_text(out / "external.md", external_markdown(result))
    logger.info("external validation written to %s", out / "external.json")
    return result
