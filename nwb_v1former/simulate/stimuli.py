"""Stimulus clips: natural-like movies (1/f noise in motion), drifting gratings and moving objects.

Every clip is a pure function of (seed, clip id), so repeats of a clip are identical to the byte and
animals of one seed share their repeated clips, as Sensorium mice share their oracle clips.
"""

from __future__ import annotations

import numpy as np

from nwb_v1former.grid import FRAME_SHAPE, TICK_RATE_HZ

GREY = 128
CLIP_KINDS = ("noise", "grating", "objects")
_KIND_PROBABILITIES = (0.5, 0.25, 0.25)


def clip_rng(seed: int, clip_id: int) -> np.random.Generator:
    """Random stream owned by one clip of one seed."""
    return np.random.default_rng([seed, 7919, int(clip_id)])


def clip_kind(seed: int, clip_id: int) -> str:
    """Which kind of movie a clip is (the first draw of its stream)."""
    return _draw_kind(clip_rng(seed, clip_id))


def _draw_kind(rng: np.random.Generator) -> str:
    return str(rng.choice(CLIP_KINDS, p=_KIND_PROBABILITIES))


def render_clip(seed: int, clip_id: int, n_frames: int) -> np.ndarray:
    """Frames of one clip; (n_frames, 36, 64) uint8, mean near grey."""
    rng = clip_rng(seed, clip_id)
    kind = _draw_kind(rng)
    render = {"noise": _moving_pink_noise, "grating": _drifting_gratings, "objects": _moving_objects}[kind]
    frames = render(rng, n_frames)
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def _moving_pink_noise(rng: np.random.Generator, n_frames: int) -> np.ndarray:
    """1/f spatial texture that drifts at a random velocity and slowly morphs (spectrum on a tilted plane)."""
    height, width = FRAME_SHAPE
    ft = np.fft.fftfreq(n_frames)[:, None, None]  # cycles / frame
    fy = np.fft.fftfreq(height)[None, :, None]  # cycles / pixel
    fx = np.fft.fftfreq(width)[None, None, :]
    spatial = np.sqrt(fx**2 + fy**2)
    speed = rng.uniform(0.1, 0.6)  # pixels / frame
    angle = rng.uniform(0, 2 * np.pi)
    vx, vy = speed * np.cos(angle), speed * np.sin(angle)
    # A texture translating at (vx, vy) has all its power on ft = -(vx fx + vy fy); a finite width
    # (morph_rate) lets it change slowly while it moves.
    morph_rate = 0.01
    amplitude = np.exp(-0.5 * ((ft + vx * fx + vy * fy) / morph_rate) ** 2) / (spatial + 1.0 / width)
    amplitude[:, 0, 0] = 0.0
    spectrum = amplitude * (rng.standard_normal(amplitude.shape) + 1j * rng.standard_normal(amplitude.shape))
    movie = np.fft.ifftn(spectrum).real
    contrast = rng.uniform(35, 60)
    return GREY + contrast * movie / (movie.std() + 1e-12)


def _drifting_gratings(rng: np.random.Generator, n_frames: int) -> np.ndarray:
    """Full-field sinusoidal gratings, a new direction / spatial / temporal frequency every ~1 s."""
    height, width = FRAME_SHAPE
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    segment = int(TICK_RATE_HZ)
    frames = np.empty((n_frames, height, width))
    for start in range(0, n_frames, segment):
        direction = rng.uniform(0, 2 * np.pi)
        period_px = rng.uniform(6, 20)
        temporal_hz = rng.uniform(1, 4)
        contrast = rng.uniform(40, 110)
        t = np.arange(start, min(start + segment, n_frames))[:, None, None] / TICK_RATE_HZ
        along = xx * np.cos(direction) + yy * np.sin(direction)
        frames[start : start + len(t)] = GREY + contrast * np.sin(
            2 * np.pi * (along / period_px - temporal_hz * t)
        )
    return frames


def _moving_objects(rng: np.random.Generator, n_frames: int) -> np.ndarray:
    """Dark and bright discs that move and bounce off the edges over a faint texture."""
    height, width = FRAME_SHAPE
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    background = GREY + 10 * rng.standard_normal((height, width))
    frames = np.repeat(background[None], n_frames, axis=0)
    for _ in range(rng.integers(1, 4)):
        radius = rng.uniform(3, 8)
        luminance = rng.choice([20.0, 235.0])
        position = rng.uniform([radius, radius], [height - radius, width - radius])
        velocity = rng.uniform(0.2, 1.2, size=2) * rng.choice([-1.0, 1.0], size=2)
        for frame in frames:
            inside = (yy - position[0]) ** 2 + (xx - position[1]) ** 2 <= radius**2
            frame[inside] = luminance
            position = position + velocity
            for axis, limit in enumerate((height, width)):
                if not radius <= position[axis] <= limit - radius:
                    velocity[axis] = -velocity[axis]
                    position[axis] = np.clip(position[axis], radius, limit - radius)
    return frames


def render_screen(seed: int, clip_ids: np.ndarray, start_ticks: np.ndarray, n_ticks: int, clip_frames: int):
    """The screen at every tick, grey between clips; (n_ticks, 36, 64) uint8, plus the clip library.

    Returns (screen, library) with library a dict clip id -> (clip_frames, 36, 64) uint8.
    """
    screen = np.full((n_ticks, *FRAME_SHAPE), GREY, dtype=np.uint8)
    library: dict[int, np.ndarray] = {}
    for clip_id, start in zip(clip_ids.tolist(), start_ticks.tolist(), strict=True):
        if clip_id not in library:
            library[clip_id] = render_clip(seed, clip_id, clip_frames)
        screen[start : start + clip_frames] = library[clip_id]
    return screen, library
