"""Stimulus movies kept in external video files: `ImageSeries(format="external", external_file=[...],
starting_frame=[...])`, as NWB best practice and neuroconv's ExternalVideoInterface write them.

The files are found relative to the NWB file (where `dandi organize` puts them: `<nwb stem>/<object
id>_external_file_<k>.<ext>`), or among the files a streamed NWB file has `beside` it, and decoded
with PyAV (FFmpeg's libraries in a wheel) one frame after another, never loaded whole.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import h5py

from nwb_v1former.errors import SessionError
from nwb_v1former.nwb.movie_place import place_of
from nwb_v1former.nwb.remote import RemoteFile

VideoFile = Path | RemoteFile
"""Where one external video file is read from."""
_IMAGE_SERIES = {"ImageSeries", "OpticalSeries"}


def referenced_videos(handle: h5py.File) -> list[str]:
    """The external files, as written, of every image series in an open NWB (HDF5) file that the
    reader may take for the stimulus (cameras' videos left out: see `movie_place.place_of`), in file
    order. What a dandiset source must fetch beside the NWB asset."""
    found: list[str] = []

    def visit(path: str, item: h5py.HLObject) -> None:
        kind = item.attrs.get("neurodata_type")
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if not isinstance(item, h5py.Group) or kind not in _IMAGE_SERIES or "external_file" not in item:
            return
        description = item.attrs.get("description", "")
        description = description.decode() if isinstance(description, bytes) else str(description)
        if place_of(PurePosixPath(path).name, description, "/" + path) == "camera":
            return
        for name in item["external_file"][()]:
            written = name.decode() if isinstance(name, bytes) else str(name)
            if written not in found:
                found.append(written)

    handle.visititems(visit)
    return found


def resolve_video(nwb: Path | RemoteFile, written: str) -> VideoFile:
    """Where the external file `written` (as the NWB file names it) is: relative to a local NWB file's
    folder (absolute paths as they are), or among a streamed file's `beside`. SessionError when absent."""
    if isinstance(nwb, RemoteFile):
        for name, remote in nwb.beside:
            if name == written:
                return remote
        raise SessionError(
            f"its external video file {written!r} is not among the dandiset's assets beside it; "
            "the movie the animal saw cannot be read",
            where=nwb,
        )
    path = Path(written)
    path = path if path.is_absolute() else nwb.parent / path
    if not path.is_file():
        raise SessionError(
            f"its external video file {written!r} is missing (looked for {path}); put the video where "
            "the NWB file says, relative to the NWB file",
            where=nwb,
        )
    return path
