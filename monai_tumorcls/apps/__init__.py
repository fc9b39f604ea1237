"""Task stacks built on the generic layers, one package a task, as ``monai.apps.<task>``: ``clinical`` (DICOM/NIfTI
and image inference with series decisions), ``ssl`` (self-supervised pretraining), ``validation`` (external
validation on held-out people)."""
