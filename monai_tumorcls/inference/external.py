"""Validation on held-out people: does the model find the tumour, or the scanner and the slice level?

On the held-out LGG patients (tumour and tumour-free slices of the same scans) and held-out healthy IXI subjects,
:func:`external_validation` reports per sequence

- slice-level ROC-AUC, sensitivity and specificity (tumour probability >= 0.5);
- the within-scan AUC of each patient (tumour vs tumour-free slices of the same scan: scanner and protocol are
  constant there, so only the image content can rank them) and their median;
- the position-only baseline beside both: a score that never looks at the image (closeness of the slice to the
  middle of the patient's stack); a model beats anatomy only where it beats this; and the position-matched AUC,
  over pairs of slices at the same distance from the middle only (the slice level held fixed);
- a patient-level decision with the series rule of bundle inference (mean of the top-k slice probabilities >=
  threshold), the threshold chosen on the validation people only (:func:`choose_threshold`);
- the share of held-out healthy volumes called "tumour" by the same rule;
- optionally the pointing game (:mod:`monai_tumorcls.visualize`): the share of tumour slices whose Grad-CAM peak
  lies in the mask, beside a model-free pointer (the brightest 9x9 window of the input) that it has to beat.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import torch
from monai.data import DataLoader, Dataset

from ..data.volume_slices import LabelledVolume, volume_slice_items
from ..utils.atomic import atomic_write_text
from .aggregation import aggregate_slices
from .evaluation import roc_auc
from ..visualize.saliency import DEFAULT_TARGET_LAYER, grad_cam, pointing_hits, saliency_peaks, write_overlay

logger = logging.getLogger(__name__)

__all__ = [
    "predict_probabilities",
    "position_prior",
    "slice_report",
    "position_matched_auc",
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
    network.eval()
    out = []
    with torch.no_grad():
        for batch in DataLoader(Dataset(list(items), transform), batch_size=batch_size, num_workers=0):
            out.append(torch.softmax(network(batch["image"].to(device)).float(), dim=1).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 0))


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
            out[str(g)] = roc_auc(scores[sel], labels[sel])
    return out


def position_matched_auc(scores: np.ndarray, labels: np.ndarray, position: np.ndarray, n_bins: int = 5) -> float:
    """AUC over the (tumour, tumour-free) pairs whose slices lie at the same distance from the middle of their
    stacks (the same bin of :func:`position_prior`): what is left of the ranking once the slice level is held fixed.
    NaN when no bin holds both kinds of slice."""
    bins = np.minimum((np.asarray(position) * n_bins).astype(int), n_bins - 1)
    total, weight = 0.0, 0
    for b in np.unique(bins):
        sel = bins == b
        pairs = int(labels[sel].sum()) * int((1 - labels[sel]).sum())
        if pairs:
            total += roc_auc(scores[sel], labels[sel]) * pairs
            weight += pairs
    return total / weight if weight else float("nan")


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
        "slice_auc": roc_auc(scores, labels),
        "position_auc": roc_auc(position, labels),
        "position_matched_auc": position_matched_auc(scores, labels, position),
        "position_matched_position_auc": position_matched_auc(position, labels, position),
        "sensitivity": float(called[labels == 1].mean()) if labels.any() else None,
        "specificity": float((~called[labels == 0]).mean()) if (labels == 0).any() else None,
        "within_scan_auc_median": float(np.median(list(within.values()))) if within else None,
        "within_scan_position_auc_median": float(np.median(list(within_position.values()))) if within_position else None,
        "within_scan_auc": within,
    }


def series_scores(groups: Sequence[str], probabilities: np.ndarray, class_names: Sequence[str],
                  tumour_class: str, top_k: int = 3) -> dict[str, float]:
    """Series tumour probability of each group (mean of its top-k slice tumour probabilities, as bundle inference)."""
    groups = np.asarray(groups)
    return {
        str(g): aggregate_slices(probabilities[groups == g], class_names, [tumour_class], method="top_k_mean",
                                 top_k=top_k).tumour_probability
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


def _volume_items(volumes: Sequence[LabelledVolume], class_names: Sequence[str], tumour_class: str,
                  root: str | PathLike | None = None) -> list[dict]:
    return [it for v in volumes for it in volume_slice_items(v, root, class_names, tumour_class)]


def _read_mask(path: str, shape: tuple[int, int]) -> np.ndarray:
    import tifffile
    from skimage.transform import resize

    return resize(tifffile.imread(path) > 0, shape, order=0, preserve_range=True, anti_aliasing=False)


def _brightest_region(images: torch.Tensor, size: int = 9) -> np.ndarray:
    """Model-free pointer: mean intensity of each ``size`` x ``size`` window of the first channel (FLAIR lesions are
    bright, so this is the baseline a saliency map has to beat)."""
    return torch.nn.functional.avg_pool2d(images[:, :1].float().cpu(), size, 1, size // 2)[:, 0].numpy()


def _saliency(network, items, transform, class_index, target_layer, batch_size, device, overlay_dir):
    """Grad-CAM of every item; pointing-game hits of the tumour items, of Grad-CAM and of the brightest region;
    overlay PNGs when ``overlay_dir``."""
    hits, baseline = [], []
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        batch = [transform(dict(it)) for it in chunk]
        images = torch.stack([torch.as_tensor(b["image"]) for b in batch]).to(device)
        maps = grad_cam(network, images, class_index, target_layer)
        peaks, bright_peaks = saliency_peaks(maps), saliency_peaks(_brightest_region(images))
        for it, b, m, p, q in zip(chunk, batch, maps, peaks, bright_peaks):
            if it["label"] == 1:
                mask = _read_mask(it["mask"], m.shape)[None]
                hits.append(bool(pointing_hits(p[None], mask)[0]))
                baseline.append(bool(pointing_hits(q[None], mask)[0]))
            if overlay_dir is not None:
                name = f"{it['group']}_{it['slice_index'] + 1}_{it['sequence']}.png"
                write_overlay(Path(overlay_dir) / name, np.asarray(b["image"])[0], m)
    return hits, baseline


class _Scorer:
    """Slice probabilities and series scores of one network (the fixed arguments of every step)."""

    def __init__(self, network, class_names, tumour_class, top_k, batch_size, device):
        self.network, self.class_names, self.tumour_class = network, list(class_names), tumour_class
        self.top_k, self.batch_size, self.device = top_k, batch_size, device
        self.t = self.class_names.index(tumour_class)

    def probabilities(self, items: Sequence[dict], transform: Callable) -> np.ndarray:
        return predict_probabilities(self.network, items, transform, self.batch_size, self.device)

    def series(self, groups: Sequence[str], probs: np.ndarray) -> dict[str, float]:
        return series_scores(groups, probs, self.class_names, self.tumour_class, self.top_k)


def _by_sequence(items: Sequence[dict]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        out[it["sequence"]].append(i)
    return out


def _series_threshold(scorer: _Scorer, lgg_val: Sequence[dict], lgg_transform: Callable, healthy_val: list[dict],
                      volume_transform: Callable) -> tuple[float, int, int]:
    """Threshold from the validation people only: LGG series (per patient and sequence) and healthy volumes."""
    positive, negative = [], []
    probs = scorer.probabilities(lgg_val, lgg_transform)
    for sel in _by_sequence(lgg_val).values():
        tumour_groups = {lgg_val[i]["group"] for i in sel if lgg_val[i]["label"] == 1}
        for g, score in scorer.series([lgg_val[i]["group"] for i in sel], probs[sel]).items():
            (positive if g in tumour_groups else negative).append(score)
    if healthy_val:
        negative += scorer.series([it["group"] for it in healthy_val], scorer.probabilities(healthy_val, volume_transform)).values()
    return choose_threshold(positive, negative), len(positive), len(negative)


def _lgg_reports(scorer: _Scorer, test_items: list[dict], lgg_transform: Callable, threshold: float) -> dict[str, dict]:
    """Per sequence: :func:`slice_report` of the held-out patients plus their patient-level decisions."""
    probs = scorer.probabilities(test_items, lgg_transform)
    sequences = {}
    for seq, sel in _by_sequence(test_items).items():
        rows = [{"group": test_items[i]["group"], "label": test_items[i]["label"], "score": float(probs[i, scorer.t]),
                 "position": float(position_prior([test_items[i]["slice_index"]], [test_items[i]["n_slices"]])[0])}
                for i in sel]
        report = slice_report(rows)
        tumour_groups = {r["group"] for r in rows if r["label"] == 1}
        scores = scorer.series([r["group"] for r in rows], probs[sel])
        report["patients_called_tumour"] = {
            "with_tumour": f"{sum(scores[g] >= threshold for g in tumour_groups)}/{len(tumour_groups)}",
            "without_tumour": f"{sum(s >= threshold for g, s in scores.items() if g not in tumour_groups)}/"
                              f"{len(scores) - len(tumour_groups)}",
        }
        sequences[seq] = report
    return sequences


def _healthy_report(scorer: _Scorer, volumes: Sequence[LabelledVolume], volume_transform: Callable, threshold: float,
                    other_healthy: Sequence[LabelledVolume], other_root: str | PathLike | None) -> dict:
    """Held-out healthy subjects called tumour by the series rule; other scanners' healthy volumes beside them."""
    items = _volume_items(volumes, scorer.class_names, scorer.tumour_class)
    scores = scorer.series([it["group"] for it in items], scorer.probabilities(items, volume_transform)) if items else {}
    called = sum(s >= threshold for s in scores.values())
    healthy = {"n_subjects": len(scores), "called_tumour": called, "series_scores": scores,
               "called_tumour_rate": called / len(scores) if scores else None}
    for v in other_healthy:
        items = _volume_items([v], scorer.class_names, scorer.tumour_class, other_root)
        score = scorer.series([v.group] * len(items), scorer.probabilities(items, volume_transform))[v.group]
        healthy.setdefault("other_scanners", {})[v.group] = {"what": v.description, "series_score": score,
                                                             "called_tumour": score >= threshold}
    return healthy


