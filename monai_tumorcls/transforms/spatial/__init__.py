"""Random, invertible flips and rotations of 2D images."""
