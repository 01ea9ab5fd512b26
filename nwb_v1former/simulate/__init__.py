"""Ground-truth simulator of mouse V1 calcium imaging, written in the layouts real data use."""

from nwb_v1former.simulate.config import FRAME_RATE, FRAME_SHAPE, SimulationConfig
from nwb_v1former.simulate.recording import Recording, simulate
from nwb_v1former.simulate.truth import load_truth
from nwb_v1former.simulate.write import LAYOUTS, SimulatedSession, layout_config, simulate_and_write

__all__ = [
    "FRAME_RATE",
    "FRAME_SHAPE",
    "LAYOUTS",
    "Recording",
    "SimulatedSession",
    "SimulationConfig",
    "layout_config",
    "load_truth",
    "simulate",
    "simulate_and_write",
]
