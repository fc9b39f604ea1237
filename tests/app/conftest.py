"""Fixtures of the web-app tests: a tiny checkpoint (random ResNet18, seeded: the app and the CLI must agree on
any weights) and the bundle served with it at 64 px so that a volume takes seconds on a CPU."""

from __future__ import annotations

import pytest

from tests.bundles.helpers import random_weights

BUNDLE = "bundles/resnet18_binary"
OVERRIDES = {"train_overrides": {"image_size": 64}}


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    return random_weights(tmp_path_factory.mktemp("app_model") / "tiny.pt")


@pytest.fixture(scope="session")
def service(tiny_checkpoint):
    from monai_tumorcls.app import BundleService
    from tests.bundles.helpers import PROJECT_ROOT

    return BundleService(PROJECT_ROOT / BUNDLE, tiny_checkpoint, OVERRIDES)
