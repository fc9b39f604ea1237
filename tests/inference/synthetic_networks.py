"""Tiny deterministic networks for the clinical-inference tests: :func:`marker_network` finds the phantom's bright
marker (:mod:`tests.inference.synthetic_inputs`), :func:`lesion_network` adds a lesion head that thresholds the
input."""

from __future__ import annotations

from .synthetic_inputs import MARKER

def marker_network():
    """(B, 3, S, S) -> (B, 4) logits [glioma, meningioma, notumor, pituitary]; glioma logit = 20 * (max - 0.5)
    where max is the brightest preprocessed pixel (the marker is 1.0 after :func:`marker_preprocess`)."""
    import torch

    net = torch.nn.Sequential(torch.nn.AdaptiveMaxPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 4))
    with torch.no_grad():
        net[2].weight.zero_()
        net[2].bias.copy_(torch.tensor([-10.0, -10.0, 0.0, -10.0]))
        net[2].weight[0] = torch.tensor([20.0 / 3, 20.0 / 3, 20.0 / 3])
    return net.eval()


def marker_preprocess(size: int = 16):
    """MONAI Compose: divide by :data:`MARKER`, repeat to 3 channels, resize to (size, size)."""
    from monai.transforms import Compose, Lambdad, RepeatChanneld, Resized

    return Compose(
        [
            Lambdad("image", lambda x: x / float(MARKER)),
            RepeatChanneld("image", 3),
            Resized("image", (size, size), mode="area"),
        ]
    )


CLASS_NAMES = ["glioma", "meningioma", "notumor", "pituitary"]


def lesion_network(level: float = 0.5):
    """A tiny deterministic network with a lesion head: :func:`marker_network`'s logits, and lesion logits
    ``400 * (x - level)`` of the first input channel. After :func:`marker_preprocess` the marker is 1.0 and the rest
    of the phantom <= 0.25: with ``level=0.5`` the lesion is the marker; a level inside the phantom's gradient
    (``100 + 20 * iz + ix``) gives a lesion that is not symmetric in any two axes, so a swapped or flipped axis
    shows."""
    import torch

    class LesionMarkerNetwork(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.classifier = marker_network()

        def forward(self, x):
            return self.classifier(x)

        def forward_lesion(self, x):
            return self.classifier(x), 400.0 * (x[:, :1] - level)

    return LesionMarkerNetwork().eval()
