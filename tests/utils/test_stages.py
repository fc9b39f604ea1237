"""monai_tumorcls.utils.stages: exclusive stage times, collected only inside ``stage_times``."""

from __future__ import annotations

import time

from monai_tumorcls.utils.stages import stage, stage_times, timed_items


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_a_nested_stage_pauses_the_outer_one():
    start = time.perf_counter()
    with stage_times() as seconds:
        with stage("outer"):
            _busy(0.05)
            with stage("inner"):
                _busy(0.1)
            _busy(0.05)
    wall = time.perf_counter() - start
    assert set(seconds) == {"outer", "inner"}
    assert 0.09 <= seconds["inner"] < 0.2
    assert 0.09 <= seconds["outer"] < 0.2  # the inner 0.1 s is not counted again
    assert seconds["outer"] + seconds["inner"] <= wall


def test_stages_add_up_and_nothing_is_collected_outside():
    with stage("read"):  # no collection: nothing to record into, and no error
        _busy(0.01)
    with stage_times() as seconds:
        for _ in range(3):
            with stage("forward"):
                _busy(0.02)
    assert list(seconds) == ["forward"] and 0.06 <= seconds["forward"] < 0.2
    with stage_times() as again:
        pass
    assert again == {}  # a new collection starts empty


def test_timed_items_counts_the_time_producing_each_item():
    def slow():
        for k in range(3):
            _busy(0.03)
            yield k

    with stage_times() as seconds:
        items = []
        for item in timed_items(slow(), "preprocessing"):
            with stage("forward"):
                _busy(0.01)
            items.append(item)
    assert items == [0, 1, 2]
    assert 0.09 <= seconds["preprocessing"] < 0.2 and 0.03 <= seconds["forward"] < 0.1
