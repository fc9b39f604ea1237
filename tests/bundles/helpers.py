"""Running bundles the way users do: ``python -m monai.bundle run ...`` in a subprocess from the project root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run_bundle(config_files: list[str] | str, run_id: str | None = None, timeout: int = 600, **overrides) -> subprocess.CompletedProcess:
    """Run a bundle config from the project root; ``overrides`` become ``--key value`` arguments.

    The command runs in a fresh process forked from this worker's preloaded interpreter (``tests/bundles/zygote.py``:
    the same command, without paying the imports again). Returns the completed process; does not raise on a
    non-zero exit; raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds (the run is killed).
    """
    cmd, env = bundle_command(config_files, run_id, **overrides)
    assert cmd[1:3] == ["-m", "monai.bundle"], cmd
    return _ZYGOTE.run(cmd, env, timeout)


class _Zygote:
    """This worker's ``tests/bundles/zygote.py`` process (started at the first command, restarted if it died)."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None

    def _started(self, env: dict) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([sys.executable, "-m", "tests.bundles.zygote"], cwd=PROJECT_ROOT,
                                         env={**os.environ, "OMP_NUM_THREADS": env["OMP_NUM_THREADS"]},
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        return self.proc

    def run(self, cmd: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
        with tempfile.TemporaryDirectory(prefix="bundle_run_") as tmp:
            out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
            request = {"module": cmd[2], "args": cmd[3:], "cwd": str(PROJECT_ROOT), "env": env, "stdout": str(out),
                       "stderr": str(err), "timeout": timeout}
            proc = self._started(env)
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            reply = proc.stdout.readline()
            assert reply, "the bundle-command zygote died (see the test output above)"
            code = json.loads(reply)["returncode"]
            stdout, stderr = out.read_text(errors="replace"), err.read_text(errors="replace")
        if code is None:
            raise subprocess.TimeoutExpired(cmd, timeout, stdout, stderr)
        return subprocess.CompletedProcess(cmd, code, stdout, stderr)


_ZYGOTE = _Zygote()


def bundle_command(config_files: list[str] | str, run_id: str | None = None, **overrides) -> tuple[list[str], dict]:
    """The ``python -m monai.bundle run`` command line and environment :func:`run_bundle` uses."""
    if isinstance(config_files, str):
        config_files = [config_files]
    cfg = config_files[0] if len(config_files) == 1 else "[" + ",".join(f"'{c}'" for c in config_files) + "]"
    cmd = [sys.executable, "-m", "monai.bundle", "run"] + ([run_id] if run_id else []) + ["--config_file", cfg]
    logging_conf = Path(config_files[0]).parent / "logging.conf"
    if (PROJECT_ROOT / logging_conf).is_file():
        cmd += ["--logging_file", str(logging_conf)]
    for key, value in overrides.items():
        cmd += [f"--{key}", value if isinstance(value, str) else repr(value)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    return cmd, env


def train_bundle(tmp_path_factory, name: str, config_file: str, **overrides) -> tuple[Path, subprocess.CompletedProcess]:
    """Run the ``training`` of ``config_file`` into a new temporary bundle root ``name`` (a module fixture's
    body); returns the root and the finished process (asserted to exit 0)."""
    root = tmp_path_factory.mktemp(name)
    return root, check(run_bundle(config_file, run_id="training", bundle_root=str(root), **overrides))


def check(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """Assert a zero exit status, showing the end of the output otherwise."""
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{(proc.stdout + proc.stderr)[-6000:]}"
    return proc


def random_weights(path: Path, seed: int = 0) -> Path:
    """A seeded random ResNet18 state dict (two classes) at ``path``: a checkpoint whose predictions mean nothing but
    are the same for every run that loads it."""
    import torch

    from monai_tumorcls.networks import ResNetClassifier

    torch.manual_seed(seed)
    torch.save(ResNetClassifier("resnet18", num_classes=2).state_dict(), path)
    return path
