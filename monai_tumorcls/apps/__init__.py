"""Task stacks built on the package's layers, one sub-package each (as ``monai.apps.<task>``)."""
