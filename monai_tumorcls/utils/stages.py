"""Where a run's time goes: ``with stage_times() as seconds:`` collects the wall seconds spent inside each
``with stage("forward"):`` block that runs in the same context (thread or task), by stage name.

Stages are exclusive: a stage entered inside another pauses the outer one, so the seconds add up to the time the
stages covered and nothing is counted twice (saliency's own preprocessing counts as ``preprocessing``). Outside a
collection a stage costs one context-variable lookup, so the inference code keeps its stages always on.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

__all__ = ["STAGES", "stage", "stage_times", "timed_items"]

#: the stage names the inference code uses, in pipeline order
STAGES = ("read", "slicing", "preprocessing", "forward", "aggregation", "saliency", "writing")


class _Collection:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.open: list[list] = []  # [name, start] of the entered stages, innermost last

    def charge(self, name: str, start: float, now: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + (now - start)


_ACTIVE: ContextVar[_Collection | None] = ContextVar("monai_tumorcls_stage_times", default=None)


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Count the block's wall time as ``name`` while a :func:`stage_times` collection is active."""
    collection = _ACTIVE.get()
    if collection is None:
        yield
        return
    now = time.perf_counter()
    if collection.open:  # pause the outer stage
        outer = collection.open[-1]
        collection.charge(outer[0], outer[1], now)
    collection.open.append([name, now])
    try:
        yield
    finally:
        now = time.perf_counter()
        _, start = collection.open.pop()
        collection.charge(name, start, now)
        if collection.open:  # the outer stage goes on from here
            collection.open[-1][1] = now


@contextlib.contextmanager
def stage_times() -> Iterator[dict[str, float]]:
    """Collect the seconds of the :func:`stage` blocks run inside, into the yielded dict (stage name -> seconds)."""
    collection = _Collection()
    token = _ACTIVE.set(collection)
    try:
        yield collection.seconds
    finally:
        _ACTIVE.reset(token)


def timed_items(items: Iterable, name: str) -> Iterator:
    """The items of ``items``, the time spent producing each (e.g. a data loader reading and preprocessing a
    batch) counted as stage ``name``."""
    iterator = iter(items)
    while True:
        with stage(name):
            try:
                item = next(iterator)
            except StopIteration:
                return
        yield item
