"""The closed loop on the simulator, end to end: does the model design stimuli that drive its neurons?

    python benchmarks/closed_loop.py [--neurons-targeted 8] [--steps 100] [--time-presets small,viv1t-2025]

The simulated animal is tiny-sim's own training animal 0 (seed 100, 400 neurons, 5-second clips), recorded
again (`--minutes`). The chain: (finetune, with `--finetune-epochs` > 0: readout-only from tiny-sim, else
tiny-sim's readout for that animal) -> the `--neurons-targeted` best-predicted neurons on held-out trials ->
`insilico rf` -> `insilico mei` (one image per neuron, single-neuron objectives, batched) -> `insilico
surround` -> `insilico controls` -> `insilico export` -> `simulate --present` (the same animal) ->
convert -> `insilico loop`.

Measured against the truth: the MEI's position, orientation and spatial period (median errors:
stimulus_geometry of the MEI against the neuron's Gabor), the preferred size of `insilico surround`
against the true preferred size (simulate.size_tuning; median |log ratio|) and its rank correlation with
the true surround extent, and the loop: each neuron's TRUE (noise-free) response to its own MEI against
its true response to the most exciting natural clip of its training data (median ratio; the paper's
in-vivo finding is > 1) and to the controls shown beside it (the model's choice of natural clip and
grating), and the loop report's verdicts against each control.

Time per neuron of `insilico mei` on CPU: measured in the run (tiny), and for each of `--time-presets`
(random weights: the same cost as trained ones) over a few optimiser steps of a small batch, scaled to
the run's steps and starts. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nwb_v1former.analysis.experiment import DEFAULT_STATES
from nwb_v1former.analysis.mei import MEIConfig, Objective, optimise
from nwb_v1former.analysis.stimulus_geometry import stimulus_geometry
from nwb_v1former.analysis.stimulus_space import Screen
from nwb_v1former.analysis.tuning import angle_difference
from nwb_v1former.data.store import SessionStore
from nwb_v1former.inference.evaluation import evaluate_session
from nwb_v1former.model import V1Former, preset
from nwb_v1former.model.checkpoint import load_checkpoint
from nwb_v1former.nwb.convert import convert
from nwb_v1former.nwb.stimulus_set import ScheduleConfig
from nwb_v1former.pipeline.closed_loop import run_loop
from nwb_v1former.pipeline.design import mei_name, run_contextual, run_controls, run_mei
from nwb_v1former.pipeline.export import export_stimuli
from nwb_v1former.pipeline.insilico import run_receptive_fields
from nwb_v1former.simulate import load_truth, simulate_and_write
from nwb_v1former.simulate.present import normalisation_from_truth, present_and_write
from nwb_v1former.simulate.recording import animal_population
from nwb_v1former.simulate.schedule import TRAIN_TIER
from nwb_v1former.simulate.size_tuning import true_size_tuning
from nwb_v1former.train.finetune import resolve_base

ANIMAL = {"seed": 100, "neurons": 400, "clip_seconds": 5.0}
LAG_TICKS = 3


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    rank = lambda v: np.argsort(np.argsort(v))  # noqa: E731
    return float(np.corrcoef(rank(a), rank(b))[0, 1])


def fitted_checkpoint(root: Path, session: Path, epochs: int) -> Path:
    """tiny-sim (its readout of this animal), or a readout fine-tuned from it for `epochs` epochs."""
    if epochs == 0:
        return resolve_base("tiny-sim")
    run = root / "run"
    command = [sys.executable, "-m", "nwb_v1former", "finetune", str(session), "--out", str(run)]
    command += ["--from", "tiny-sim", "--strategy", "readout", "--max-epochs", str(epochs), "--quiet"]
    subprocess.run(command, check=True)
    return run / "best.ckpt"


def best_natural_clip(truth: dict[str, np.ndarray], columns: np.ndarray) -> np.ndarray:
    """Each neuron's true mean response to the training clip that drives it most; (M,)."""
    expected = truth["expected_ticks"][:, columns]
    train = np.flatnonzero(truth["trial_tier"] == TRAIN_TIER)
    means = np.stack(
        [expected[truth["trial_start_tick"][t] : truth["trial_stop_tick"][t]].mean(axis=0) for t in train]
    )
    return means.max(axis=0)


