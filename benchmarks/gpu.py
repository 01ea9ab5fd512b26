"""GPU: is the CUDA path right, and how fast is the published architecture on one GPU.

Needs a CUDA GPU; elsewhere it prints one line saying so and exits 0. Under 8 minutes on one H100:

1. Correctness: the `viv1t-2025` architecture (seeded weights, 1000 neurons) predicts one 300-frame
   trial on the CPU in float32, then on the GPU in float32 (IEEE: no TF32, as every command sets it)
   and in bf16 autocast (the core only; tokenizer and heads stay float32). Relative L2 error of each
   against the CPU, and the correlation of bf16 and float32 predictions. Fails (exit 1) when float32
   is off by more than FLOAT32_BOUND or bf16 by more than BF16_BOUND.
2. Inference: 300-frame trials per second, one trial at a time, bf16 and float32 (the paper's
   ViV1T: 10.41 trials/s, its hardware not stated).
3. Training: seconds per step of one 300-frame window through the whole model (forward, backward,
   AdamW), bf16 autocast against float32.
4. torchrun: `pretrain` of a small simulated session with 2 processes, `--device cuda` (a GPU each
   where the machine has 2, else both on one GPU over gloo): it must end and its config.yaml record
   2 processes.

Prints a table, then one JSON line of figures, each beside its ratio (to the CPU, the paper, float32).
Run: `python benchmarks/gpu.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from nwb_v1former.device import use_ieee_float32
from nwb_v1former.model.config import preset
from nwb_v1former.model.model import V1Former
from nwb_v1former.train.loss import poisson_loss

PAPER_TRIALS_PER_SECOND = 10.41
"""ViV1T's inference rate in the paper's comparison table."""
FLOAT32_BOUND = 1e-4
"""Relative L2 error of CUDA float32 predictions against the CPU's (summation order only)."""
BF16_BOUND = 2e-2
"""Relative L2 error of CUDA bf16 predictions (core in bf16) against float32 on the CPU."""
FRAMES = 300
NEURONS = 1000
KEY = "bench"


def model_and_inputs(seed: int = 0) -> tuple[V1Former, tuple[torch.Tensor, ...]]:
    """viv1t-2025 with seeded weights and one session; one trial's normalised inputs (CPU)."""
    torch.manual_seed(seed)
    model = V1Former(preset("viv1t-2025"))
    rng = np.random.default_rng(seed)
    coordinates = rng.uniform(0, 500, (NEURONS, 3)).astype(np.float32)
    model.add_session(KEY, np.arange(NEURONS), coordinates)
    model.eval()
    video = torch.randn(1, 1, FRAMES, 36, 64)
    behavior, pupil = torch.randn(1, 2, FRAMES), torch.randn(1, 2, FRAMES)
    return model, (video, behavior, pupil)


@torch.inference_mode()
def predict(
    model: V1Former, inputs: tuple[torch.Tensor, ...], device: torch.device, bf16: bool
) -> torch.Tensor:
    """(1, T, N) float32 on the CPU; the core under bf16 autocast when asked."""
    moved = [tensor.to(device) for tensor in inputs]
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        return model(*moved, session=KEY).float().cpu()


def relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    return float((value - reference).norm() / reference.norm())


def trials_per_second(model: V1Former, inputs: tuple[torch.Tensor, ...], bf16: bool, trials: int) -> float:
    device = torch.device("cuda")
    moved = [tensor.to(device) for tensor in inputs]
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
        for _ in range(2):  # warm-up: kernels chosen, memory cached
            model(*moved, session=KEY)
        torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(trials):
            model(*moved, session=KEY)
        torch.cuda.synchronize()
    return trials / (time.perf_counter() - started)


