from __future__ import annotations

import pytest
import torch

from monai_tumorcls.utils import atomic_torch_save, atomic_write, atomic_write_text


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    atomic_write_text(target, "first")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as f:
            f.write("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "first"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_atomic_torch_save_loads_weights_only(tmp_path):
    sd = torch.nn.Linear(2, 1).state_dict()
    atomic_torch_save(sd, tmp_path / "m.pt")
    loaded = torch.load(tmp_path / "m.pt", weights_only=True)
    assert torch.equal(loaded["weight"], sd["weight"])


def test_atomic_write_uses_normal_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "report.json", "{}")
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_orphan_temp_files_of_dead_writers_are_removed_on_next_write(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = socket.gethostname()
    orphan = tmp_path / f".m.pt.{host}.{int(dead.stdout)}.abc123.tmp"  # left by a writer killed mid-save
    live = tmp_path / f".m.pt.{host}.{os.getpid()}.def456.tmp"  # a writer still at work
    other = tmp_path / f".other.pt.{host}.{int(dead.stdout)}.abc123.tmp"  # another file's: not ours to judge
    for p in (orphan, live, other):
        p.write_bytes(b"partial")
    atomic_torch_save({"w": torch.zeros(1)}, tmp_path / "m.pt")
    assert not orphan.exists() and live.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["m.pt"]
