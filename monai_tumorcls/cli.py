"""
The console commands an installation adds (``[options.entry_points]`` of ``setup.cfg``), each the same program as
its ``python -m`` form:

=========================  ===================================  ==============================================
command                    same as                              what
=========================  ===================================  ==============================================
``monai-tumorcls-app``     ``python -m monai_tumorcls.app``     the local web app (``docs/app.md``)
``monai-tumorcls-export``  ``python -m monai_tumorcls.export``  ONNX export of a bundle's network
``monai-tumorcls-sweep``   ``python -m monai_tumorcls.sweep``   Optuna sweeps (``docs/sweeps.md``)
``monai-tumorcls-bundle``  ``python -m monai_tumorcls.bundle``  list, copy, build, check and verify the bundles
=========================  ===================================  ==============================================

The sweep and bundle commands call those packages' ``main``; the app and export packages parse their arguments in
their ``__main__`` module itself, which these commands run as ``python -m`` does (``runpy``), so that both forms
cannot drift apart.
"""

from __future__ import annotations

import runpy

__all__ = ["app", "export"]


def _run_as_main(package: str) -> None:
    # alter_sys: sys.argv[0] becomes the module's file, as under ``python -m``; the arguments stay
    runpy.run_module(package, run_name="__main__", alter_sys=True)


def app() -> None:
    """``monai-tumorcls-app``: ``python -m monai_tumorcls.app``."""
    _run_as_main("monai_tumorcls.app")


def export() -> None:
    """``monai-tumorcls-export``: ``python -m monai_tumorcls.export``."""
    _run_as_main("monai_tumorcls.export")
