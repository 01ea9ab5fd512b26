"""The ndx-v1former NWB extension: its spec (shipped in the package) loaded at import, and its classes.

`V1FormerModel` records which model made predictions (checkpoint digest, config, training data,
evaluation); `PredictedRoiResponseSeries` is a RoiResponseSeries of predictions linking to it;
`PredictionSource` names the file a copy or a predictions-only file was made from. Files carry the
spec, so any pynwb reader opens them without nwb-v1former.
"""

from __future__ import annotations

from importlib.resources import as_file, files

from pynwb import get_class, load_namespaces

NAMESPACE = "ndx-v1former"

with as_file(files("nwb_v1former.nwb.spec") / f"{NAMESPACE}.namespace.yaml") as _namespace_path:
    load_namespaces(str(_namespace_path))

V1FormerModel = get_class("V1FormerModel", NAMESPACE)
PredictedRoiResponseSeries = get_class("PredictedRoiResponseSeries", NAMESPACE)
PredictionSource = get_class("PredictionSource", NAMESPACE)

__all__ = ["NAMESPACE", "PredictedRoiResponseSeries", "PredictionSource", "V1FormerModel"]
