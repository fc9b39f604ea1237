"""Markdown tables of :func:`~monai_tumorcls.apps.validation.external_validation`'s report (``external.md``)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["external_markdown"]


def _f(v, nd: int = 3) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{nd}f}"


def _rule_text(rule: Mapping) -> str:
    if rule.get("method", "top_k_mean") == "lesion_volume":
        return "nominal lesion volume (ml) of the lesion map"
    return f"mean of the top {rule['top_k']} slice tumour probabilities"


def _lesion_lines(sequences: Mapping, threshold: float | None) -> list[str]:
    """The lesion map on held-out tumour slices and scans (networks with a lesion head only)."""
    rows = [f"| {seq} | {r['segmentation_n']} | {_f(r['dice_mean'])} ({_f(r['dice_median'])}) "
            f"| {_f(r['hd95_median_px'], 1)} | {_f(r['lesion_map_empty'])} | {_f(r['pointing_game_lesion_map'])} "
            f"| {_f(r.get('threshold_dice_mean'))} | {_f(r.get('scan_dice_mean_at_default'))} "
            f"| {_f(r.get('scan_dice_mean'))} |"
            for seq, r in sequences.items() if r.get("segmentation_n")]
    if not rows:
        return []
    return ["", f"Lesion map on held-out tumour slices (Dice, HD95 and empty maps at 0.5, as every fold was first "
            f"measured; the model's own threshold: {_f(threshold, 2)}; Dice: an empty map counts 0; HD95 over "
            "non-empty maps, pixels of the input; scan Dice: each held-out scan's slices pooled):", "",
            "| sequence | tumour slices | Dice mean (median) | HD95 median (px) | empty maps "
            "| pointing game (lesion map) | Dice at the model's threshold | scan Dice (0.5) "
            "| scan Dice (model's threshold) |",
            "|---|---|---|---|---|---|---|---|---|", *rows]


def external_markdown(result: Mapping) -> str:
    """Markdown tables of :func:`external_validation`'s report."""
    rule = result["series_rule"]
    lines = [
        "# Held-out patients: LGG (tumour and tumour-free slices of the same scans) and healthy IXI volumes",
        "",
        f"Series rule: {_rule_text(rule)} >= {rule['threshold']:.3f} (rule and threshold chosen on "
        f"{rule['chosen_on']}{'; ' + rule['why'] if rule.get('why') else ''}).",
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
    lines += _lesion_lines(result["sequences"], result.get("lesion_threshold"))
    h = result["healthy_volumes"]
    lines += ["", f"Healthy IXI volumes called tumour: {h['called_tumour']}/{h['n_subjects']}"
              f" (series scores {', '.join(f'{k} {v:.3f}' for k, v in h['series_scores'].items())})."]
    for name, o in h.get("other_scanners", {}).items():
        lines.append(f"Other healthy volume, never trained on: {name} ({o['what']}): series score "
                     f"{o['series_score']:.3f}, called {'tumour' if o['called_tumour'] else 'no tumour'}.")
    return "\n".join(lines) + "\n"
