"""Checks of written DICOM results shared by the tests: the SR's content tree by concept name, and a second
reader (dcmtk's ``dsrdump`` for the SR, dicom3tools' ``dciodvfy`` for any object). A missing tool fails the test:
``make test`` installs both (``make system-packages``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest


def sr_items(dataset: pydicom.Dataset) -> dict[str, list[pydicom.Dataset]]:
    """Every content item of the SR's tree (depth first) by the meaning of its concept name."""
    found: dict[str, list[pydicom.Dataset]] = {}

    def walk(items) -> None:
        for item in items:
            if "ConceptNameCodeSequence" in item:
                found.setdefault(item.ConceptNameCodeSequence[0].CodeMeaning, []).append(item)
            walk(item.get("ContentSequence", []))

    walk(dataset.ContentSequence)
    return found


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install dcmtk and dicom3tools (make system-packages)")
    return path


def dsrdump_errors(path: Path) -> list[str]:
    """dcmtk's reading of an SR: fails the test on a non-zero exit; returns its error ("E:") lines."""
    proc = subprocess.run([_tool("dsrdump"), str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"dsrdump {path.name}: exit {proc.returncode}: {proc.stderr[-2000:]}"
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("E:")]


def dciodvfy_report(path: Path) -> tuple[list[str], list[str]]:
    """dicom3tools' IOD check of a file: its "Error" lines and its "Warning" lines."""
    proc = subprocess.run([_tool("dciodvfy"), str(path)], capture_output=True, text=True, timeout=60)
    lines = (proc.stdout + proc.stderr).splitlines()
    return [line for line in lines if "Error" in line], [line for line in lines if "Warning" in line]
