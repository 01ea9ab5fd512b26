"""Where sessions come from: local NWB files and folders, DANDI (`sources.dandi`), and sources that are
not NWB yet (Sensorium, through `sources.sensorium`), each becoming an NWB file the one reader reads.

`resolve_sources` turns the SOURCE arguments of every command into the files to read.
"""

from nwb_v1former.sources.resolve import ResolvedSource, local_sources, resolve_sources

__all__ = ["ResolvedSource", "local_sources", "resolve_sources"]
