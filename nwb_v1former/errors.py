"""Exception families. Each carries a one-line message: what went wrong, where, and what to do.

The CLI turns any of these into that line on stderr and a non-zero exit, never a traceback. The place
and the problem are kept apart (`where`, `problem`), so a caller that knows a better name for the place
(the user's file rather than a temporary copy) changes the field, never the text.
"""

from typing import Self


class V1FormerError(Exception):
    """Base of every error a user can fix by changing their input or options.

    `str()` is `"{where}: {problem}"`, or the problem alone when no place is named. `where` is anything
    that names a place in a message (a path, a remote file, a series inside a file), kept as its text.
    """

    def __init__(self, problem: str, *, where: object = None) -> None:
        self.problem = problem
        self.where = None if where is None else str(where)
        super().__init__(problem if self.where is None else f"{self.where}: {problem}")

    def at(self, where: object) -> Self:
        """The same error placed at `where` instead (e.g. the user's file for a temporary copy of it)."""
        return type(self)(self.problem, where=where)

    def within(self, where: object) -> Self:
        """The error as seen from `where`: itself when placed there already, else its whole message as
        the problem at `where` (a series' problem becomes one of the file that holds it)."""
        return self if self.where == str(where) else type(self)(str(self), where=where)


class ConfigError(V1FormerError):
    """An option or configuration value is invalid (unknown key, out-of-range value)."""


class SessionError(V1FormerError):
    """An NWB file or session cannot be used (not NWB 2, no responses, no stimulus, ...)."""


class MissingDataError(SessionError):
    """A file lacks what a session needs (a usable stimulus movie, ROI responses): in a collection such
    as a dandiset it is skipped with one line rather than stopping the run."""


class OutputExistsError(V1FormerError):
    """The output path exists and the user did not ask to overwrite it."""


class CheckpointError(V1FormerError):
    """A checkpoint cannot be loaded or imported (wrong format, different architecture, damaged file)."""


class SourceError(V1FormerError):
    """A SOURCE cannot be resolved or fetched (bad SOURCE, unknown dandiset or version, failed download)."""


class OutputError(V1FormerError):
    """An output cannot be written (read-only folder, immutable file, disk full, file size limit)."""


class TrainingError(V1FormerError):
    """Training cannot go on (e.g. a non-finite loss): stopped, with what to try."""


DETAIL_CHARACTERS = 120
"""How much of a foreign library's message (pynwb, h5py, torch, dandi) goes into our one line."""


def one_line(text: str, limit: int = DETAIL_CHARACTERS) -> str:
    """The first line of `text`, cut to `limit` characters."""
    lines = str(text).strip().splitlines()
    first = lines[0].strip() if lines else ""
    return first if len(first) <= limit else first[: limit - 3].rstrip() + "..."


def detail(error: BaseException, limit: int = DETAIL_CHARACTERS) -> str:
    """`Type: first line` of a foreign exception, cut to `limit` characters: builder dumps and advice
    paragraphs that libraries append stay out of the one line the user sees."""
    message = str(error).strip()
    return one_line(f"{type(error).__name__}: {message}" if message else type(error).__name__, limit)
