"""Where a stimulus is and what grating it resembles: position, orientation and spatial period.

Position is that of the stimulus' contrast energy (squared deviation from grey), measured as receptive
fields are (analysis.receptive_fields.map_geometry). Orientation and period come from the peak of the
amplitude spectrum of the stimulus seen through a Gaussian window at that position (zero-padded for
resolution): the wave vector (k_column, k_row) gives the orientation atan2(k_row, k_column) mod 180
degrees (the simulator's convention: 0 is a wave along the columns, i.e. vertical bars) and the period
1 / |k| in pixels.
"""

from __future__ import annotations

import numpy as np

from nwb_v1former.analysis.receptive_fields import map_geometry
from nwb_v1former.grid import FRAME_HEIGHT, FRAME_WIDTH

PADDED = 256
"""FFT size of the windowed stimulus: frequency steps of 1/256 cycles per pixel."""
SMOOTHING_PX = 1.5


def stimulus_geometry(images: np.ndarray, window_px: float = 6.0) -> dict[str, np.ndarray]:
    """images (B, 36, 64), grey at 0 -> center (B, 2) (row, column), radius_px (B,), orientation_deg
    (B,) in [0, 180), period_px (B,); NaN where an image has no energy."""
    images = np.asarray(images, np.float64)
    geometry = map_geometry(images**2, SMOOTHING_PX)
    rows = np.arange(FRAME_HEIGHT)[:, None]
    columns = np.arange(FRAME_WIDTH)[None, :]
    orientation, period = np.full(len(images), np.nan), np.full(len(images), np.nan)
    ky = np.fft.fftfreq(PADDED)[:, None]
    kx = np.fft.fftfreq(PADDED)[None, :]
    for index, (image, center) in enumerate(zip(images, geometry["center"], strict=True)):
        if not np.all(np.isfinite(center)):
            continue
        window = np.exp(-((rows - center[0]) ** 2 + (columns - center[1]) ** 2) / (2 * window_px**2))
        seen = (image - (image * window).sum() / window.sum()) * window
        amplitude = np.abs(np.fft.fft2(seen, s=(PADDED, PADDED)))
        amplitude[0, 0] = 0.0
        peak = np.unravel_index(np.argmax(amplitude), amplitude.shape)
        k_row, k_column = ky[peak[0], 0], kx[0, peak[1]]
        orientation[index] = np.rad2deg(np.arctan2(k_row, k_column)) % 180.0
        period[index] = 1.0 / np.hypot(k_row, k_column)
    return {
        "center": geometry["center"],
        "radius_px": geometry["radius_px"],
        "orientation_deg": orientation,
        "period_px": period,
    }
