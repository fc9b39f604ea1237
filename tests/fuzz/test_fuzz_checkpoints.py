"""Fuzzing the checkpoint contract with seeded mutations of a genuine checkpoint's metadata and weights (NaN and
infinite values, shapes, dtypes, missing and extra tensors; config syntax, wrong types, deep nesting and huge values
in any metadata field): each is either read and loaded, or refused with an error naming the file; metadata that
passes holds nothing MONAI's config parser would evaluate; mutated metadata without a new digest never passes."""

from __future__ import annotations

import copy
import math
import random

import pytest
import torch

from monai_tumorcls.checkpoint import DIGEST_KEY, OPTION_TYPES, load_checkpoint, read_metadata

from tests.security import hostile_checkpoints as hostile

SEED = 20261207
N_MUTANTS = 300


def _paths(value, prefix=()) -> list[tuple]:
    """The place of every value nested in ``value`` (dict keys and list indices)."""
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    out = [prefix] if prefix else []
    for key, child in children:
        out += _paths(child, prefix + (key,))
    return out


def _junk(rng: random.Random, sentinel: str):
    touch = f"__import__('pathlib').Path({sentinel!r}).touch()"
    return rng.choice([
        rng.choice(["$", "@", "%", " $", "\t@", ""]) + touch, "@" + rng.choice(["run", "initialize", "network_def"]),
        rng.choice([math.nan, math.inf, -math.inf, -1, 0, 1e30, 2**70, 3.5]), rng.choice([True, False, None]),
        {"_target_": "pathlib.Path.touch", "self": sentinel}, [touch] * rng.randint(1, 3), "x" * 100_000,
        [[[[[[[[[[1]]]]]]]]]], list(range(20_000)), {"$" + touch: 1}, "resnet18; rm -rf", "",
    ])


def _mutate_metadata(rng, metadata, sentinel):
    mutated = copy.deepcopy(metadata)
    place = rng.choice(_paths(mutated))
    holder = mutated
    for key in place[:-1]:
        holder = holder[key]
    holder[place[-1]] = _junk(rng, sentinel)
    return mutated


def _mutate_weights(rng, state):
    mutated = {k: v.clone() for k, v in state.items()}
    name = rng.choice(sorted(k for k, v in mutated.items() if v.is_floating_point()))
    kind = rng.choice(["nan", "inf", "shape", "dtype", "missing", "extra", "not_a_tensor"])
    if kind in ("nan", "inf"):
        mutated[name].view(-1)[rng.randrange(mutated[name].numel())] = math.nan if kind == "nan" else math.inf
    elif kind == "shape":
        mutated[name] = torch.zeros(*(s + 1 for s in mutated[name].shape))
    elif kind == "dtype":
        mutated[name] = mutated[name].to(torch.int64)
    elif kind == "missing":
        del mutated[name]
    elif kind == "extra":
        mutated["extra.weight"] = torch.zeros(2)
    else:
        mutated[name] = [0.0, 1.0]
    return mutated


def _holds_config_syntax(value) -> bool:
    if isinstance(value, str):
        return value.lstrip().startswith(("$", "@", "%"))
    if isinstance(value, dict):
        return "_target_" in value or any(_holds_config_syntax(k) or _holds_config_syntax(v) for k, v in value.items())
    return isinstance(value, list) and any(map(_holds_config_syntax, value))


def _load(path, network):
    """``None`` when the checkpoint is read and loaded, else the refusal's message."""
    try:
        metadata = read_metadata(path)
        load_checkpoint(path, network)
    except Exception as e:  # noqa: BLE001 - every refusal is an exception whose message names the file
        assert str(path) in str(e).splitlines()[0], f"{type(e).__name__}: {e}"[:300]
        return str(e)
    assert not _holds_config_syntax(metadata) and set(metadata.get("options", {})) <= set(OPTION_TYPES)
    return None


def _small_network() -> torch.nn.Module:
    """Weights to mutate: small, so that hundreds of checkpoints take seconds (the schema and digest checks do not
    depend on the network the metadata describes)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.LazyLinear(2))


@pytest.fixture(scope="module")
def genuine(tmp_path_factory):
    _, metadata = hostile.genuine(tmp_path_factory.mktemp("fuzz_ckpt"))
    network = _small_network()
    network(torch.zeros(1, 3, 8, 8))  # materialises the lazy layer
    return network.state_dict(), metadata, network


def test_mutated_checkpoints_are_loaded_safely_or_refused(genuine, tmp_path):
    state, metadata, network = genuine
    rng, sentinel, path = random.Random(SEED), tmp_path / "pwned", tmp_path / "model.pt"
    outcomes = {"weights": [], "metadata_new_digest": [], "metadata_old_digest": []}
    for _ in range(N_MUTANTS):
        kind = rng.choice(sorted(outcomes))
        if kind == "weights":
            hostile.write(path, _mutate_weights(rng, state), metadata)
        else:
            mutated = _mutate_metadata(rng, metadata, str(sentinel))
            if mutated == metadata:  # the junk drawn equals the value it replaced: not an edit
                continue
            hostile.write(path, state, mutated)
            if kind == "metadata_old_digest":  # edited in place: the digest written with the genuine metadata
                raw = torch.load(path, weights_only=True)
                raw[DIGEST_KEY] = torch.load(hostile.write(tmp_path / "g.pt", state, metadata), weights_only=True)[DIGEST_KEY]
                torch.save(raw, path)
        outcomes[kind].append(_load(path, network))
    assert not sentinel.exists()
    assert all(outcomes["metadata_old_digest"])  # nothing edited passes without a new digest
    for kind in ("weights", "metadata_new_digest"):  # the mutations reach both outcomes
        assert any(o is None for o in outcomes[kind]) and any(outcomes[kind]), kind
    assert any("NaN or infinite" in o for o in outcomes["weights"] if o)
