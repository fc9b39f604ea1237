"""Packaged like a library: lower bounds in ``install_requires``, the exact versions in ``constraints.txt`` (which
``make setup`` installs with), and console commands that run the same programs as their ``python -m`` forms."""

from __future__ import annotations

import importlib
import re
import sys

import pytest
from packaging.requirements import Requirement
from packaging.version import Version
from setuptools.config.setupcfg import read_configuration

from ..bundles.helpers import PROJECT_ROOT

OPTIONS = read_configuration(str(PROJECT_ROOT / "setup.cfg"))["options"]


def _constraints() -> dict[str, Version]:
    pins = {}
    for line in (PROJECT_ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.lower()] = Version(version)  # a line without "==" fails here: constraints are exact
    return pins


def _requirements() -> list[Requirement]:
    extras = [r for rs in OPTIONS["extras_require"].values() for r in rs]
    return [Requirement(r) for r in OPTIONS["install_requires"] + extras if not r.startswith("monai-tumorcls")]


def test_install_requires_has_lower_bounds_only():
    for req in map(Requirement, OPTIONS["install_requires"]):
        assert [s.operator for s in req.specifier] == [">="], req  # an exact pin conflicts with other MONAI projects
    assert {r.name for r in map(Requirement, OPTIONS["install_requires"])} >= {"torch", "torchvision", "monai",
                                                                             "pytorch-ignite"}


def test_constraints_pin_every_direct_dependency_within_its_bounds():
    pins = _constraints()
    for req in _requirements():
        assert req.name.lower() in pins, f"{req.name} has no exact version in constraints.txt"
        assert req.specifier.contains(pins[req.name.lower()]), f"constraints.txt: {req.name} outside {req}"


def test_make_setup_installs_with_the_constraints_and_the_test_extras():
    recipe = (PROJECT_ROOT / "Makefile").read_text().split("$(VENV)/.installed:")[1]
    assert "constraints.txt" in recipe.splitlines()[0]  # a changed constraints file reinstalls
    assert re.search(r"pip install .*-c constraints\.txt -e '\.\[test\]'", recipe)
    test_extra = " ".join(OPTIONS["extras_require"]["test"])
    assert all(extra in test_extra for extra in ("sweep", "verify", "mlflow"))


ENTRY_POINTS = dict(line.split(" = ") for line in OPTIONS["entry_points"]["console_scripts"])


def test_console_commands_for_the_app_export_sweep_and_bundle_tools():
    assert sorted(ENTRY_POINTS) == ["monai-tumorcls-app", "monai-tumorcls-bundle", "monai-tumorcls-export",
                                    "monai-tumorcls-sweep"]
    for target in ENTRY_POINTS.values():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), target


def _command(name: str, args: list[str], monkeypatch) -> None:
    """Call the entry point of console command ``name`` as its script does (``sys.argv``: the command, then args)."""
    module, _, function = ENTRY_POINTS[name].partition(":")
    monkeypatch.setattr(sys, "argv", [name, *args])
    getattr(importlib.import_module(module), function)()


def test_bundle_command_lists_the_bundles(monkeypatch, capsys):
    _command("monai-tumorcls-bundle", ["list"], monkeypatch)
    shipped = sorted(p.parent.parent.name for p in (PROJECT_ROOT / "bundles").glob("*/configs/metadata.json"))
    assert capsys.readouterr().out.split() == shipped


@pytest.mark.parametrize("name, args, expected", [
    ("monai-tumorcls-sweep", ["--help"], "--sampler {grid,tpe}"),
    ("monai-tumorcls-app", ["--help"], "serve the page and the JSON API"),  # the app's own help, not fire's
    ("monai-tumorcls-export", [], "onnx"),  # fire's list of commands
])
def test_commands_run_their_python_m_program(name, args, expected, monkeypatch, capsys):
    try:
        _command(name, args, monkeypatch)
    except SystemExit as e:
        assert e.code in (0, None)
    assert expected in capsys.readouterr().out