def external_validation(
    network: torch.nn.Module,
    lgg: Mapping[str, Sequence[dict]],
    ixi: Mapping[str, Sequence[LabelledVolume]],
    lgg_transform: Callable,
    volume_transform: Callable,
    class_names: Sequence[str],
    output_dir: str | PathLike,
    tumour_class: str = "tumor",
    top_k: int = 3,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    saliency: bool = False,
    target_layer: str = DEFAULT_TARGET_LAYER,
    overlay_dir: str | PathLike | None = None,
    other_healthy: Sequence[LabelledVolume] = (),
    other_healthy_root: str | PathLike | None = None,
    extra: Mapping | None = None,
) -> dict:
    """Measure a trained model on held-out LGG patients and IXI subjects; write ``external.{json,md}``.

    Args:
        network: the trained classifier.
        lgg: LGG items with ``validation`` and ``testing`` lists (:func:`~monai_tumorcls.data.lgg_fold_datalists`).
        ixi: IXI volumes with ``validation`` and ``testing`` lists.
        lgg_transform: preprocessing of LGG items (load, select the sequence, prepare, normalise).
        volume_transform: preprocessing of volume slices (prepare, normalise), as bundle inference.
        class_names: the model's classes; ``tumour_class`` is the positive one.
        output_dir: where ``external.json`` and ``external.md`` go.
        top_k: series rule (mean of the top-k slice tumour probabilities).
        saliency: also run the pointing game (Grad-CAM on every held-out tumour slice).
        target_layer: Grad-CAM layer.
        overlay_dir: if set, Grad-CAM overlays of every evaluated LGG slice are written there (implies saliency).
        other_healthy: tumour-free volumes of other scanners (never trained on), scored with the same series rule;
            relative paths are relative to ``other_healthy_root``.
        extra: added to the JSON (bundle, checkpoint, command...).

    Returns:
        the report written to ``external.json``.
    """
    scorer = _Scorer(network, class_names, tumour_class, top_k, batch_size, device)
    threshold, n_pos, n_neg = _series_threshold(scorer, lgg["validation"], lgg_transform,
                                                _volume_items(ixi["validation"], class_names, tumour_class),
                                                volume_transform)
    test_items = list(lgg["testing"])
    sequences = _lgg_reports(scorer, test_items, lgg_transform, threshold)
    healthy = _healthy_report(scorer, ixi["testing"], volume_transform, threshold, other_healthy, other_healthy_root)
    if saliency or overlay_dir is not None:  # pointing game on the held-out tumour slices (all slices for overlays)
        for seq, report in sequences.items():
            chosen = [it for it in test_items if it["sequence"] == seq and (overlay_dir is not None or it["label"] == 1)]
            hits, baseline = _saliency(network, chosen, lgg_transform, scorer.t, target_layer, batch_size, device, overlay_dir)
            report["pointing_game"] = float(np.mean(hits)) if hits else None
            report["pointing_game_brightest_region"] = float(np.mean(baseline)) if baseline else None
            report["pointing_game_n"] = len(hits)
    result = {
        **dict(extra or {}),
        "series_rule": {"method": "top_k_mean", "top_k": top_k, "threshold": threshold,
                        "chosen_on": f"{n_pos} tumour / {n_neg} tumour-free validation series"},
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


def _f(v, nd: int = 3) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{nd}f}"