def own_stimulus_truth(presented: dict[str, np.ndarray], columns: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Each neuron's true mean response over the presentations of its own stimulus; (M,)."""
    expected = presented["expected_ticks"]
    out = np.empty(len(columns))
    for m, (column, stimulus) in enumerate(zip(columns, own, strict=True)):
        trials = np.flatnonzero(presented["trial_clip_id"] == stimulus)
        ticks = np.concatenate(
            [
                np.arange(
                    presented["trial_start_tick"][t] + LAG_TICKS, presented["trial_stop_tick"][t] + LAG_TICKS
                )
                for t in trials
            ]
        )
        out[m] = expected[ticks, column].mean()
    return out


def preset_seconds_per_neuron(
    name: str, steps: int, starts: int, rows: int = 4, timed_steps: int = 2
) -> float:
    """Seconds per neuron of `insilico mei` (images) with a `name` core, random weights (the cost of trained
    ones): `timed_steps` optimiser steps of `rows` neurons at once, after one warm-up step, scaled to
    `steps` x `starts` (the final scoring pass of each batch counted in)."""
    torch.manual_seed(0)
    model = V1Former(preset(name))
    model.add_session("timing", np.arange(rows), np.random.default_rng(0).normal(size=(rows, 3)))
    model.eval()
    objective = Objective(torch.arange(rows)[:, None], torch.ones(rows, 1), 1.0)
    state, screen, generator = DEFAULT_STATES[0], Screen(128.0, 60.0), torch.Generator().manual_seed(0)
    optimise(model, "timing", objective, MEIConfig(steps=1), state, screen, generator)
    started = time.perf_counter()
    optimise(model, "timing", objective, MEIConfig(steps=timed_steps), state, screen, generator)
    elapsed = time.perf_counter() - started
    return elapsed / (timed_steps * rows) * steps * starts


def run(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    session = simulate_and_write(root / "sims", minutes=args.minutes, progress=False, **ANIMAL)[0]
    truth = load_truth(session.truth)
    store = SessionStore(convert([session.data], root / "store", progress=False)[0].folder)
    checkpoint = fitted_checkpoint(root, session.data, args.finetune_epochs)
    model = load_checkpoint(checkpoint)
    correlation = evaluate_session(model, store, tier="test").per_neuron["single_trial_correlation"]
    best = np.argsort(-np.nan_to_num(correlation, nan=-np.inf))[: args.neurons_targeted]
    rois = store.roi_ids[best].tolist()
    out = root / "insilico"
    run_receptive_fields(checkpoint, out, session=store.key, roi_ids=rois, data=store.folder)
    config = MEIConfig(kind=args.kind, steps=args.steps, starts=args.starts, batch_size=args.batch_size)
    design = mei_name(config, population=False)
    mei_started = time.perf_counter()
    run_mei(checkpoint, store.folder, out, roi_ids=rois, config=config, session=store.key)
    mei_seconds = time.perf_counter() - mei_started
    run_contextual(checkpoint, out, roi_ids=rois, data=store.folder, session=store.key)
    run_controls(checkpoint, store.folder, out, roi_ids=rois, session=store.key)
    stimuli, _ = export_stimuli(out, root / "set.nwb", config=ScheduleConfig(repeats=args.repeats, seed=1))
    present_and_write(root / "set.nwb", session.data, root / "presented", seed=1)
    run_loop(checkpoint, root / "set.nwb", root / "presented", out)
    loop = json.loads((out / "closed_loop.json").read_text())
    presented = load_truth(next((root / "presented").glob("*.truth.npz")))

    columns = np.searchsorted(truth["roi_ids"], rois)
    with np.load(out / f"{design}.npz") as arrays:
        stimuli_frames = arrays["stimuli"]  # (M, F', 36, 64): a video's geometry from its strongest frame
        strongest = np.sqrt((stimuli_frames**2).mean(axis=(2, 3))).argmax(axis=1)
        geometry = stimulus_geometry(stimuli_frames[np.arange(len(stimuli_frames)), strongest])
    position_error = np.linalg.norm(geometry["center"] - truth["rf_center"][columns], axis=1)
    orientation = np.rad2deg(truth["orientation"][columns]) % 180
    orientation_error = np.abs(angle_difference(geometry["orientation_deg"], orientation, 180))
    period_ratio = geometry["period_px"] / truth["period_px"][columns]
    with np.load(out / "contextual.npz") as arrays:
        diameters, preferred = arrays["diameters_px"], arrays["preferred_diameter_px"]
    population = animal_population(session.config).subset(columns)
    normalisation = normalisation_from_truth(truth).subset(columns)
    true_preferred = diameters[true_size_tuning(population, normalisation, diameters).argmax(axis=1)]
    own = np.array([stimuli.names.index(f"{design}_roi{roi}") for roi in rois])
    to_mei = own_stimulus_truth(presented, columns, own)
    to_clip = best_natural_clip(truth, columns)
    to_control = {
        role: own_stimulus_truth(
            presented, columns, np.array([stimuli.names.index(f"{role}_roi{r}") for r in rois])
        )
        for role in ("natural", "grating")
    }
    controls = loop["summary"]["controls"]
    seconds = {"tiny": mei_seconds / len(rois)}
    for name in filter(None, args.time_presets.split(",")):
        seconds[name] = preset_seconds_per_neuron(name, args.steps, args.starts)
    return {
        "model": args.model,
        "kind": args.kind,
        "neurons_targeted": len(rois),
        "median_test_correlation": float(np.nanmedian(correlation[best])),
        "median_position_error_px": float(np.nanmedian(position_error)),
        "median_orientation_error_deg": float(np.nanmedian(orientation_error)),
        "median_period_ratio": float(np.nanmedian(period_ratio)),
        "median_preferred_size_log_ratio": float(np.nanmedian(np.abs(np.log(preferred / true_preferred)))),
        "preferred_size_vs_true_extent_rank_r": _rank_correlation(
            preferred, truth["surround_sigma_px"][columns]
        ),
        "median_true_mei_over_best_clip": float(np.median(to_mei / to_clip)),
        "mei_beats_best_clip": int((to_mei > to_clip).sum()),
        "median_true_mei_over_natural_control": float(np.median(to_mei / to_control["natural"])),
        "median_true_mei_over_grating_control": float(np.median(to_mei / to_control["grating"])),
        "loop_own_best_recorded": loop["summary"]["own_stimulus_best_recorded"],
        "loop": {
            control: {
                key: values[key]
                for key in ("own_beats_control_bh", "median_recorded_ratio", "median_effect_size")
            }
            for control, values in controls.items()
        },
        "mei_seconds_per_neuron": seconds,
        "steps": args.steps,
        "starts": args.starts,
        "threads": torch.get_num_threads(),
        "total_seconds": time.perf_counter() - started,
    }


def print_table(report: dict[str, Any]) -> None:
    rows = [
        ("MEI position error (median, px)", f"{report['median_position_error_px']:.2f}"),
        ("MEI orientation error (median, deg)", f"{report['median_orientation_error_deg']:.1f}"),
        ("MEI period / true period (median)", f"{report['median_period_ratio']:.2f}"),
        ("preferred size |log ratio| to truth (median)", f"{report['median_preferred_size_log_ratio']:.2f}"),
        (
            "preferred size vs true surround extent (rank r)",
            f"{report['preferred_size_vs_true_extent_rank_r']:.2f}",
        ),
        (
            "true response: own MEI / best natural clip (median)",
            f"{report['median_true_mei_over_best_clip']:.2f}",
        ),
        (
            "neurons whose MEI beats their best clip",
            f"{report['mei_beats_best_clip']} / {report['neurons_targeted']}",
        ),
        (
            "true response: own MEI / its natural control (median)",
            f"{report['median_true_mei_over_natural_control']:.2f}",
        ),
        (
            "true response: own MEI / its grating control (median)",
            f"{report['median_true_mei_over_grating_control']:.2f}",
        ),
        (
            "loop: own stimulus best recorded of the MEIs",
            f"{report['loop_own_best_recorded']} / {report['neurons_targeted']}",
        ),
    ]
    for control, values in report["loop"].items():
        rows.append(
            (
                f"loop vs {control}: own beats it (BH); recorded ratio; d_z",
                f"{values['own_beats_control_bh']} / {report['neurons_targeted']}; "
                f"{values['median_recorded_ratio']:.2f}; {values['median_effect_size']:.2f}",
            )
        )
    for name, value in report["mei_seconds_per_neuron"].items():
        scaled = "measured" if name == "tiny" else "scaled from a few steps"
        rows.append((f"insilico mei s per neuron, {name} (CPU, {scaled})", f"{value:.1f}"))
    width = max(len(name) for name, _ in rows)
    print(
        f"closed loop, model {report['model']}, {report['kind']} MEIs, {report['neurons_targeted']} "
        f"best-predicted neurons (median test correlation {report['median_test_correlation']:.3f})"
    )
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["tiny"], default="tiny", help="the fitted core (tiny: tiny-sim)")
    parser.add_argument(
        "--time-presets", default="small,viv1t-2025", help="cores timed for `insilico mei` (comma-separated)"
    )
    parser.add_argument("--minutes", type=float, default=3.0, help="minutes of the recorded session")
    parser.add_argument("--neurons-targeted", type=int, default=8, help="best-predicted neurons targeted")
    parser.add_argument("--kind", choices=["image", "video"], default="image", help="MEIs or MEVs")
    parser.add_argument("--steps", type=int, default=100, help="MEI optimiser steps")
    parser.add_argument("--starts", type=int, default=3, help="MEI random starts")
    parser.add_argument("--batch-size", type=int, default=32, help="MEI rows per optimisation batch")
    parser.add_argument("--repeats", type=int, default=10, help="presentations of each stimulus")
    parser.add_argument("--finetune-epochs", type=int, default=0, help="0: tiny-sim's own readout")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--out", type=Path, default=None, help="folder to keep (default: a temporary one)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="nwb-v1former-closed-loop-") as scratch:
        report = run(args.out or Path(scratch), args)
    print_table(report)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
