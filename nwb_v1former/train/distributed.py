"""Process group set-up for `torchrun`: DistributedDataParallel over NCCL (a GPU per process) or gloo.

Outside torchrun (no WORLD_SIZE in the environment) everything runs in one process, unchanged.

Two timeouts, for two kinds of wait. The training collectives (gradients, the epoch's loss) run on
the main group with `COLLECTIVE_TIMEOUT`: a process that hangs there stops the job within it. Work the
main process does alone (converting or downloading the sources, validation, the final evaluation) can
take hours; the others wait for it on a separate gloo group with `MAIN_WORK_TIMEOUT`, blocked on the CPU
with no GPU collective pending, so NCCL's watchdog (10 minutes by default) never fires on them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from nwb_v1former.device import Placement, pick_placement
from nwb_v1former.errors import ConfigError

COLLECTIVE_TIMEOUT = timedelta(minutes=30)
"""How long a training collective may wait for a process before the job stops."""
MAIN_WORK_TIMEOUT = timedelta(days=7)
"""How long the other processes wait for the main process's work alone (conversion, evaluation)."""


@dataclass(frozen=True)
class Worker:
    """This process among the torchrun workers: its rank of world_size, the device it trains on, and the
    gloo group on which it waits for the main process (None outside torchrun)."""

    rank: int
    world_size: int
    device: torch.device
    waits: Any = None

    @property
    def is_main(self) -> bool:
        """Only the main process writes files and shows progress."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        """Wait until every process is here (for as long as the main process's work alone may take)."""
        if self.enabled:
            dist.barrier(group=self.waits)

    def from_main(self, value: Any) -> Any:
        """The main process's `value` in every process (a picklable object; on the waiting group)."""
        if not self.enabled:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0, group=self.waits)
        return box[0]


_joined: list[Worker] = []
"""The Worker of the process group this process is in, while it is in one (at most one)."""


@contextlib.contextmanager
def distributed(device: str | None = None) -> Iterator[Worker]:
    """Join the torchrun process group when launched by torchrun; yield this process's place.

    Inside another `distributed` block (compare trains several models in one group) the group already
    joined is reused, never made again."""
    if _joined:
        yield _joined[0]
        return
    placement = pick_placement(device)
    if placement.backend is None:
        yield Worker(0, 1, placement.device)
        return
    _join(placement)
    try:
        waits = dist.new_group(backend="gloo", timeout=MAIN_WORK_TIMEOUT)
        _joined.append(Worker(dist.get_rank(), dist.get_world_size(), placement.device, waits))
        yield _joined[0]
    finally:
        _joined.clear()
        dist.destroy_process_group()


def _join(placement: Placement) -> None:
    """Select this process's GPU and join torchrun's group; a failure is one line, not a traceback."""
    try:
        if placement.device.type == "cuda":
            torch.cuda.set_device(placement.device)
        dist.init_process_group(
            placement.backend,
            timeout=COLLECTIVE_TIMEOUT,
            device_id=placement.device if placement.backend == "nccl" else None,
        )
    except (RuntimeError, ValueError) as error:  # torch's DistError and NCCL errors are RuntimeErrors
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(
            f"torchrun: this process ({placement.device}, {placement.backend}) cannot join the others: "
            f"{first}"
        ) from None
