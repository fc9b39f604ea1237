"""Reading and writing checkpoints: ``torch.load(..., weights_only=True)`` only, metadata bound to the weights.

A checkpoint with metadata is ``{"model": state_dict, "metadata": {...}, "digest": "<sha256>"}``. The digest is the
SHA-256 of the metadata (canonical JSON) and of every tensor's name, dtype, shape and bytes, so metadata edited
after training (e.g. to another image size, which inference would then use on weights trained for another) is
found and refused. It is an integrity check against edits and mix-ups, not a signature: whoever can write the file
can recompute it. What keeps a hostile file from running code is the schema (:mod:`.schema`) and ``weights_only``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch

from monai_tumorcls.utils.atomic import atomic_torch_save
from monai_tumorcls.utils.distributed import dist_rank

from .schema import validate_metadata

__all__ = [
    "DIGEST_KEY",
    "METADATA_KEY",
    "CheckpointDigestError",
    "check_finite_weights",
    "checkpoint_digest",
    "load_checkpoint",
    "network_to_decide_on",
    "read_checkpoint",
    "read_metadata",
    "save_checkpoint",
    "update_metadata",
    "verify_digest",
]

logger = logging.getLogger(__name__)

#: key of a checkpoint's metadata, next to the weights' keys.
METADATA_KEY = "metadata"
#: key of the SHA-256 binding the metadata to the weights.
DIGEST_KEY = "digest"


class CheckpointDigestError(ValueError):
    """A checkpoint's metadata is not the one written with its weights (or carries no digest)."""


def _feed(h: "hashlib._Hash", name: str, value) -> None:
    """Hash ``value`` (nested state dicts, tensors and plain values) under ``name``, in sorted key order."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}:{flat.dtype}:{tuple(value.shape)};".encode())
        h.update(flat.view(torch.uint8).numpy().tobytes())
    elif isinstance(value, Mapping):
        for key in sorted(value, key=str):
            _feed(h, f"{name}.{key}", value[key])
    else:  # plain values of optimizer states and the like
        h.update(f"{name}={json.dumps(value, sort_keys=True, default=str)};".encode())


def checkpoint_digest(ckpt: Mapping) -> str:
    """SHA-256 (hex) of the metadata and weights of ``ckpt`` (every key but the digest itself)."""
    h = hashlib.sha256()
    for key in sorted(k for k in ckpt if k not in (METADATA_KEY, DIGEST_KEY)):
        _feed(h, key, ckpt[key])
    h.update(json.dumps(ckpt.get(METADATA_KEY), sort_keys=True, default=str).encode())
    return h.hexdigest()


def save_checkpoint(path: str | Path, weights: Mapping[str, Mapping], metadata: Mapping | None = None) -> Path:
    """Write ``weights`` (name -> state dict, e.g. ``{"model": net.state_dict()}``) atomically, with ``metadata``
    and its digest when given (a plain state dict of ``weights["model"]`` alone otherwise, as MONAI writes it)."""
    if not metadata:
        return atomic_torch_save(dict(weights["model"]) if list(weights) == ["model"] else dict(weights), Path(path))
    ckpt = {**weights, METADATA_KEY: dict(metadata)}
    return atomic_torch_save({**ckpt, DIGEST_KEY: checkpoint_digest(ckpt)}, Path(path))


def verify_digest(ckpt: Mapping, path: str | Path) -> None:
    """Refuse checkpoint ``ckpt`` (read from ``path``) whose metadata is not bound to its weights by its digest.

    Raises:
        CheckpointDigestError: no digest, or one that does not match.
    """
    stored = ckpt.get(DIGEST_KEY)
    if stored is None:
        raise CheckpointDigestError(f"{path}: the metadata carries no digest binding it to the weights (written by an "
                                    "older release, or edited); pass --accept_edited_checkpoint true to use it anyway")
    if stored != checkpoint_digest(ckpt):
        raise CheckpointDigestError(f"{path}: the metadata does not match the weights (edited after training?); pass "
                                    "--accept_edited_checkpoint true to use it anyway")


def update_metadata(path: str | Path, updates: Mapping) -> dict:
    """Merge ``updates`` into checkpoint ``path``'s metadata and re-save it with a new digest, atomically: how a
    decision made after training (the temperature, the lesion threshold, the validation record) is stored.

    Returns:
        the new metadata.

    Raises:
        ValueError: one line naming the file: no metadata (a plain state dict says nothing about itself), metadata
            edited after training (:class:`CheckpointDigestError`: re-sealing it would make the edit pass), or new
            metadata that does not pass the schema.
    """
    ckpt = read_checkpoint(path)
    if not isinstance(ckpt.get(METADATA_KEY), Mapping) or not ckpt[METADATA_KEY]:
        raise ValueError(f"{path}: holds no metadata (a plain state dict); only a checkpoint written by training "
                         "with its metadata can store what was decided after training")
    verify_digest(ckpt, path)
    metadata = validate_metadata({**ckpt[METADATA_KEY], **updates})
    save_checkpoint(path, {k: v for k, v in ckpt.items() if k not in (METADATA_KEY, DIGEST_KEY)}, metadata)
    return metadata


def check_finite_weights(state: Mapping, path: str | Path) -> None:
    """Refuse a state dict holding NaN or infinite values (a diverged or damaged model decides nothing).

    Raises:
        ValueError: names the first such tensor.
    """
    for name, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ValueError(f"{path}: weights {name} hold NaN or infinite values; the model is broken")


def _load(path: Path):
    if path.suffix.lower() == ".safetensors":  # tensors only by design: nothing to unpickle
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    return torch.load(path, map_location="cpu", weights_only=True)


def read_checkpoint(path: str | Path) -> Mapping:
    """The whole content of checkpoint ``path`` (weights and, if stored, ``"metadata"``): a ``.safetensors`` file
    with :func:`safetensors.torch.load_file`, any other with ``torch.load(..., weights_only=True)``, so files that
    hold arbitrary pickled objects are refused.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a file that is not a loadable checkpoint; one line naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found (train the bundle first or pass a checkpoint path)")
    try:
        ckpt = _load(path)
    except pickle.UnpicklingError as e:  # torch's message advises weights_only=False: never for untrusted files
        raise ValueError(f"{path}: refused, the checkpoint holds pickled objects other than tensors (loading them "
                         "could run code); save the weights with torch.save(model.state_dict(), ...)") from e
    except Exception as e:  # noqa: BLE001 - truncated, empty, not a torch file: one line naming the file
        first_line = (str(e).strip().splitlines() or [""])[0]
        raise ValueError(f"{path}: not a loadable checkpoint ({type(e).__name__}: {first_line[:200]})") from e
    if not isinstance(ckpt, Mapping):
        raise ValueError(f"{path}: checkpoint holds {type(ckpt).__name__}, expected a state dict")
    return ckpt


