"""monai-tumorcls: a MONAI extension for brain-tumour classification on MRI.

Subpackages: ``checkpoint`` (the checkpoint contract), ``transforms``, ``data`` (readers, datalists), ``networks``, ``engines``, ``handlers``, ``metrics``,
``inference`` (clinical DICOM/NIfTI input), ``ssl`` (self-supervised pretraining), ``bundle`` (helpers for the MONAI Bundles in ``bundles/``).
"""

__version__ = "0.1.0"

from . import bundle, checkpoint, config, data, engines, handlers, metrics, networks, ssl, transforms, utils  # noqa: E402

__all__ = ["bundle", "checkpoint", "config", "data", "engines", "handlers", "metrics", "networks", "ssl", "transforms", "utils", "__version__"]
