"""Process group set-up for `torchrun`: DistributedDataParallel over gloo (CPU) or NCCL (GPU).

Outside torchrun (no WORLD_SIZE in the environment) everything runs in one process, unchanged.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from nwb_v1former.device import pick_device


@dataclass(frozen=True)
class Worker:
    """This process among the torchrun workers: its rank of world_size, and the device it trains on."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Only the main process writes files and shows progress."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


@contextlib.contextmanager
def distributed(device: str | None = None) -> Iterator[Worker]:
    """Join the torchrun process group when launched by torchrun; yield this process's place."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    chosen = pick_device(device, local_rank)
    if world_size == 1:
        yield Worker(0, 1, chosen)
        return
    backend = "nccl" if chosen.type == "cuda" else "gloo"
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    dist.init_process_group(backend)
    try:
        yield Worker(dist.get_rank(), world_size, chosen)
    finally:
        dist.destroy_process_group()
