"""Ground-truth simulator of mouse V1 calcium imaging, written in the layouts real data use."""

from nwb_v1former.simulate.config import SimulationConfig
from nwb_v1former.simulate.recording import Recording, simulate
from nwb_v1former.simulate.truth import load_truth
from nwb_v1former.simulate.write import LAYOUTS, SimulatedSession, layout_config, simulate_and_write

__all__ = [
    "LAYOUTS",
    "Recording",
    "SimulatedSession",
    "SimulationConfig",
    "layout_config",
    "load_truth",
    "simulate",
    "simulate_and_write",
]
