"""monai_tumorcls.utils.stages: exclusive stage times, collected only inside ``stage_times``. The module's clock is
a fake one that the test advances, so the times are exact whatever else runs on the machine."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from monai_tumorcls.utils import stages
from monai_tumorcls.utils.stages import stage, stage_times, timed_items


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(stages, "time", SimpleNamespace(perf_counter=fake))
    return fake


def test_a_nested_stage_pauses_the_outer_one(clock):
    with stage_times() as seconds:
        with stage("outer"):
            clock.advance(0.05)
            with stage("inner"):
                clock.advance(0.1)
            clock.advance(0.05)
    assert seconds == pytest.approx({"outer": 0.1, "inner": 0.1})  # the inner 0.1 s is not counted again


def test_stages_add_up_and_nothing_is_collected_outside(clock):
    with stage("read"):  # no collection: nothing to record into, and no error
        clock.advance(0.01)
    with stage_times() as seconds:
        for _ in range(3):
            with stage("forward"):
                clock.advance(0.02)
    assert seconds == pytest.approx({"forward": 0.06})
    with stage_times() as again:
        pass
    assert again == {}  # a new collection starts empty


def test_timed_items_counts_the_time_producing_each_item(clock):
    def slow():
        for k in range(3):
            clock.advance(0.03)
            yield k

    with stage_times() as seconds:
        items = []
        for item in timed_items(slow(), "preprocessing"):
            with stage("forward"):
                clock.advance(0.01)
            items.append(item)
            clock.advance(0.5)  # the consumer's own time outside any stage: counted nowhere
    assert items == [0, 1, 2]
    assert seconds == pytest.approx({"preprocessing": 0.09, "forward": 0.03})
