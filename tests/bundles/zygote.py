"""One interpreter per test worker that has imported torch, MONAI and the package once, and forks a fresh process
for each bundle command of the tests (``helpers.run_bundle``).

Each command still runs in a process of its own, as ``python -m monai.bundle run ...`` would: its own working
directory, environment, argv, stdout/stderr, exit status, ``sys.excepthook`` and normal interpreter shutdown
(atexit, logging); nothing of one command reaches another. What is saved is the 5-15 s of imports per command that
every one of the suite's ~90 bundle commands paid again (the imports are the same modules; a forked child only
inherits them). The user's command line itself, with its own interpreter start, is still run by the packaging
test from an installed wheel, and by the tests that kill a run (``subprocess``).

Protocol (one JSON line each way on stdin/stdout): ``{"module", "args", "cwd", "env", "stdout", "stderr",
"timeout"}`` in, ``{"returncode"}`` out (``null`` when the command ran past its timeout and was killed).
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import time

#: imported once, before any fork (no thread pool is started by importing them); the package's subpackages are named
#: because ``import monai_tumorcls`` alone imports them only on first use
PRELOAD = ("torch", "torchvision", "ignite.engine", "monai", "monai.bundle", "monai_tumorcls.apps",
           "monai_tumorcls.bundle.config", "monai_tumorcls.checkpoint", "monai_tumorcls.data", "monai_tumorcls.engines",
           "monai_tumorcls.handlers", "monai_tumorcls.inference", "monai_tumorcls.metrics", "monai_tumorcls.networks",
           "monai_tumorcls.transforms", "monai_tumorcls.utils")


def _run_in_child(request: dict) -> None:
    """The forked child: become the command, then leave through ``SystemExit`` (a normal interpreter exit)."""
    os.setpgid(0, 0)  # its own process group: a timeout kills what it started too
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads:  # the fresh interpreter would have read it at start
        import torch

        torch.set_num_threads(int(threads))
    sys.argv = [request["module"], *request["args"]]
    try:
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    except SystemExit:
        raise
    except BaseException:  # what the interpreter does with an uncaught exception: the hook (which may exit), then 1
        sys.excepthook(*sys.exc_info())
        raise SystemExit(1) from None
    raise SystemExit(0)


def _wait(pid: int, timeout: float) -> int | None:
    """The child's exit status (negative: killed by that signal), or ``None`` after killing it at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.05)


def main() -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    reply = os.fdopen(os.dup(1), "w")  # the children write over fd 1; replies keep their own descriptor
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _run_in_child(request)
        reply.write(json.dumps({"returncode": _wait(pid, request["timeout"])}) + "\n")
        reply.flush()


if __name__ == "__main__":
    main()
