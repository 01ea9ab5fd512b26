"""Most exciting (or inhibiting) images and videos: stimuli optimised to drive a fitted model's neurons.

Each stimulus is `burn_in` grey frames, then the pattern for `frames` ticks (an image: one frame held;
a video: `frames` frames). The pattern is synthesised from Fourier coefficients whitened towards the
1/f spectrum of natural movies, bounded into the screen's range by a sigmoid and scaled to an RMS
contrast budget (analysis.stimulus_space); the objective is the mean response over the pattern's
frames from `settle` on. Single-neuron objectives optimise one stimulus per (neuron, start), many
neurons per batch; the population objective one stimulus per start for the mean over the targeted
neurons of response / grey response. `region` confines the pattern to a disc around each neuron's RF
(`centre`), or optimises the surround around a fixed centre (`surround`: the centre is the neuron's
centre-confined stimulus). Several random starts are run; the best is kept and their agreement
reported (mean pairwise correlation of the patterns).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from nwb_v1former.analysis.experiment import DEFAULT_STATES, BehaviorState, model_device
from nwb_v1former.analysis.results import AnalysisProvenance, ResultTable, finite_median
from nwb_v1former.analysis.stimulus_space import (
    MovieSpectrum,
    Screen,
    initial_coefficients,
    spectral_distance,
    spectral_slope,
    spectrum_weights,
    synthesise,
)
from nwb_v1former.errors import ConfigError
from nwb_v1former.grid import FRAME_HEIGHT, FRAME_WIDTH
from nwb_v1former.model.model import V1Former

KINDS, DIRECTIONS, REGIONS = ("image", "video"), ("excite", "inhibit"), ("full", "centre", "surround")


@dataclass(frozen=True)
class MEIConfig:
    """How stimuli are optimised (see the module docstring). `contrast` is the RMS budget in
    training-video standard deviations (1.0: the training movies' own); `spectrum_decay` the exponent
    of the 1/f whitening; `spectrum_weight` the weight of a penalty holding the stimulus' spectrum shape
    near the session's movies' (squared spectral_distance; 0: the spectrum is only reported);
    `init_scale` the random starts' coefficient scale (small: pixels no neuron sees stay near grey,
    since nothing moves them); `centre_radii` the disc of `region` centre/surround in RF radii."""

    kind: str = "image"
    direction: str = "excite"
    region: str = "full"
    frames: int = 20
    burn_in: int = 15
    settle: int = 5
    steps: int = 100
    starts: int = 3
    learning_rate: float = 0.05
    contrast: float = 1.0
    spectrum_decay: float = 1.0
    spectrum_weight: float = 0.0
    init_scale: float = 0.1
    centre_radii: float = 2.0
    batch_size: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        checks = (
            (self.kind in KINDS, f"kind must be one of {', '.join(KINDS)}"),
            (self.direction in DIRECTIONS, f"direction must be one of {', '.join(DIRECTIONS)}"),
            (self.region in REGIONS, f"region must be one of {', '.join(REGIONS)}"),
            (self.frames >= 1 and self.burn_in >= 0, "frames must be >= 1 and burn_in >= 0"),
            (0 <= self.settle < self.frames, "settle must be in [0, frames)"),
            (self.steps >= 1 and self.starts >= 1, "steps and starts must be at least 1"),
            (self.learning_rate > 0 and self.contrast > 0, "learning_rate and contrast must be positive"),
            (self.spectrum_decay >= 0 and self.centre_radii > 0, "spectrum_decay >= 0, centre_radii > 0"),
            (self.spectrum_weight >= 0, "spectrum_weight must be >= 0"),
            (self.init_scale > 0, "init_scale must be positive"),
            (self.batch_size >= 1 and self.seed >= 0, "batch_size must be >= 1 and seed >= 0"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"mei config: {message}")

    @property
    def pattern_frames(self) -> int:
        """Frames the pattern is parameterised by: 1 for an image, `frames` for a video."""
        return 1 if self.kind == "image" else self.frames

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def disc_masks(center: np.ndarray, radius_px: np.ndarray) -> torch.Tensor:
    """Soft discs (1 inside, 0 outside, a 1-px ramp); center (M, 2) (row, column), radius (M,) ->
    (M, 36, 64) float32."""
    rows = torch.arange(FRAME_HEIGHT, dtype=torch.float32)[None, :, None]
    columns = torch.arange(FRAME_WIDTH, dtype=torch.float32)[None, None, :]
    center_t = torch.as_tensor(center, dtype=torch.float32)
    distance = torch.sqrt(
        (rows - center_t[:, 0, None, None]) ** 2 + (columns - center_t[:, 1, None, None]) ** 2
    )
    radius = torch.as_tensor(radius_px, dtype=torch.float32)[:, None, None]
    return torch.clamp(radius + 0.5 - distance, 0.0, 1.0)


@dataclass(frozen=True)
class Objective:
    """What one optimisation batch maximises: `columns` (B, K) readout columns whose responses are
    averaged per stimulus, each divided by `reference` (B, K) (1 for single neurons), times `sign`; less
    the config's spectrum_weight times the squared distance of each stimulus' spectrum shape from
    `spectrum` (SPECTRUM_RINGS,), the movies' (None: no penalty)."""

    columns: torch.Tensor
    reference: torch.Tensor
    sign: float
    spectrum: torch.Tensor | None = None


