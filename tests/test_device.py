"""Which device each process takes: the rule as a pure function of (asked, torchrun's place, machine),
played for GPU nodes this machine does not have, and real torchrun processes on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from nwb_v1former.cli.main import main

from nwb_v1former.device import Launch, Machine, place
from nwb_v1former.errors import ConfigError

NODE = Machine(gpus=8, cuda_build=True)
"""An 8-GPU node."""


def ranks(requested: str | None, processes: int, machine: Machine = NODE) -> list[tuple[str, str | None]]:
    """(device, backend) of each of `processes` torchrun processes on one node."""
    placements = [place(requested, Launch(rank, processes, processes), machine) for rank in range(processes)]
    return [(str(p.device), p.backend) for p in placements]


@pytest.mark.parametrize("requested", [None, "cuda"])
def test_under_torchrun_each_process_takes_its_own_gpu(requested: str | None) -> None:
    assert ranks(requested, 8) == [(f"cuda:{rank}", "nccl") for rank in range(8)]
    assert ranks(requested, 4) == [(f"cuda:{rank}", "nccl") for rank in range(4)]


def test_a_second_node_counts_from_its_own_local_rank() -> None:
    second = place("cuda", Launch(local_rank=3, local_world_size=8, world_size=16), NODE)
    assert (str(second.device), second.backend) == ("cuda:3", "nccl")


def test_one_gpu_named_under_torchrun_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError) as refused:
        place("cuda:2", Launch(1, 4, 4), NODE)
    assert str(refused.value) == (
        "--device cuda:2 under torchrun would put all 4 processes on one GPU; give --device cuda (each "
        "process takes cuda:LOCAL_RANK) and choose GPUs with CUDA_VISIBLE_DEVICES"
    )


def test_one_process_on_a_node_of_several_gpus_takes_one_and_says_how_to_use_all() -> None:
    for requested, device in ((None, "cuda:0"), ("cuda", "cuda:0"), ("cuda:5", "cuda:5")):
        placement = place(requested, Launch(), NODE)
        assert (str(placement.device), placement.backend) == (device, None)
        assert "torchrun --nproc-per-node 8 -m nwb_v1former" in placement.note
    assert place("cuda", Launch(), Machine(gpus=1, cuda_build=True)).note is None


def test_more_processes_than_gpus_share_them_over_gloo_and_say_so() -> None:
    assert ranks("cuda", 2, Machine(gpus=1, cuda_build=True)) == [("cuda:0", "gloo")] * 2
    assert ranks(None, 3, Machine(gpus=2, cuda_build=True)) == [
        ("cuda:0", "gloo"),
        ("cuda:1", "gloo"),
        ("cuda:0", "gloo"),
    ]
    note = place("cuda", Launch(0, 2, 2), Machine(gpus=1, cuda_build=True)).note
    assert "2 processes share this node's 1 GPU(s)" in note


def test_cpu_and_mps() -> None:
    assert ranks("cpu", 3) == [("cpu", "gloo")] * 3
    mac = Machine(mps=True)
    assert str(place(None, Launch(), mac).device) == "mps"
    assert str(place("mps", Launch(), mac).device) == "mps"
    assert ranks(None, 2, mac) == [("cpu", "gloo")] * 2  # torchrun on a Mac: its processes share the CPU
    with pytest.raises(ConfigError, match="torch cannot join processes on MPS; run one process"):
        place("mps", Launch(0, 2, 2), mac)


@pytest.mark.parametrize(
    ("requested", "machine", "line"),
    [
        ("cuda", Machine(), "--device cuda: this torch build has no CUDA support; use --device cpu"),
        (
            "cuda:0",
            Machine(cuda_build=True),
            "--device cuda:0: this torch build sees no GPU; use --device cpu",
        ),
        (
            "cuda:8",
            NODE,
            "--device cuda:8: this machine has 8 GPU(s); use one of: cpu, cuda (cuda:0 to cuda:7)",
        ),
        ("mps", Machine(), "--device mps: this machine or torch build has no MPS; use --device cpu"),
        ("xpu", NODE, "--device xpu: xpu is not supported; use one of: cpu, cuda (cuda:0 to cuda:7)"),
        ("gpu0", Machine(), "--device gpu0: not a device name; use one of: cpu"),
    ],
)
def test_a_device_that_is_not_there_is_one_line(requested: str, machine: Machine, line: str) -> None:
    with pytest.raises(ConfigError) as refused:
        place(requested, Launch(), machine)
    assert str(refused.value) == line


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_the_cli_says_a_missing_gpu_in_one_line(tmp_path: Path) -> None:
    """Before any work: the device is placed before the sources are read."""
    source, out = str(tmp_path / "session.nwb"), str(tmp_path / "run")
    result = CliRunner().invoke(main, ["finetune", source, "--out", out, "--device", "cuda"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: --device cuda: this torch build has no CUDA support; use --device cpu"
    )
    assert not (tmp_path / "run").exists()


PLAYER = """
import json, sys
from nwb_v1former.train.distributed import distributed
with distributed(sys.argv[1]) as worker:
    worker.barrier()
    print(json.dumps({
        "rank": worker.rank, "world_size": worker.world_size, "device": str(worker.device),
        "backend": __import__("torch").distributed.get_backend(),
        "from_main": worker.from_main({"rank": worker.rank}),
        "tf32": __import__("torch").backends.cudnn.conv.fp32_precision,
    }))
"""


@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="torch built without gloo")
def test_torchrun_processes_each_take_their_place_and_agree_on_the_main_process(tmp_path: Path) -> None:
    """Three real torchrun processes on this CPU: each its rank, the CPU over gloo, rank 0's values."""
    script = tmp_path / "player.py"
    script.write_text(PLAYER)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [*launcher, str(script), "cpu"], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    lines = sorted((json.loads(line) for line in result.stdout.splitlines()), key=lambda row: row["rank"])
    assert lines == [
        {
            "rank": rank,
            "world_size": 3,
            "device": "cpu",
            "backend": "gloo",
            "from_main": {"rank": 0},
            "tf32": "ieee",
        }
        for rank in range(3)
    ]
