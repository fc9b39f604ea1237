"""The checkpoint contract moved from ``monai_tumorcls.handlers`` to ``monai_tumorcls.checkpoint``: the old names
still work for one release, each with a FutureWarning naming the new place; other names are not invented."""

from __future__ import annotations

import pytest

import monai_tumorcls.checkpoint as checkpoint
import monai_tumorcls.handlers as handlers

MOVED = ["CheckpointMismatchError", "calibrate_checkpoint", "check_checkpoint_values", "checkpoint_metadata",
         "checkpoint_train_overrides", "load_checkpoint", "read_checkpoint", "read_checkpoint_metadata"]


@pytest.mark.parametrize("name", MOVED)
def test_old_name_warns_and_is_the_new_object(name):
    with pytest.warns(FutureWarning, match=f"handlers.{name} moved to monai_tumorcls.checkpoint.{name}"):
        old = getattr(handlers, name)
    assert old is getattr(checkpoint, name) and name not in handlers.__all__


def test_unknown_names_still_fail():
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        handlers.no_such_thing  # noqa: B018
