"""monai-tumorcls: a MONAI extension for brain-tumour classification on MRI.

Subpackages: ``checkpoint`` (the checkpoint contract), ``transforms``, ``data`` (readers, datalists), ``networks``, ``engines``, ``handlers``, ``metrics``,
``inference`` (clinical DICOM/NIfTI input), ``apps`` (task stacks: ``apps.ssl`` self-supervised pretraining,
``apps.validation`` research validation), ``bundle`` (helpers for the MONAI Bundles in ``bundles/``).
"""

__version__ = "0.1.0"

from . import apps, bundle, checkpoint, config, data, engines, handlers, metrics, networks, transforms, utils  # noqa: E402
from . import ssl  # noqa: E402  the old path of apps.ssl, kept importable for one release

__all__ = ["apps", "bundle", "checkpoint", "config", "data", "engines", "handlers", "metrics", "networks", "transforms", "utils", "__version__"]
