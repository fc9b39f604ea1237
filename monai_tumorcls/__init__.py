"""monai-tumorcls: a MONAI extension for brain-tumour classification on MRI.

Subpackages: ``checkpoint`` (the checkpoint contract), ``transforms``, ``data`` (readers, datalists), ``networks``,
``engines``, ``handlers``, ``metrics``, ``inference`` (clinical DICOM/NIfTI input), ``apps`` (task stacks:
``apps.ssl`` self-supervised pretraining, ``apps.validation`` research validation), ``bundle`` (helpers for the MONAI
Bundles in ``bundles/``).

Subpackages are imported on first use (``monai_tumorcls.networks`` in a bundle config imports it then): a command
that only lists or copies bundles does not pay the ~10 s of importing torch and MONAI.
"""

import importlib

__version__ = "0.1.0"

__all__ = ["apps", "bundle", "checkpoint", "config", "data", "engines", "handlers", "metrics", "networks", "transforms",
           "utils", "__version__"]
# public subpackages, plus the ones reached by path only (ssl: the old path of apps.ssl, kept for one release)
_SUBMODULES = frozenset(__all__[:-1]) | {"app", "cli", "export", "inference", "losses", "ssl", "sweep", "visualize"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")  # also binds it as an attribute of this package
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES)