def external_markdown(result: Mapping) -> str:
    """Markdown tables of :func:`external_validation`'s report."""
    rule = result["series_rule"]
    lines = [
        "# Held-out patients: LGG (tumour and tumour-free slices of the same scans) and healthy IXI volumes",
        "",
        f"Series rule: mean of the top {rule['top_k']} slice tumour probabilities >= {rule['threshold']:.3f} "
        f"(threshold chosen on {rule['chosen_on']}).",
        "",
        "| sequence | slices (tumour) | patients | slice AUC | position-only AUC | position-matched AUC | sensitivity "
        "| specificity "
        "| within-scan AUC (median) | position-only within-scan (median) | patients called tumour | pointing game "
        "| brightest-region pointer |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for seq, r in result["sequences"].items():
        pc = r["patients_called_tumour"]
        lines.append(
            f"| {seq} | {r['n_slices']} ({r['n_tumour_slices']}) | {r['n_patients']} | {_f(r['slice_auc'])} "
            f"| {_f(r['position_auc'])} | {_f(r.get('position_matched_auc'))} | {_f(r['sensitivity'])} "
            f"| {_f(r['specificity'])} "
            f"| {_f(r['within_scan_auc_median'])} | {_f(r['within_scan_position_auc_median'])} "
            f"| {pc['with_tumour']} with tumour, {pc['without_tumour']} without | {_f(r.get('pointing_game'))} "
            f"| {_f(r.get('pointing_game_brightest_region'))} |"
        )
    h = result["healthy_volumes"]
    lines += ["", f"Healthy IXI volumes called tumour: {h['called_tumour']}/{h['n_subjects']}"
              f" (series scores {', '.join(f'{k} {v:.3f}' for k, v in h['series_scores'].items())})."]
    for name, o in h.get("other_scanners", {}).items():
        lines.append(f"Other healthy volume, never trained on: {name} ({o['what']}): series score "
                     f"{o['series_score']:.3f}, called {'tumour' if o['called_tumour'] else 'no tumour'}.")
    return "\n".join(lines) + "\n"
