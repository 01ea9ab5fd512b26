"""nwb-v1former: fit the ViV1T model of mouse V1 to NWB / DANDI calcium-imaging sessions."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nwb-v1former")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from nwb_v1former.errors import ConfigError, OutputExistsError, SessionError, V1FormerError
from nwb_v1former.simulate import Recording, SimulationConfig, load_truth, simulate, simulate_and_write

__all__ = [
    "ConfigError",
    "OutputExistsError",
    "Recording",
    "SessionError",
    "SimulationConfig",
    "V1FormerError",
    "__version__",
    "load_truth",
    "simulate",
    "simulate_and_write",
]
