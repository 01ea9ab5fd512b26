"""One simulated recording: every array a writer needs, plus the ground truth behind it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nwb_v1former.simulate.behavior import Behavior, simulate_behavior
from nwb_v1former.simulate.config import SimulationConfig
from nwb_v1former.simulate.population import Population, make_population
from nwb_v1former.simulate.responses import Measurement, Normalisation, event_rates, measure
from nwb_v1former.simulate.schedule import Schedule, make_schedule, tick_times
from nwb_v1former.simulate.stimuli import clip_kind, render_screen

STIMULUS_START_S = 2.0
"""Session-clock time of the first 30 Hz tick: recordings rarely start at t = 0."""

# Independent random streams, so that e.g. a longer session keeps the same neurons.
_STREAM_SCHEDULE, _STREAM_POPULATION, _STREAM_BEHAVIOR, _STREAM_MEASUREMENT = range(4)


@dataclass(frozen=True)
class Recording:
    """A simulated session. T ticks on the 30 Hz grid, M imaging frames, N neurons.

    screen (T, 36, 64) uint8 -- what was on the screen at each tick (grey between clips);
    tick_times (T,) float64 -- session-clock time of each tick (s);
    clips -- clip id -> (clip_frames, 36, 64) uint8, every clip shown;
    rates (T, N) float32 -- expected events per tick, the cause of everything measured;
    normalisation -- the response scales this session set (kept to show the same animal other stimuli).
    """

    config: SimulationConfig
    schedule: Schedule
    screen: np.ndarray
    tick_times: np.ndarray
    clips: dict[int, np.ndarray]
    behavior: Behavior
    population: Population
    rates: np.ndarray
    measurement: Measurement
    normalisation: Normalisation
    presentation: str | None = None
    """The stimulus set shown instead of movies (simulate.present), None for a movie session."""

    @property
    def session_id(self) -> str:
        """Stable name of this animal's session, e.g. `sim-000`, or `sim-000-<set>` for a presentation."""
        animal = f"sim-{self.config.animal:03d}"
        return animal if self.presentation is None else f"{animal}-{self.presentation}"

    def clip_kinds(self) -> dict[int, str]:
        """Kind of every clip shown (noise, grating or objects)."""
        return {clip_id: clip_kind(self.config.seed, clip_id) for clip_id in self.clips}


def _rng(config: SimulationConfig, stream: int) -> np.random.Generator:
    return np.random.default_rng([config.seed, config.animal, stream])


def animal_population(config: SimulationConfig) -> Population:
    """The neurons of the animal `config` describes: the same in every session of that animal."""
    return make_population(config, _rng(config, _STREAM_POPULATION))


def simulate(config: SimulationConfig) -> Recording:
    """Simulate one animal's session from its config; deterministic in (config, seed)."""
    schedule = make_schedule(config, _rng(config, _STREAM_SCHEDULE))
    screen, clips = render_screen(
        config.seed, schedule.clip_id, schedule.start_tick, schedule.n_ticks, config.clip_frames
    )
    times = tick_times(schedule.n_ticks, STIMULUS_START_S)
    population = animal_population(config)
    behavior = simulate_behavior(_rng(config, _STREAM_BEHAVIOR), schedule.n_ticks)
    rates, normalisation = event_rates(screen, behavior, population)
    measurement = measure(rates, times, config, _rng(config, _STREAM_MEASUREMENT))
    return Recording(
        config, schedule, screen, times, clips, behavior, population, rates, measurement, normalisation
    )
