"""The section of :mod:`benchmarks.time_to_decision` in ``docs/reports/benchmarks.md``: the goals, the cold and warm
stage budgets next to the forward-only floor, the app's latency and load test."""

from __future__ import annotations

import statistics

from monai_tumorcls.utils.reporting import portable_args, portable_path
from monai_tumorcls.utils.stages import STAGES

from .bench_common import PROJECT_ROOT
from .speed_page import OUT, machine_part, write_section

__all__ = ["write_report", "GOALS"]

COLD_STAGES = ("interpreter", "import monai", "imports", "config + model", *STAGES, "exit", "other")
#: the issue's goals on the 2-core machine, Siemens study
GOALS = {"warm_s": 1.5, "cold_over_import_s": 3.0, "rss_mb": 1024.0, "warm_over_floor": 1.5}


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _s(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _biggest(seconds: dict, skip=("total",)) -> str:
    name, value = max(((k, v) for k, v in seconds.items() if k not in skip), key=lambda kv: kv[1])
    return f"{name} {value:.2f} s"


def _pick(rows: list[dict], study: str, engine: str = "eager", **match) -> dict | None:
    found = [r for r in rows if r["study"] == study and r["engine"] == engine
             and all(r.get(k) == v for k, v in match.items())]
    return found[0] if found else None


def goal_lines(results: dict, dicom: str) -> list[str]:
    """The goals table for the DICOM study (eager), each measured value with the stage that holds it."""
    monai_s = statistics.median(s for s, _ in results["import_monai"])
    monai_mb = statistics.median(mb for _, mb in results["import_monai"])
    cold = _pick(results["cold"], dicom)
    warm = _pick(results["warm"], dicom, saliency=True)
    plain = _pick(results["warm"], dicom, saliency=False)
    app = results["app"]
    app_post = next((p for p in app["posts"] if p["study"] == dicom), None) if app else None
    rows = [
        ("warm service decision, saliency of the contributing slices (in process; app POST in brackets)",
         f"<= {GOALS['warm_s']} s", warm["seconds"]["total"], GOALS["warm_s"],
         f"{_s(warm['seconds']['total'])} s ({_s(app_post['median']) if app_post else 'n/a'} s)",
         _biggest(warm["seconds"])),
        ("cold CLI minus `python -c \"import monai\"`", f"<= {GOALS['cold_over_import_s']} s",
         cold["plain_total"] - monai_s, GOALS["cold_over_import_s"],
         f"{_s(cold['plain_total'])} - {_s(monai_s)} = {_s(cold['plain_total'] - monai_s)} s",
         _biggest({k: v for k, v in cold["seconds"].items() if k != "import monai"})),
        ("peak RSS, cold CLI (app server in brackets)", "<= 1 GB", cold["peak_rss_mb"], GOALS["rss_mb"],
         f"{cold['peak_rss_mb']:.0f} MB ({app['peak_rss_mb']:.0f} MB)" if app else f"{cold['peak_rss_mb']:.0f} MB",
         f"`import monai` alone: {monai_mb:.0f} MB"),
        ("warm pipeline / forward-only floor (no saliency)", f"<= {GOALS['warm_over_floor']}x",
         plain["seconds"]["total"] / plain["forward_floor"], GOALS["warm_over_floor"],
         f"{_s(plain['seconds']['total'])} / {_s(plain['forward_floor'])} = "
         f"{plain['seconds']['total'] / plain['forward_floor']:.2f}x", _biggest(plain["seconds"])),
    ]
    lines = [_row(("measure (Siemens DICOM study, eager)", "goal", "measured", "met", "largest stage")),
             "|---|---|---|---|---|"]
    lines += [_row((m, g, text, "yes" if value <= limit else "**no**", biggest))
              for m, g, value, limit, text, biggest in rows]
    return lines


def cold_lines(rows: list[dict]) -> list[str]:
    head = ("study", "engine", *COLD_STAGES, "total", "plain command", "peak RSS MB", "decision")
    lines = [_row(head), "|" + "---|" * 2 + "---:|" * (len(head) - 3) + "---|"]
    for r in rows:
        stages = [_s(r["seconds"].get(k, 0.0)) for k in COLD_STAGES]
        lines.append(_row((r["study"], r["engine"], *stages, f"**{_s(r['total'])}**", _s(r["plain_total"]),
                           f"{r['peak_rss_mb']:.0f}", _decision_text(r["decision"]))))
    return lines


def _decision_text(decision: dict) -> str:
    if "tumour_probability" in decision:
        return f"{decision['label']} p={decision['tumour_probability']:.6f}"
    return f"{decision['label']} " + ", ".join(f"{v:.6f}" for v in decision["probabilities"].values()) \
        if isinstance(decision.get("probabilities"), dict) else str(decision["label"])


def warm_lines(rows: list[dict]) -> list[str]:
    stages = (*STAGES, "config + model")
    head = ("study", "engine", "saliency", "slices", *STAGES, "total", "forward-only floor", "total / floor")
    lines = [_row(head), "|" + "---|" * 3 + "---:|" * (len(head) - 3)]
    for r in rows:
        cells = [_s(r["seconds"].get(k, 0.0)) for k in stages if k in STAGES]
        ratio = r["seconds"]["total"] / r["forward_floor"] if r["forward_floor"] else float("nan")
        lines.append(_row((r["study"], r["engine"], "yes" if r["saliency"] else "no", r["classified"], *cells,
                           f"**{_s(r['seconds']['total'])}**", _s(r["forward_floor"]), f"{ratio:.2f}x")))
    return lines


def app_lines(app: dict | None) -> list[str]:
    if app is None:
        return ["The app was not measured (`--skip-app`)."]
    lines = [_row(("study posted", "median s", "p90 s")), "|---|---:|---:|"]
    lines += [_row((p["study"], _s(p["median"]), _s(p["p90"]))) for p in app["posts"]]
    load = app["load"]
    lines += ["", f"Load test: {load['studies']} posts of {load['study']}, {load['concurrency']} at a time, "
              f"loopback: {_s(load['wall'])} s in all, {load['per_minute']:.1f} studies/min, latency median "
              f"{_s(load['median'])} s, p95 {_s(load['p95'])} s. Server peak RSS: {app['peak_rss_mb']:.0f} MB."]
    return lines


def write_report(args, info: dict, when: tuple[str, str, str], results: dict) -> None:
    """Write (replace) this bundle's section on this machine."""
    started, load_start, load_end = when
    weights = portable_path(args.checkpoint, PROJECT_ROOT) if args.checkpoint else "seeded random weights"
    name = f"time_to_decision: {args.bundle} ({weights}) — {machine_part(info)}"
    dicom = next((r["study"] for r in results["cold"] if r["study"].startswith("siemens")), None)
    command = " ".join(["python -m benchmarks.time_to_decision", *portable_args(args.argv, PROJECT_ROOT)])
    section = [
        f"## {name}", "",
        f"Measured {started}. Command (from the project root): `{command}`", "",
        f"- machine: {info['machine']}, {info['cores']} cores, GPU: {info['gpu']}; torch threads {info['cpu_threads']}",
        f"- load average (1/5/15 min) at start: {load_start}; at end: {load_end}",
        f"- versions: python {info['python']}, torch {info['torch']}, monai {info['monai']}, onnxruntime "
        f"{_version('onnxruntime')}",
        "- studies: `$MONAI_DATA_DIRECTORY/" + "`, `".join(_study_names()) + "`",
        "- `python -c \"import monai\"`: " + ", ".join(f"{_s(v)} s, {mb:.0f} MB" for v, mb in results["import_monai"]),
        *([f"- note: {args.note}"] if args.note else []), "",
        *(goal_lines(results, dicom) if dicom else ["No goals: the Siemens study was not measured."]), "",
        "### Cold command, seconds per stage", "",
        "`total`: launch to exit of `benchmarks/cold_cli.py` (the command with its stages timed); `plain command`: "
        "the same `python -m monai.bundle run` untimed inside; `imports`: every import after `import monai`, "
        "wherever it happened; `config + model`: the config parse, the checkpoint load and the building of the run's "
        "components; `exit`: interpreter shut-down; `other`: what no stage covered.", "",
        *cold_lines(results["cold"]), "",
        "### Warm, in process (network loaded), median seconds per stage", "",
        "The forward-only floor: the same engine on as many inputs as the study classified, in the same batches.", "",
        *warm_lines(results["warm"]), "",
        "### The app (`python -m monai_tumorcls.app`), loopback", "",
        *app_lines(results["app"]),
    ]
    write_section(args.out or OUT, section)


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _study_names() -> list[str]:
    from .time_to_decision import STUDIES

    return list(STUDIES.values())
