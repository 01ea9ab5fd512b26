"""nwb-v1former: fit the ViV1T model of mouse V1 to NWB / DANDI calcium-imaging sessions.

The public API is re-exported here; the parts that need torch or pynwb are imported on first use,
so `import nwb_v1former` (and the CLI's start-up) stays fast.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("nwb-v1former")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from nwb_v1former.errors import CheckpointError, ConfigError, OutputExistsError, SessionError, V1FormerError
from nwb_v1former.pynwb_cache import import_pynwb_where_it_can_cache

import_pynwb_where_it_can_cache()

_LAZY = {
    "SimulationConfig": "nwb_v1former.simulate",
    "Recording": "nwb_v1former.simulate",
    "simulate_and_write": "nwb_v1former.simulate",
    "load_truth": "nwb_v1former.simulate",
    "convert": "nwb_v1former.nwb.convert",
    "SessionStore": "nwb_v1former.data.store",
    "V1Former": "nwb_v1former.model",
    "load_checkpoint": "nwb_v1former.model.checkpoint",
    "save_checkpoint": "nwb_v1former.model.checkpoint",
    "import_viv1t": "nwb_v1former.model.importer",
    "metrics": "nwb_v1former.metrics",
    "predict": "nwb_v1former.pipeline.predict",
    "write_predictions": "nwb_v1former.nwb.write",
}

__all__ = [
    "CheckpointError",
    "ConfigError",
    "OutputExistsError",
    "SessionError",
    "V1FormerError",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = import_module(_LAZY[name])
    return module if name == "metrics" else getattr(module, name)
