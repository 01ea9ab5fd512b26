"""Exception families. Each carries a one-line message: what went wrong, where, and what to do.

The CLI turns any of these into that line on stderr and a non-zero exit, never a traceback.
"""


class V1FormerError(Exception):
    """Base of every error a user can fix by changing their input or options."""


class ConfigError(V1FormerError):
    """An option or configuration value is invalid (unknown key, out-of-range value)."""


class SessionError(V1FormerError):
    """An NWB file or session cannot be used (not NWB 2, no responses, no stimulus, ...)."""


class OutputExistsError(V1FormerError):
    """The output path exists and the user did not ask to overwrite it."""


class CheckpointError(V1FormerError):
    """A checkpoint cannot be loaded or imported (wrong format, different architecture, damaged file)."""


class SourceError(V1FormerError):
    """A SOURCE cannot be resolved or fetched (bad SOURCE, unknown dandiset or version, failed download)."""
