"""Wall time of `nwb-v1former demo` (default settings) against the 5-minute goal, step by step.

    python benchmarks/demo.py [--out DIR] [--threads 2]

Runs the library's `demo()` once, exactly as the CLI does (no progress bars), into a temporary folder
(or --out), with torch limited to --threads threads (default 2, the laptop the goal is for).

Goal: total < 300 s on 2 cores; the headline is the ratio total / 300 s (below 1 meets it).

Rate-normalised baseline, measured in the same process: every forward pass of the core during the
demo (training, validation, evaluation, prediction, report) is recorded by a global forward hook and
its FLOPs counted analytically with benchmarks/model.py's `model_flops` (Linear layers and attention
products; the frozen core has no backward in readout fine-tuning). Divided by this machine's float32
matmul rate (2048^3 torch.matmul at --threads threads, best of several, before and after the demo;
the better one counts) that is the time the demo's model arithmetic would take at matmul speed. The
ratio demo seconds / that baseline says how far the whole demo (simulation, NWB reading and writing,
data loading, readout, Python) is from pure model compute; it hardly changes with the machine's speed.

The machine may be shared: cores kept busy by OTHER processes during the demo are printed (above ~0.2
the seconds are inflated). The demo's own CPU time (all threads) is printed too: on a quiet machine with
--threads cores the wall time lies between CPU time / threads and CPU time. Prints a table, then one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from model import OtherLoad, matmul_flops_per_s, model_flops  # benchmarks/model.py, beside this script

from nwb_v1former.model.core import ViViTCore
from nwb_v1former.model.model import V1Former
from nwb_v1former.pipeline.demo import STEPS, demo
from nwb_v1former.pipeline.demo_config import DemoConfig

GOAL_SECONDS = 300.0


def cpu_seconds() -> float:
    """CPU time (user + system) of this process, all threads together."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CoreWork:
    """Counts the FLOPs of every core forward pass (global forward hook), per V1Former config."""

    def __init__(self) -> None:
        self.flops = 0.0
        self.frames = 0
        self.calls = 0
        self.configs: dict[int, Any] = {}
        self.handles = [
            torch.nn.modules.module.register_module_forward_pre_hook(self._model),
            torch.nn.modules.module.register_module_forward_hook(self._core),
        ]

    def _model(self, module: torch.nn.Module, args: tuple) -> None:
        if isinstance(module, V1Former):  # the core knows no ModelConfig: remember its model's
            self.configs[id(module.core)] = module.config

    def _core(self, module: torch.nn.Module, args: tuple, output: torch.Tensor) -> None:
        if isinstance(module, ViViTCore):
            batch, _, frames = args[0].shape[:3]
            self.flops += model_flops(self.configs[id(module)], frames, batch)["total_causal"]
            self.frames += batch * frames
            self.calls += 1

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def run(out: Path) -> dict[str, Any]:
    """Matmul rate, the demo with its core work counted, matmul rate again."""
    report: dict[str, Any] = {
        "benchmark": "demo",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    report["config"] = DemoConfig().to_dict()
    matmul_start = matmul_flops_per_s(2048, 2048, 2048)
    work, others = CoreWork(), OtherLoad()
    started, cpu_started = time.perf_counter(), cpu_seconds()
    result = demo(out, progress=False)
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    report["other_cores"] = others.cores()
    work.remove()
    matmul_rate = max(matmul_start, matmul_flops_per_s(2048, 2048, 2048))
    baseline = work.flops / matmul_rate
    report.update(
        seconds=round(wall, 2),
        cpu_seconds=round(cpu, 2),
        step_seconds={step: result.seconds[step] for step in STEPS},
        goal_seconds=GOAL_SECONDS,
        ratio_to_goal=round(wall / GOAL_SECONDS, 3),
        matmul_gflops=round(matmul_rate / 1e9, 2),
        core_forward_calls=work.calls,
        core_frames=work.frames,
        core_gflop=round(work.flops / 1e9, 2),
        matmul_baseline_seconds=round(baseline, 3),
        ratio_to_matmul_baseline=round(wall / baseline, 1),
        single_trial_correlation=result.scores["single_trial_correlation"],
        true_noise_ceiling=result.true_ceiling,
        epochs=result.fit.epochs,
    )
    return report


def print_table(report: dict[str, Any]) -> None:
    """Steps, total against the goal, the matmul baseline; then what the demo achieved."""
    rows = [(f"  {step}", f"{seconds:.1f} s", "", "") for step, seconds in report["step_seconds"].items()]
    rows += [
        (
            "demo, end to end",
            f"{report['seconds']:.1f} s",
            f"goal {GOAL_SECONDS:.0f} s",
            f"{report['ratio_to_goal']:.2f}",
        ),
        ("demo, CPU time of all threads", f"{report['cpu_seconds']:.1f} s", "", ""),
        (
            f"core arithmetic at matmul speed ({report['core_gflop']:.0f} GFLOP)",
            f"{report['matmul_baseline_seconds']:.2f} s",
            f"matmul {report['matmul_gflops']:.1f} GFLOP/s",
            f"{report['ratio_to_matmul_baseline']:.0f}",
        ),
    ]
    header = ("measurement", "value", "baseline", "ratio")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    ceiling = report["true_noise_ceiling"]
    print(
        f"held-out single-trial correlation {report['single_trial_correlation']:.3f} "
        f"(true noise ceiling {ceiling:.3f}) after {report['epochs']} epochs; "
        f"{report['threads']} threads; other processes kept {report['other_cores']:.2f} cores busy"
        + ("  <- timings disturbed" if report["other_cores"] > 0.2 else "")
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=None, help="demo folder to keep (default: a temporary one)"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2: the laptop goal)")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="nwb-v1former-demo-bench-") as scratch:
        report = run(args.out or Path(scratch) / "demo")
    print_table(report)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
