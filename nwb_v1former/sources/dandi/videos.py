"""The external video files an NWB asset's stimulus may be kept in, as assets of its dandiset version.

An NWB file may keep a movie outside itself: `ImageSeries(format="external", external_file=[path])`,
the path relative to the file. `dandi organize` puts such videos beside the NWB asset
(`<folder>/<nwb stem>/<object id>_external_file_<k>.<ext>`) and writes that path into the file, so the
videos are assets too. Which ones the stimulus may need is the reader's call (`referenced_videos`,
which leaves cameras' videos out).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from pathlib import Path

import h5py
from dandi.dandiapi import RemoteDandiset

from nwb_v1former.errors import SourceError
from nwb_v1former.nwb.external_video import referenced_videos
from nwb_v1former.nwb.remote import RemoteFile, open_remote
from nwb_v1former.sources.dandi.archive import asset_at, describe
from nwb_v1former.sources.dandi.asset import DandiAsset
from nwb_v1former.sources.dandi.cache import is_inside
from nwb_v1former.sources.dandi.reference import DandiRef


def video_assets(
    dandiset: RemoteDandiset,
    ref: DandiRef,
    asset: DandiAsset,
    file: Path | RemoteFile,
    on_note: Callable[[str], None],
) -> list[tuple[str, DandiAsset]]:
    """(path as written in the NWB file, the video's asset) for each external video the stimulus of
    `asset` (an .nwb file, downloaded or read in place as `file`) may need.

    A video the version lacks is told to `on_note` and left out: the reader refuses the session where
    (and only where) it needs that movie, so a file that is unusable anyway, or read with another movie,
    does not stop the dandiset. A path naming no place inside the dandiset is a SourceError instead.
    """
    found = []
    for written in _written_videos(file):
        path = _asset_path(asset, written)
        video = asset_at(dandiset, path, ref)
        if video is None:
            on_note(
                f"{asset}: its stimulus may be in the external video {written!r}, but version "
                f"{asset.version} has no asset {path}; it is not fetched, and reading a movie from it "
                "will fail"
            )
            continue
        found.append((written, describe(video, dandiset, ref)))
    return found


def _written_videos(file: Path | RemoteFile) -> list[str]:
    """The external video paths the reader may take the stimulus from, as the NWB file writes them."""
    try:
        if isinstance(file, RemoteFile):
            with open_remote(file) as reader, h5py.File(reader, "r") as handle:
                return referenced_videos(handle)
        with h5py.File(file, "r") as handle:
            return referenced_videos(handle)
    except OSError:  # not an HDF5 file: the reader refuses it with its own line, and it names no video
        return []


def _asset_path(asset: DandiAsset, written: str) -> str:
    """The asset path an external file's path names (relative to the NWB asset's folder).

    SourceError for an absolute path, a URL or a path climbing out of the dandiset: nothing there can be
    fetched and checked, and a file read from such a place (on this machine, or elsewhere in the cache)
    may be another movie.
    """
    relative = not (written.startswith("/") or "://" in written or re.match(r"[A-Za-z]:", written))
    path = posixpath.normpath(posixpath.join(posixpath.dirname(asset.path), written)) if relative else ""
    if not is_inside(path):
        raise SourceError(
            f"its stimulus may be in the external video {written!r}, which names no file inside the "
            "dandiset (an absolute path, a URL or a path leaving it), so it cannot be fetched and checked; "
            "select other assets with a path or glob, or ask the dandiset's owners to run `dandi organize`",
            where=asset,
        )
    return path
