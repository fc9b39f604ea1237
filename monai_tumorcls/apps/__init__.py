"""Task stacks built on the generic layers, one package a task, as ``monai.apps.<task>``."""
