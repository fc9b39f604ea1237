"""Intensity normalisation: min-max, percentile, z-score, contrast stretching."""
