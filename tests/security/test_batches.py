"""Problem entries never break a batch. The issue's repro: a folder whose first entry is a dangling link (``ln -s
nowhere a.jpg``) stopped the whole image run at collate (``KeyError: 'problem'``, a 168-line traceback, no output,
exit status 1). Every entry now gets its row, at the default batch size and at 1, 2 and 32, whichever item leads a
batch.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.security.runs import run_inference, write_checkpoint, write_image


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt")


@pytest.fixture(scope="module")
def repro(tmp_path_factory):
    """Problem entries first, alone, and between images: a dangling link, a corrupt file, a link to a folder."""
    folder = tmp_path_factory.mktemp("repro")
    os.symlink("nowhere", folder / "a.jpg")  # sorts first: it leads every batch size's first batch
    write_image(folder / "b.jpg")
    (folder / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    write_image(folder / "d.png", seed=1)
    os.symlink(folder, folder / "e")  # alone in the last batch at batch size 2
    return folder


@pytest.mark.parametrize("batch_size", [None, 1, 2, 32])
def test_every_entry_gets_its_row_whichever_leads_a_batch(checkpoint, repro, tmp_path, batch_size):
    overrides = {} if batch_size is None else {"batch_size": batch_size}
    code, table = run_inference(checkpoint, repro, tmp_path / "out", **overrides)
    assert table is not None, "no predictions written"
    rows = {Path(r["file"]).name: r for r in table["rows"]}
    assert sorted(rows) == ["a.jpg", "b.jpg", "c.png", "d.png", "e"]
    assert rows["a.jpg"]["error"] == f"{repro / 'a.jpg'}: dangling or looping symbolic link"
    assert rows["e"]["error"] == f"{repro / 'e'}: symbolic link to a folder, not followed"
    assert rows["c.png"]["status"] == "error" and "PNG" in rows["c.png"]["error"]
    for name in ("b.jpg", "d.png"):
        assert rows[name]["status"] == "ok" and rows[name]["predicted"] in ("notumor", "tumor"), rows[name]
    assert (table["num_failed"], table["num_classified"]) == (3, 2)
    assert code == 1  # some inputs failed
