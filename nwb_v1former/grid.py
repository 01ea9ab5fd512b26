"""The model's grid: every session is laid on ticks of TICK_RATE_HZ and frames of FRAME_SHAPE pixels.

One definition for the reader, the store, the model, the simulator, the analyses and the CLI.
"""

TICK_RATE_HZ = 30.0
"""Ticks per second: the model sees one frame, one behaviour sample and one response per tick."""
FRAME_HEIGHT, FRAME_WIDTH = 36, 64
FRAME_SHAPE = (FRAME_HEIGHT, FRAME_WIDTH)
"""Grayscale frames the model sees (rows, columns): 16:9 screens area-averaged to 36 x 64."""
