"""Moved to :mod:`monai_tumorcls.data.datasets.multisource` (dataset-specific code lives in ``data/datasets``); the old
names warn for one release."""

from monai_tumorcls.utils.deprecation import moved_names

__getattr__ = moved_names(__name__, "monai_tumorcls.data.datasets.multisource", [
    "IXI_DIRNAME", "SOURCES", "ixi_volumes", "build_multisource_datalists", "source_balanced_sampler",
])
