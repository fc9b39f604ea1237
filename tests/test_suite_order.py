"""The suite's own scheduling: the slow files named in ``conftest.SLOW_FILES_FIRST`` exist (a renamed one would
silently fall back to the end of the run) and are collected first."""

from __future__ import annotations

from types import SimpleNamespace

from .bundles.helpers import PROJECT_ROOT
from .conftest import SLOW_FILES_FIRST, pytest_collection_modifyitems


def test_every_slow_file_named_exists():
    assert [p for p in SLOW_FILES_FIRST if not (PROJECT_ROOT / p).is_file()] == []


def test_slow_files_are_collected_first_and_the_rest_keep_their_order():
    ids = ["tests/a/test_x.py::t1", f"{SLOW_FILES_FIRST[1]}::t", "tests/a/test_x.py::t2", f"{SLOW_FILES_FIRST[0]}::t"]
    items = [SimpleNamespace(nodeid=i) for i in ids]
    pytest_collection_modifyitems(items)
    assert [i.nodeid for i in items] == [ids[3], ids[1], ids[0], ids[2]]