def show(
    model: V1Former, session: str, patterns: torch.Tensor, config: MEIConfig, state: BehaviorState
) -> torch.Tensor:
    """Grey burn-in then the patterns; patterns (B, F', 36, 64) model units -> responses (B, frames, N)
    over the pattern's frames (F' = 1 is held for `frames` ticks)."""
    batch = patterns.shape[0]
    pattern = (
        patterns.expand(batch, config.frames, FRAME_HEIGHT, FRAME_WIDTH)
        if patterns.shape[1] == 1
        else patterns
    )
    grey = torch.zeros(batch, config.burn_in, FRAME_HEIGHT, FRAME_WIDTH, device=patterns.device)
    video = torch.cat([grey, pattern], dim=1)[:, None]
    behavior, pupil = state.inputs(batch, video.shape[2], patterns.device)
    return model(video, behavior, pupil, session=session)[:, config.burn_in :]


def optimise(
    model: V1Former,
    session: str,
    objective: Objective,
    config: MEIConfig,
    state: BehaviorState,
    screen: Screen,
    generator: torch.Generator,
    mask: torch.Tensor | None = None,
    fixed: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Adam on Fourier coefficients, one stimulus per batch row; -> (patterns (B, F', 36, 64), objective
    (B,)) of the final stimuli, objective without its sign (the mean response ratio)."""
    device = model_device(model)
    batch = objective.columns.shape[0]
    weights = spectrum_weights(config.spectrum_decay, config.pattern_frames).to(device)
    coefficients = initial_coefficients(batch, config.pattern_frames, generator, config.init_scale)
    coefficients = coefficients.to(device).requires_grad_()
    optimiser = torch.optim.Adam([coefficients], lr=config.learning_rate)
    columns, reference = objective.columns.to(device), objective.reference.to(device)
    mask = None if mask is None else mask.to(device)
    fixed = None if fixed is None else fixed.to(device)

    spectrum = objective.spectrum if config.spectrum_weight > 0 else None
    spectrum = None if spectrum is None else spectrum.to(device)

    def evaluate() -> tuple[torch.Tensor, torch.Tensor]:
        patterns = synthesise(coefficients, weights, screen, config.contrast, mask, fixed)
        responses = show(model, session, patterns, config, state)[:, config.settle :].mean(dim=1)  # (B, N)
        return patterns, (torch.gather(responses, 1, columns) / reference).mean(dim=1)

    model.eval()
    for _ in range(config.steps):
        optimiser.zero_grad()
        patterns, value = evaluate()
        loss = -objective.sign * value.sum()
        if spectrum is not None:
            loss = loss + config.spectrum_weight * spectral_distance(patterns, spectrum).square().sum()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        patterns, value = evaluate()
    return patterns.detach().cpu(), value.detach().cpu()


def start_agreement(patterns: np.ndarray) -> np.ndarray:
    """Mean pairwise correlation of the starts' patterns; (S, starts, ...) -> (S,) (NaN for one start)."""
    flat = patterns.reshape(*patterns.shape[:2], -1)
    flat = flat - flat.mean(axis=2, keepdims=True)
    flat = flat / (np.linalg.norm(flat, axis=2, keepdims=True) + 1e-12)
    gram = np.einsum("sap,sbp->sab", flat, flat)
    starts = patterns.shape[1]
    if starts < 2:
        return np.full(len(patterns), np.nan)
    return (gram.sum(axis=(1, 2)) - starts) / (starts * (starts - 1))


@dataclass(frozen=True, eq=False)  # array fields: compare by identity
class MEIResult:
    """S optimised stimuli for M targeted ROIs (S = M single-neuron, or 1 for the population).

    stimuli (S, F', 36, 64) float32 model units, the best start; starts (S, starts, F', 36, 64);
    objective (S, starts) -- mean response over the pattern (population: mean response ratio);
    grey (M,) -- each ROI's response to grey; response (M,) -- each ROI's response to its stimulus;
    stimulus_of (M,) -- the stimulus each ROI was targeted by; agreement (S,) -- see start_agreement;
    movie_spectrum -- the session's movies' spectrum (None: not given).
    """

    roi_ids: np.ndarray
    stimuli: np.ndarray
    starts: np.ndarray
    objective: np.ndarray
    grey: np.ndarray
    response: np.ndarray
    stimulus_of: np.ndarray
    agreement: np.ndarray
    population: bool
    screen: Screen
    state: BehaviorState
    config: MEIConfig
    provenance: AnalysisProvenance
    movie_spectrum: MovieSpectrum | None = None

    @property
    def spectral_distance(self) -> np.ndarray:
        """Each stimulus' spectral_distance from the movies' spectrum; (S,) (NaN without it)."""
        if self.movie_spectrum is None:
            return np.full(len(self.stimuli), np.nan)
        reference = torch.as_tensor(self.movie_spectrum.shape)
        return spectral_distance(torch.as_tensor(self.stimuli), reference).numpy()

    @property
    def pixels(self) -> np.ndarray:
        """The best stimuli as the screen shows them; (S, F', 36, 64) uint8."""
        return self.screen.to_pixels(self.stimuli)

    def table(self) -> ResultTable:
        """One row per targeted ROI: its stimulus, its response to it and to grey, the starts' agreement."""
        word = "most exciting" if self.config.direction == "excite" else "most inhibiting"
        slope = spectral_slope(self.stimuli.mean(axis=1))
        columns = {
            "roi_id": ("ROI id in the session (the PlaneSegmentation id).", self.roi_ids),
            "stimulus": (
                "Index of the stimulus optimised for this ROI (its row in mei.npz).",
                self.stimulus_of,
            ),
            "response": ("Model response to the stimulus, mean over the pattern's frames.", self.response),
            "grey_response": ("Model response to a grey screen.", self.grey),
            "start_agreement": (
                "Mean pairwise correlation of the patterns of the random starts (1: all found the same).",
                self.agreement[self.stimulus_of],
            ),
            "spectral_slope": (
                "Log-log slope of the stimulus' spatial amplitude spectrum (natural images: about -1).",
                slope[self.stimulus_of],
            ),
            "spectral_distance": (
                "RMS difference of log amplitude, ring by ring of spatial frequency, between the "
                "stimulus' spectrum shape and the session's movies' mean (0: the same shape; the movies' "
                "own frames lie a median movie_frames_spectral_distance from it, in the summary).",
                self.spectral_distance[self.stimulus_of],
            ),
        }
        target = "a population objective" if self.population else "single-neuron objectives"
        description = (
            f"In-silico {word} {self.config.kind}s ({target}, region {self.config.region}, RMS contrast "
            f"at most {self.config.contrast:g} training-video std, {self.config.starts} starts), behaviour "
            f"held at {self.state.name}. {self.provenance.describe()}"
        )
        return ResultTable("insilico_mei", description, columns)

    def summary(self) -> dict[str, Any]:
        ratio = self.response / np.maximum(self.grey, 1e-6)
        return {
            "stimuli": len(self.stimuli),
            "rois": len(self.roi_ids),
            "kind": self.config.kind,
            "direction": self.config.direction,
            "region": self.config.region,
            "median_response_over_grey": float(np.median(ratio)),
            "median_start_agreement": finite_median(self.agreement),
            "median_spectral_distance": finite_median(self.spectral_distance),
            "movie_frames_spectral_distance": (
                None if self.movie_spectrum is None else self.movie_spectrum.frame_distance
            ),
        }


def grey_responses(model: V1Former, session: str, config: MEIConfig, state: BehaviorState) -> np.ndarray:
    """Every neuron's response to the grey screen over the pattern's span; (N,) float32."""
    device = model_device(model)
    with torch.no_grad():
        grey = torch.zeros(1, 1, FRAME_HEIGHT, FRAME_WIDTH, device=device)
        return show(model, session, grey, config, state)[0, config.settle :].mean(dim=0).cpu().numpy()


def most_exciting(
    model: V1Former,
    session: str,
    columns: np.ndarray,
    provenance: AnalysisProvenance,
    screen: Screen,
    *,
    config: MEIConfig | None = None,
    state: BehaviorState = DEFAULT_STATES[0],
    population: bool = False,
    rf: tuple[np.ndarray, np.ndarray] | None = None,
    movie_spectrum: MovieSpectrum | None = None,
    progress: bool = False,
) -> MEIResult:
    """Optimise stimuli for the readout columns `columns` (M,); `rf` = (center (M, 2), radius (M,)) is
    needed for regions centre and surround; `movie_spectrum` (the session's movies') for
    config.spectrum_weight > 0, and to report each stimulus' distance from it."""
    config = config or MEIConfig()
    if config.region != "full" and rf is None:
        raise ConfigError(f"mei region {config.region!r} needs each ROI's RF (run `insilico rf` first)")
    if population and config.region != "full":
        raise ConfigError("a population objective optimises the full screen (region full)")
    if config.spectrum_weight > 0 and movie_spectrum is None:
        raise ConfigError("mei spectrum_weight > 0 needs the session's movie spectrum to hold stimuli near")
    spectrum = None if movie_spectrum is None else torch.as_tensor(movie_spectrum.shape)
    generator = torch.Generator().manual_seed(config.seed)
    grey = grey_responses(model, session, config, state)
    sign = 1.0 if config.direction == "excite" else -1.0
    columns = np.asarray(columns, np.int64)
    masks = None if rf is None or config.region == "full" else disc_masks(rf[0], config.centre_radii * rf[1])
    if population:
        targets, reference = [np.arange(len(columns))], torch.as_tensor(np.maximum(grey[columns], 1e-6))
    else:
        targets, reference = [np.array([m]) for m in range(len(columns))], torch.ones(1)
    rows = [(t, start) for t in range(len(targets)) for start in range(config.starts)]
    patterns = np.empty(
        (len(targets), config.starts, config.pattern_frames, FRAME_HEIGHT, FRAME_WIDTH), np.float32
    )
    objective = np.empty((len(targets), config.starts), np.float32)
    batches = range(0, len(rows), config.batch_size)
    for first in tqdm(batches, desc=f"mei ({config.kind})", unit="batch", disable=not progress):
        chunk = rows[first : first + config.batch_size]
        picked = [targets[t] for t, _ in chunk]
        batch_columns = torch.as_tensor(np.stack([columns[p] for p in picked]))
        batch_reference = reference.expand(len(chunk), batch_columns.shape[1])
        mask = fixed = None
        if masks is not None:
            centre = masks[[int(p[0]) for p in picked]]
            mask = centre if config.region == "centre" else 1 - centre
            if config.region == "surround":
                fixed = _centre_stimuli(
                    model, session, batch_columns, config, state, screen, generator, centre, spectrum
                )
        found, value = optimise(
            model,
            session,
            Objective(batch_columns, batch_reference, sign, spectrum),
            config,
            state,
            screen,
            generator,
            mask,
            fixed,
        )
        for row, (t, start) in enumerate(chunk):
            patterns[t, start], objective[t, start] = found[row].numpy(), float(value[row])
    best = (objective * sign).argmax(axis=1)
    stimuli = patterns[np.arange(len(targets)), best]
    stimulus_of = np.zeros(len(columns), np.int64) if population else np.arange(len(columns))
    with torch.no_grad():
        shown = show(model, session, torch.as_tensor(stimuli).to(model_device(model)), config, state)
        mean = shown[:, config.settle :].mean(dim=1).cpu().numpy()  # (S, N)
    response = mean[stimulus_of, columns]
    return MEIResult(
        roi_ids=np.asarray(model.session(session).roi_ids)[columns],
        stimuli=stimuli,
        starts=patterns,
        objective=objective,
        grey=grey[columns],
        response=response,
        stimulus_of=stimulus_of,
        agreement=start_agreement(patterns),
        population=population,
        screen=screen,
        state=state,
        config=config,
        provenance=provenance,
        movie_spectrum=movie_spectrum,
    )


def _centre_stimuli(
    model: V1Former,
    session: str,
    columns: torch.Tensor,
    config: MEIConfig,
    state: BehaviorState,
    screen: Screen,
    generator: torch.Generator,
    centre: torch.Tensor,
    spectrum: torch.Tensor | None,
) -> torch.Tensor:
    """The fixed centres of a surround optimisation: each row's centre-confined most exciting stimulus;
    (B, F', 36, 64), grey outside the disc."""
    centre_config = dataclasses.replace(config, region="centre", direction="excite")
    objective = Objective(columns, torch.ones(columns.shape), 1.0, spectrum)
    patterns, _ = optimise(model, session, objective, centre_config, state, screen, generator, centre)
    return patterns * centre[:, None]
