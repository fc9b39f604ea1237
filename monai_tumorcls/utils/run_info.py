"""What a run logs about itself at start: bundle, initialisation, data, machine and versions."""

from __future__ import annotations

import logging
import platform
import shlex

import torch

__all__ = ["log_run_start", "describe_init", "environment_info", "cpu_model", "shell_join"]

logger = logging.getLogger("monai_tumorcls")


def describe_init(pretrained) -> str:
    """Human-readable description of a ``pretrained`` setting (``None`` = random init, an explicit choice)."""
    if pretrained is None or (isinstance(pretrained, str) and pretrained.strip().lower() in ("", "null", "none", "random")):
        return "random initialisation (explicit choice: pretrained=null; no ImageNet weights used)"
    if pretrained == "imagenet":
        return "ImageNet weights from the torchvision hub cache (TORCH_HOME)"
    return f"weights from local file {pretrained}"


def cpu_model() -> str:
    """The CPU's model name (from ``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment_info() -> dict:
    """Machine and library versions, for reports and benchmark tables."""
    import monai
    import torchvision

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "monai": monai.__version__,
        "machine": f"{platform.machine()} {cpu_model()}",
        "cpu_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


def log_run_start(bundle_name: str, pretrained=None, data_dir: str | None = None) -> None:
    """Log (INFO) the bundle, how the network was initialised, where data comes from, and the environment."""
    logger.info("bundle %s: %s", bundle_name, describe_init(pretrained))
    if data_dir:
        logger.info("bundle %s: data from %s", bundle_name, data_dir)
    logger.info("environment: %s", environment_info())


def shell_join(args: list[str]) -> str:
    """A command line a user can paste: like ``shlex.join`` but list-valued arguments (MONAI bundle config lists,
    ``"['a.json','b.json']"``) go in double quotes."""
    out = []
    for a in args:
        if a and not any(c in a for c in " \"$`\\'[]{}()*?;&|<>!#~"):
            out.append(a)
        elif '"' not in a and "$" not in a and "`" not in a and "\\" not in a:
            out.append(f'"{a}"')
        else:
            out.append(shlex.quote(a))
    return " ".join(out)
