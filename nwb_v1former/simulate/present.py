"""Show an exported stimulus set to a simulated animal: the same neurons, on the scale of their session.

The animal is a session `simulate` wrote: its config (simulation.json beside it) gives back its
population, its truth file the response normalisation that session set (drive scale, saturation,
surround reference, pupil statistics), so a stimulus drives each neuron as it would have in the
original session. The set's schedule (repeats, shuffled order, grey gaps) is laid on the 30 Hz grid
after a grey lead-in; behaviour and measurement noise are drawn afresh (`seed`). The session is written
in the animal's layout as a new session (`sim-<animal>-<set>`), with its truth, readable like any other.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from nwb_v1former.atomic import atomic_output
from nwb_v1former.errors import ConfigError
from nwb_v1former.grid import TICK_RATE_HZ
from nwb_v1former.nwb.stimulus_set import Schedule as PresentationSchedule
from nwb_v1former.nwb.stimulus_set import StimulusSet, read_stimulus_set
from nwb_v1former.simulate.behavior import simulate_behavior
from nwb_v1former.simulate.config import SimulationConfig
from nwb_v1former.simulate.recording import STIMULUS_START_S, Recording, animal_population
from nwb_v1former.simulate.responses import Normalisation, event_rates, measure
from nwb_v1former.simulate.schedule import TEST_TIER, Schedule, tick_times
from nwb_v1former.simulate.stimuli import GREY
from nwb_v1former.simulate.truth import load_truth
from nwb_v1former.simulate.write import MANIFEST, SIMULATION, SimulatedSession, write_manifest, write_session

LEAD_IN_S = 2.0
"""Grey before the schedule's clock starts, so the first presentation has a settled baseline."""
PRESENTED_TIER = TEST_TIER
"""Every presentation is held-out data: written in the trials' tier column, so a session of short
presentations reads whole (there is nothing to train on in it)."""


def original_session(animal: Path) -> tuple[SimulationConfig, str, dict[str, np.ndarray]]:
    """(config, layout, truth) of the simulated session at `animal` (an NWB file `simulate` wrote)."""
    manifest_path = animal.parent / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
        entry = next(s for s in manifest["sessions"] if s["data"] == animal.name)
    except (OSError, ValueError, KeyError, StopIteration):
        raise ConfigError(
            f"{animal} is not a session `nwb-v1former simulate` wrote ({manifest_path} does not list it); "
            "--animal names the simulated session whose animal is shown the set"
        ) from None
    truth = load_truth(animal.parent / entry["truth"])
    return SimulationConfig.from_dict(entry["config"]), manifest["layout"], truth


def normalisation_from_truth(truth: dict[str, np.ndarray]) -> Normalisation:
    """The response scales the original session set (see simulate.responses.Normalisation)."""
    try:
        return Normalisation(
            drive_scale=truth["drive_scale"],
            half_saturation=truth["half_saturation"],
            surround_reference=truth["surround_reference"],
            pupil_mean=float(truth["pupil_mean"]),
            pupil_std=float(truth["pupil_std"]),
        )
    except KeyError as missing:
        raise ConfigError(
            f"the animal's truth file lacks {missing}: it was simulated before sessions kept their "
            "normalisation; simulate it again with this version"
        ) from None


def present(
    config: SimulationConfig,
    normalisation: Normalisation,
    stimuli: StimulusSet,
    presentations: PresentationSchedule,
    name: str,
    seed: int = 0,
) -> Recording:
    """The animal of `config` shown `stimuli` as `presentations` schedules them; a Recording."""
    lead = round(LEAD_IN_S * TICK_RATE_HZ)
    start = lead + np.rint(presentations.start_s * TICK_RATE_HZ).astype(np.int64)
    stop = start + np.array([len(stimuli.frames[s]) for s in presentations.stimulus])
    n_ticks = int(stop[-1] + lead)
    screen = np.full((n_ticks, *stimuli.frames[0].shape[1:]), GREY, np.uint8)
    for s, first, last in zip(presentations.stimulus, start, stop, strict=True):
        screen[first:last] = stimuli.frames[s]
    shown = dataclasses.replace(config, minutes=n_ticks / TICK_RATE_HZ / 60, only_repeats=False)
    schedule = Schedule(
        start, stop, presentations.stimulus.astype(np.int64), np.full(len(start), PRESENTED_TIER), n_ticks
    )
    population = animal_population(config)
    rng = np.random.default_rng([config.seed, config.animal, 1000 + seed])
    behavior = simulate_behavior(rng, n_ticks)
    times = tick_times(n_ticks, STIMULUS_START_S)
    rates, _ = event_rates(screen, behavior, population, normalisation)
    measurement = measure(rates, times, shown, rng)
    clips = {int(s): stimuli.frames[s] for s in range(len(stimuli.names))}
    return Recording(
        shown, schedule, screen, times, clips, behavior, population, rates, measurement, normalisation, name
    )


def present_and_write(
    stimulus_set: str | Path,
    animal: str | Path,
    out: str | Path,
    *,
    layout: str | None = None,
    seed: int = 0,
    overwrite: bool = False,
) -> list[SimulatedSession]:
    """Show the exported `stimulus_set` to the animal of the simulated session `animal`; write the new
    session (in `layout`, default the animal's own) into the folder `out`, atomically."""
    animal, out = Path(animal), Path(out)
    config, original_layout, truth = original_session(animal)
    stimuli, presentations = read_stimulus_set(stimulus_set)
    population = animal_population(config)
    if not np.array_equal(population.roi_ids, truth["roi_ids"]):
        raise ConfigError(
            f"{animal}: its config no longer gives its neurons; simulate it again with this version"
        )
    name = "present-" + Path(stimulus_set).stem
    recording = present(config, normalisation_from_truth(truth), stimuli, presentations, name, seed)
    layout = layout or original_layout
    with atomic_output(out, overwrite=overwrite, kind=SIMULATION) as staging:
        staging.mkdir(parents=True)
        sessions = [write_session(recording, layout, staging, out)]
        write_manifest(
            staging,
            layout,
            sessions,
            presented={"stimulus_set": Path(stimulus_set).name, "animal": animal.name},
        )
    return sessions
