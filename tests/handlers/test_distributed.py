from __future__ import annotations

import pytest
import torch
import torch.multiprocessing as mp
from ignite.engine import Engine
from monai.handlers import StatsHandler, TensorBoardStatsHandler, ValidationHandler

from monai_tumorcls.handlers import (
    AtomicCheckpointSaver,
    BestCheckpoint,
    BroadcastBuffers,
    ReplicaSyncCheck,
    check_replicas_in_sync,
    dist_rank,
    dist_world_size,
    handlers_for_rank,
    state_checksum,
)


class _Wrapped(torch.nn.Module):
    """Stands in for DistributedDataParallel: the network under ``.module``."""

    def __init__(self, module):
        super().__init__()
        self.module = module


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))


def test_single_process_defaults():
    assert dist_rank() == 0 and dist_world_size() == 1
    net = _net()
    before = state_checksum(net)
    BroadcastBuffers(net)(None)  # no-op without torch.distributed
    assert state_checksum(net) == before == check_replicas_in_sync(net)


def test_handlers_for_rank_drops_only_logging_handlers(tmp_path):
    net = _net()
    val = ValidationHandler(interval=1)
    saver = AtomicCheckpointSaver(tmp_path / "ckpt", {"model": net}, BestCheckpoint("acc"))
    stats = StatsHandler()
    tb = TensorBoardStatsHandler(log_dir=str(tmp_path / "runs"))
    handlers = [val, stats, None, tb, saver]
    assert handlers_for_rank(handlers, rank=0) == [val, stats, tb, saver]
    assert list((tmp_path / "runs").glob("events.*"))  # rank 0 keeps its writer and file
    assert handlers_for_rank(handlers, rank=1) == [val, saver]
    assert not list((tmp_path / "runs").glob("events.*")), "the dropped writer's empty event file must go"
    assert handlers_for_rank(None, rank=1) == []
    assert handlers_for_rank([stats], rank_zero_only=[], rank=1) == [stats]


def test_state_checksum_ignores_layout_device_and_wrapper_but_not_values():
    net = _net()
    ref = state_checksum(net)
    assert state_checksum(_Wrapped(net)) == ref
    assert state_checksum(net.state_dict()) == ref
    cl = _net().to(memory_format=torch.channels_last)
    assert cl[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert state_checksum(cl) == ref
    with torch.no_grad():
        net[1].running_mean[0] += 1e-3
    assert state_checksum(net) != ref


def test_replica_sync_check_handler_runs_on_completion():
    net = _net()
    engine = Engine(lambda e, b: None)
    check = ReplicaSyncCheck(net)
    check.attach(engine)
    engine.run([0], max_epochs=1)
    assert check.checksum == state_checksum(net)


def _broadcast_worker(rank: int, world: int, init_file: str, queue) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        net = _net()
        with torch.no_grad():  # ranks disagree on the BatchNorm statistics, as after a DDP epoch
            net[1].running_mean.fill_(float(rank + 1))
        engine = Engine(lambda e, b: None)
        BroadcastBuffers(_Wrapped(net), src=0).attach(engine)
        engine.run([0], max_epochs=1)
        queue.put((rank, net[1].running_mean.tolist(), check_replicas_in_sync(net)))
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not built")
def test_broadcast_buffers_aligns_ranks_with_gloo(tmp_path):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    init_file = str(tmp_path / "store")
    mp.start_processes(_broadcast_worker, args=(2, init_file, queue), nprocs=2, start_method="spawn", join=True)
    results = sorted(queue.get(timeout=30) for _ in range(2))
    (_, mean0, digest0), (_, mean1, digest1) = results
    assert mean0 == mean1 == [1.0] * 4  # rank 0's statistics everywhere
    assert digest0 == digest1
