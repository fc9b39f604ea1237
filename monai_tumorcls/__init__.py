"""monai-tumorcls: a MONAI extension for brain-tumour classification on MRI.

Subpackages: ``transforms``, ``data`` (readers, datalists), ``networks``, ``engines``, ``handlers``, ``metrics``,
``inference`` (clinical DICOM/NIfTI input), ``ssl`` (self-supervised pretraining), ``bundle`` (helpers for the MONAI Bundles in ``bundles/``).
"""

__version__ = "0.1.0"

from . import bundle, config, data, engines, handlers, metrics, networks, ssl, transforms, utils  # noqa: E402

__all__ = ["bundle", "config", "data", "engines", "handlers", "metrics", "networks", "ssl", "transforms", "utils", "__version__"]
