"""Markdown tables of :func:`~monai_tumorcls.apps.validation.external_validation`'s report (``external.md``)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["external_markdown"]


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