def step_seconds(model: V1Former, inputs: tuple[torch.Tensor, ...], bf16: bool, steps: int) -> float:
    """Seconds per training step of one window through the whole model (forward, backward, AdamW)."""
    device = torch.device("cuda")
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    moved = [tensor.to(device) for tensor in inputs]
    target = torch.rand(1, FRAMES, NEURONS, device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            prediction = model(*moved, session=KEY)
        poisson_loss(prediction.float(), target).backward()
        optimizer.step()

    step()
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    model.eval()
    return (time.perf_counter() - started) / steps


def torchrun_pretrain(folder: Path) -> dict[str, object]:
    """2 torchrun processes train a tiny model on one small simulated session with --device cuda."""
    cli = [sys.executable, "-m", "nwb_v1former"]
    store = folder / "store"
    subprocess.run(
        [
            *cli,
            "simulate",
            "--out",
            str(folder / "nwb"),
            "--animals",
            "1",
            "--neurons",
            "60",
            "--minutes",
            "2",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*cli, "convert", str(folder / "nwb"), "--out", str(store)], check=True, capture_output=True
    )
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    options = ["--preset", "tiny", "--max-epochs", "2", "--window", "60", "--no-report", "--device", "cuda"]
    started = time.perf_counter()
    result = subprocess.run(
        [*launcher, "-m", "nwb_v1former", "pretrain", str(store), "--out", str(folder / "run"), *options],
        capture_output=True,
        text=True,
        timeout=400,
    )
    seconds = time.perf_counter() - started
    config = (
        (folder / "run" / "config.yaml").read_text() if (folder / "run" / "config.yaml").is_file() else ""
    )
    return {
        "ok": result.returncode == 0 and "processes: 2" in config,
        "seconds": round(seconds, 1),
        "gpus": torch.cuda.device_count(),
        "log_tail": "" if result.returncode == 0 else result.stderr.strip().splitlines()[-3:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30, help="timed inference trials per precision")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per precision")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("benchmarks/gpu.py needs a CUDA GPU (torch sees none here); nothing measured")
        return
    use_ieee_float32()
    gpu = torch.device("cuda")
    model, inputs = model_and_inputs()
    started = time.perf_counter()
    reference = predict(model, inputs, torch.device("cpu"), bf16=False)
    cpu_seconds = time.perf_counter() - started
    model.to(gpu)
    float32 = predict(model, inputs, gpu, bf16=False)
    bf16 = predict(model, inputs, gpu, bf16=True)
    errors = {"float32": relative_error(float32, reference), "bf16": relative_error(bf16, reference)}
    correlation = float(np.corrcoef(bf16.flatten().numpy(), float32.flatten().numpy())[0, 1])
    rates = {bf: trials_per_second(model, inputs, bf, args.trials) for bf in (True, False)}
    steps = {bf: step_seconds(model, inputs, bf, args.steps) for bf in (True, False)}
    with tempfile.TemporaryDirectory() as folder:
        ddp = torchrun_pretrain(Path(folder))
    name = torch.cuda.get_device_name(gpu)
    print(f"viv1t-2025 ({NEURONS} neurons, {FRAMES}-frame trials) on {name}")
    print(f"{'figure':<44}{'value':>12}{'ratio':>12}  ratio to")
    rows = [
        (
            "CUDA float32 vs CPU, relative L2 error",
            errors["float32"],
            errors["float32"] / FLOAT32_BOUND,
            "bound",
        ),
        ("CUDA bf16 vs CPU float32, relative L2 error", errors["bf16"], errors["bf16"] / BF16_BOUND, "bound"),
        ("inference bf16, trials/s", rates[True], rates[True] / PAPER_TRIALS_PER_SECOND, "paper 10.41"),
        ("inference float32, trials/s", rates[False], rates[False] / PAPER_TRIALS_PER_SECOND, "paper 10.41"),
        ("training step bf16, s", steps[True], steps[True] / steps[False], "float32 step"),
        ("CPU float32 trial, s", cpu_seconds, cpu_seconds * rates[True], "GPU bf16 trial"),
    ]
    for label, value, ratio, against in rows:
        print(f"{label:<44}{value:>12.4g}{ratio:>12.3f}  {against}")
    print(f"bf16 / float32 prediction correlation {correlation:.6f}; torchrun 2 processes: {ddp}")
    figures = {
        "benchmark": "gpu",
        "device": name,
        "float32_relative_error": errors["float32"],
        "float32_ratio_to_bound": errors["float32"] / FLOAT32_BOUND,
        "bf16_relative_error": errors["bf16"],
        "bf16_ratio_to_bound": errors["bf16"] / BF16_BOUND,
        "bf16_float32_correlation": correlation,
        "trials_per_second_bf16": rates[True],
        "trials_per_second_bf16_ratio_to_paper": rates[True] / PAPER_TRIALS_PER_SECOND,
        "trials_per_second_float32": rates[False],
        "trials_per_second_float32_ratio_to_paper": rates[False] / PAPER_TRIALS_PER_SECOND,
        "train_step_seconds_bf16": steps[True],
        "train_step_bf16_ratio_to_float32": steps[True] / steps[False],
        "cpu_trial_seconds": cpu_seconds,
        "torchrun_two_processes_ok": ddp["ok"],
        "torchrun_seconds": ddp["seconds"],
    }
    print(json.dumps({key: round(v, 6) if isinstance(v, float) else v for key, v in figures.items()}))
    if errors["float32"] > FLOAT32_BOUND or errors["bf16"] > BF16_BOUND or not ddp["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    main()
