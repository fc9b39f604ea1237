"""Synthetic focal lesions for tumour-free slices (breaks the slice-level shortcut of Kaggle-trained models)."""
