"""Integration: the throughput benchmark runs end to end on a few real images and writes the section of its
configuration: a rerun of the same configuration replaces it, another configuration adds its own."""

from __future__ import annotations

import re

import pytest

from benchmarks import speed_page, throughput_report
from benchmarks import train_throughput as train_throughput_module


@pytest.fixture(scope="module")
def bench():
    return train_throughput_module


@pytest.mark.integration
def test_tiny_run_writes_the_section_of_its_configuration(bench, kaggle_root, tmp_path):
    out = tmp_path / "benchmarks.md"
    tiny = ["--max-images", "8", "--image-size", "64", "--batch-size", "4", "--latency-runs", "3", "--out", str(out)]
    bench.main(tiny + ["--archs", "resnet18", "--stage1-max-images", "12"])
    first = out.read_text()
    assert first.startswith("# Benchmarks") and first.count("\n## ") == 1
    assert "Command (from the project root): `python -m benchmarks.train_throughput --max-images 8" in first
    assert re.search(r"^## train_throughput: resnet18_binary \(resnet18\), device cpu, amp none, 8 images × 1 epoch\(s\), "
                     r"batch 4, 64 px, 0 workers; plain, bundle, synthetic, latency, stage1 of resnet18_4class — .+, \d+ cores, "
                     r"GPU: none$", first, re.M), first
    assert re.search(r"^Measured \d{4}-\d\d-\d\d \d\d:\d\d UTC\. ", first, re.M) and "- load average (1/5/15 min) at start: " in first
    rows = re.findall(r"^\| (plain torchvision|bundle resnet18_binary|synthetic ceiling)[^|]*\| resnet18 \|.*\| 8 \|.*$", first, re.M)
    assert rows == ["plain torchvision", "bundle resnet18_binary", "synthetic ceiling"], first
    assert re.search(r"^- resnet18: the bundle trainer runs at \d+\.\d % of the synthetic-input ceiling \((meets|misses) the 80 % goal\)$", first, re.M), first
    assert re.search(r"^\| resnet18 \| cpu \| none \| \d+\.\d \|", first, re.M), first
    assert re.search(r"^\| 1\d / \d+ \| \(512, 7, 7\) \|", first, re.M), first  # stage 1 at the bundle's 224 px
    latency_only = tiny + ["--archs", "resnet18", "--skip", "plain", "bundle", "synthetic", "stage1"]
    bench.main(latency_only + ["--note", "second run"])
    second = out.read_text()
    assert second.startswith(first.rstrip("\n")) and second.count("\n## ") == 2  # another configuration: added
    assert "- note: second run" in second.split("\n## ")[2]
    bench.main(latency_only + ["--note", "third run"])
    third = out.read_text()
    assert third.count("\n## ") == 2 and third.startswith(first.rstrip("\n"))  # the same one: replaced, first kept
    assert "- note: third run" in third.split("\n## ")[2] and "second run" not in third
    assert not list(tmp_path.glob(".*.tmp"))


def test_missing_stage1_bundle_is_reported_not_fatal(bench, tmp_path):
    args = bench.parse_args(["--stage1-bundle", "no_such_bundle"])
    result = bench.bench_stage1(args, bench.torch.device("cpu"), str(tmp_path))
    assert result["status"].startswith("not run:")
    section = bench.render_section(
        {"cpu": "c", "cores": 1, "gpu": "none", "machine": "m", "memory_gib": 1.0, "load_average": "0",
         "python": "3", "torch": "t", "torchvision": "tv", "monai": "m", "ignite": "i"},
        args, "python -m benchmarks.train_throughput", [], [], result,
    )
    assert "not run: bundles/no_such_bundle/configs/train.json does not exist." in section
    assert section[0] == "## " + speed_page.throughput_name(args, {"cpu": "c", "cores": 1, "gpu": "none"})


def test_ceiling_share_per_backbone():
    rows = [
        {"kind": "plain", "arch": "resnet18", "images": 100, "epoch_s": [1.0]},
        {"kind": "bundle", "arch": "resnet18", "images": 100, "epoch_s": [2.0, 2.0]},  # 50 images/s
        {"kind": "synthetic", "arch": "resnet18", "images": 100, "epoch_s": [1.6]},  # 62.5 images/s
        {"kind": "bundle", "arch": "resnet50", "images": 10, "epoch_s": [1.0]},  # 10 images/s
        {"kind": "synthetic", "arch": "resnet50", "images": 10, "epoch_s": [0.5]},  # 20 images/s
        {"kind": "bundle", "arch": "resnet101", "images": 10, "epoch_s": [1.0]},  # no ceiling measured: no line
    ]
    assert throughput_report._ceiling_lines(rows) == [
        "",
        "- resnet18: the bundle trainer runs at 80.0 % of the synthetic-input ceiling (meets the 80 % goal)",
        "- resnet50: the bundle trainer runs at 50.0 % of the synthetic-input ceiling (misses the 80 % goal)",
    ]
    assert throughput_report._ceiling_lines(rows[:1]) == []