def read_metadata(path: str | Path, accept_edited: bool = False) -> dict:
    """The metadata of checkpoint ``path``, checked: it passes the schema (always) and its digest binds it to the
    weights (unless ``accept_edited``, the user's explicit choice, which is logged); ``{}`` with a warning for a
    checkpoint written without metadata, and for a missing file (which loading the weights reports).

    Raises:
        CheckpointMetadataError: the metadata does not pass the schema.
        CheckpointDigestError: edited metadata (no digest, or one that does not match), unless ``accept_edited``.
    """
    if not Path(path).is_file():
        return {}
    ckpt = read_checkpoint(path)
    if not ckpt.get(METADATA_KEY):
        logger.warning("%s holds no metadata (a plain state dict): the network and preprocessing come from the "
                       "bundle's train.json and overrides alone, unchecked", path)
        return {}
    try:
        metadata = validate_metadata(ckpt[METADATA_KEY])
    except ValueError as e:
        raise type(e)(f"{path}: metadata refused: {e}") from None
    if accept_edited:
        logger.warning("%s: metadata used without checking its digest (--accept_edited_checkpoint true)", path)
    else:
        verify_digest(ckpt, path)
    return metadata


def load_checkpoint(path: str | Path, network: torch.nn.Module | None = None, key: str | None = None, strict: bool = True):
    """Load a checkpoint written by :class:`~monai_tumorcls.handlers.AtomicCheckpointSaver` or MONAI's
    ``CheckpointSaver``.

    Uses ``torch.load(..., weights_only=True)``: files that hold arbitrary pickled objects are refused; weights
    holding NaN or infinite values are refused too (a broken model must not decide).

    Args:
        path: checkpoint file.
        network: if given, its ``load_state_dict`` receives the weights.
        key: entry to take from a multi-object checkpoint (default: ``"model"`` or ``"network"`` when present).
        strict: passed to ``load_state_dict``.

    Returns:
        The state dict (of ``key`` when it applies).

    Raises:
        ValueError: one line naming the file: not loadable, not tensors, NaN or infinite values, or weights that do
            not fit ``network``.
    """
    ckpt = read_checkpoint(path)
    if key is None:
        key = next((k for k in ("model", "network") if isinstance(ckpt.get(k), Mapping)), None)
    state = ckpt[key] if key is not None else ckpt
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: the weights{f' under {key!r}' if key else ''} are not a state dict of tensors")
    check_finite_weights(state, path)
    if network is not None:
        try:
            getattr(network, "module", network).load_state_dict(state, strict=strict)
        except RuntimeError as e:  # torch lists every missing/unexpected/mis-shaped tensor over many lines
            raise ValueError(f"{path}: the weights do not fit the network ({' '.join(str(e).split())[:300]})") from e
    return state


def network_to_decide_on(path: str | Path, network: torch.nn.Module, dataset, what: str) -> torch.nn.Module | None:
    """``network`` (unwrapped from DDP) holding checkpoint ``path``'s weights, in eval mode, for a decision made on
    ``dataset`` after training; ``None`` (logged with ``what``) where nothing is to be decided: a rank other than 0
    of a distributed run (one process writes), an empty dataset, or no checkpoint written."""
    if dist_rank() != 0:
        return None
    if len(dataset) == 0 or not Path(path).is_file():  # no validation split: nothing to fit on, no best checkpoint
        logger.warning("%s: %s (%s)", path, what, "empty dataset" if len(dataset) == 0 else "no checkpoint was written")
        return None
    network = getattr(network, "module", network)
    load_checkpoint(path, network)
    return network.eval()
